"""Reproduction verdicts (landscape.verdicts)."""

import math

import pytest

from landscape import verdicts


def test_verdicts_follow_tolerance_then_two_standard_errors():
    assert verdicts.verdict(0.80, 0.80, tol=0.0) == "reproduced"
    assert verdicts.verdict(0.74, 0.80, se=0.04) == "within error"  # 0.06 ≤ 2·0.04
    assert verdicts.verdict(0.60, 0.80, se=0.04, reason="LSMR") == "not reproduced: LSMR"
    assert verdicts.verdict(math.nan, 0.8, tol=1.0).startswith("not reproduced")
    assert verdicts.binomial_se(0.8, 100) == pytest.approx(0.04)


def test_table_has_the_five_columns_and_rejects_short_rows():
    frame = verdicts.table([("x", 1, 1, "full", "reproduced")])
    assert list(frame.columns) == list(verdicts.COLUMNS)
    with pytest.raises(ValueError, match="5 fields"):
        verdicts.table([("x", 1, 1)])
