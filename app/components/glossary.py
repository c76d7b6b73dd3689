"""The words a researcher meets in the views, defined once, with their source in the seed papers.

:data:`TERMS` maps a key to a :class:`Term` (name, definition in Markdown
with the formula, citation); :func:`glossary` is the collapsed "Terms used
here" card a view shows under its description (``BaseView.glossary_terms``
lists the keys).  Each definition cites its seed paper by section, equation
or algorithm: Frye (2020, critical and gradient-flat points), Parker-Holder
et al. (2020, Ridge Rider) and Lorraine (2024, games and Lyapunov exponents).
"""

from __future__ import annotations

import dataclasses

import panel as pn


@dataclasses.dataclass(frozen=True)
class Term:
    name: str
    definition: str
    source: str


FRYE = "Frye, *Finding critical and gradient-flat points of deep network loss functions* (2020)"
RIDGE_RIDER = "Parker-Holder et al., *Ridge Rider* (NeurIPS 2020)"
LORRAINE = "Lorraine, *Scalable nested optimization for deep learning* (2024)"

TERMS: dict[str, Term] = {
    "index": Term(
        "index",
        "The fraction of the Hessian's eigenvalues that are negative, I(θ) = #{λᵢ < −10⁻⁵}/N: "
        "0 at a minimum, 1 at a maximum, strictly between at a saddle.",
        f"{FRYE}, Def. 1.6, eq. 1.20; cutoff §3.2.3.1",
    ),
    "r": Term(
        "r (gradient-flatness)",
        "The relative residual of the Newton system Hp = −g solved by MINRES-QLP, "
        "r = ‖Hp + g‖ / (‖H‖_F‖p‖ + ‖g‖), between 0 and 1. r > 0.9 with ‖∇L‖² above the critical cutoff marks a "
        "gradient-flat point (gold): most of the gradient lies in the Hessian's kernel.",
        f"{FRYE}, §3.4.3, eq. 3.36",
    ),
    "r_H": Term(
        "r_H (co-kernel residual)",
        "r_H = ‖H(Hp + g)‖ / (‖H‖_F‖Hp + g‖): small when what is left of the gradient lies along the "
        "eigenvalues of smallest magnitude; MINRES-QLP stops when r or r_H falls below 5·10⁻⁴.",
        f"{FRYE}, §3.4.3, eq. 3.37",
    ),
    "mis": Term(
        "MIS (maximally invariant saddle)",
        "The starting point of Ridge Rider: the saddle of least gradient norm that every symmetry of the problem "
        "leaves fixed (found by minimising ‖∇L‖, with an entropy bonus in RL). There equivalent directions have "
        "equal eigenvalues, so one ridge per distinct eigenvalue is enough.",
        f"{RIDGE_RIDER}, §3 and App. D.7",
    ),
    "fingerprint": Term(
        "Ψ (fingerprint)",
        "The list of eigenvector indices chosen at each branching point on the way to a solution θ^Ψ; "
        "it names the solution up to repeated eigenvalues, e.g. Ψ = [0, 2].",
        f"{RIDGE_RIDER}, §3 (Algorithm 1)",
    ),
    "cross_play": Term(
        "cross-play",
        "How well two independently found policies coordinate: J(π₁ of run a, π₂ of run b), the payoff when player 1 "
        "plays run a's solution and player 2 run b's. Averaged over all pairs of runs per fingerprint; the "
        "fingerprint with the highest average is deployed (zero-shot coordination).",
        f"{RIDGE_RIDER}, §3 (Algorithm 3) and App. C.2",
    ),
    "delta_break": Term(
        "δ_break",
        "A ride ends when the overlap e·e′ between the followed eigenvector and its previous value drops below "
        "δ_break (0.95 in the paper's tree experiment): the ridge has turned too sharply to follow.",
        f"{RIDGE_RIDER}, §3 (EndRide) and App. D",
    ),
    "lr_e": Term(
        "LR_e",
        "The step size of the gradient steps that update the followed eigenvector e (and LR_λ its eigenvalue) "
        "along a ride in scalable Ridge Rider, which never forms the Hessian.",
        f"{RIDGE_RIDER}, Algorithm 2 (scalable RR), line 21",
    ),
    "rho": Term(
        "ρ (convergence rate)",
        "The spectral radius of the optimizer's Jacobian at a fixed point, ρ(∇F); below 1 the iterates converge "
        "linearly at rate ρ, and the smaller ρ the faster. The heat map shows ρ over the complex momentum "
        "β = |β|·e^{i·arg β}.",
        f"{LORRAINE}, Ch. 4 (Theorem 3, Fig. 4.3)",
    ),
    "lyapunov": Term(
        "Lyapunov exponent (k-step)",
        "How fast two nearby optimizer trajectories separate: λ̂ₖ = (1/k)·Σⱼ log(dᵀ(Jʲ⁻¹)ᵀJʲ⁻¹d) over k steps "
        "from ω₀ in direction d. Positive where the dynamics diverge (near a bifurcation), negative inside a "
        "basin of attraction.",
        f"{LORRAINE}, Ch. 5, eqs. 5.8–5.9",
    ),
}


def glossary(keys) -> pn.Card:
    """A collapsed card defining the terms ``keys`` (each a key of :data:`TERMS`), with their sources."""
    unknown = [key for key in keys if key not in TERMS]
    if unknown:
        raise ValueError(f"no glossary term {', '.join(map(repr, unknown))}; known: {', '.join(TERMS)}")
    lines = [f"- **{TERMS[key].name}**: {TERMS[key].definition} *({TERMS[key].source})*" for key in keys]
    return pn.Card(
        pn.pane.Markdown("\n".join(lines), sizing_mode="stretch_width", margin=(0, 10)),
        title="Terms used here", collapsed=True, sizing_mode="stretch_width", margin=(0, 10, 5, 10),
    )  # fmt: skip
