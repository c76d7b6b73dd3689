"""Serving: the README's command listens on loopback only; the group deployment refuses strangers.

Both start ``panel serve app/main.py`` on a free loopback port and talk HTTP to
it (no browser): no request here creates a dashboard session, so the app's
code never runs and each server is up in seconds.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shlex
import socket
import urllib.parse
from pathlib import Path

import pytest
from bokeh.util.token import generate_session_id

from .serving import ROOT, listening, panel_serve

SECRET_KEY = "k" * 44
PASSWORD = "correct-horse-battery-staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(args: list[str], port: int, tmp_path: Path, env: dict[str, str] | None = None):
    """``panel serve app/main.py *args``, ready once ``port`` accepts connections."""
    return panel_serve(["app/main.py", *args], tmp_path / f"serve-{port}.log", lambda: listening(port), env=env)


def _request(port: int, method: str, path: str, body: str | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode(errors="replace")
    finally:
        connection.close()


def _listeners(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (Linux /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(address)
    return found


def _readme_serve_args() -> list[str]:
    """The arguments of ``panel serve app/main.py`` in the README's first command."""
    match = re.search(r"python3 -m panel serve app/main\.py([^\n&|;`]*)", (ROOT / "README.md").read_text())
    assert match, "the README's first command no longer serves app/main.py"
    return shlex.split(match.group(1))


def _redirect(headers, path: str) -> str:
    """The path a redirect from ``path`` leads to (Panel answers with relative locations)."""
    return urllib.parse.urlsplit(urllib.parse.urljoin(f"http://host{path}", headers["Location"])).path


def _websocket_upgrade(port: int, origin: str, query: str = "") -> int:
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": origin}  # fmt: skip
    return _request(port, "GET", f"/main/ws{query}", headers=headers)[0]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_the_readme_command_listens_on_loopback_only(tmp_path):
    args = _readme_serve_args()
    assert args[args.index("--address") + 1] == "127.0.0.1"
    port = _free_port()
    args = [arg.replace("5006", str(port)) for arg in args]
    assert args[args.index("--port") + 1] == str(port)
    with _serve(args, port, tmp_path):
        assert _listeners(port) == {"0100007F"}  # 127.0.0.1 only: neither 0.0.0.0 nor ::
        assert _websocket_upgrade(port, "http://evil.example") == 403  # a page elsewhere cannot connect


def test_the_group_deployment_refuses_strangers_and_forged_session_ids(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"alice": PASSWORD}))
    port = _free_port()
    args = [
        "--address", "127.0.0.1", "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}",
        "--basic-auth", str(users), "--cookie-secret", "c" * 44, "--session-ids", "signed",
    ]  # fmt: skip
    env = {"BOKEH_SECRET_KEY": SECRET_KEY, "BOKEH_SIGN_SESSIONS": "yes"}
    forged = [
        "attacker-chosen-id",
        generate_session_id(signed=False),  # well-formed but unsigned
        generate_session_id(secret_key="x" * 44, signed=True),  # signed with another key
    ]
    with _serve(args, port, tmp_path, env):
        # unauthenticated: sent to the login page, with or without a session id
        for path in ["/main", *(f"/main?bokeh-session-id={sid}" for sid in forged)]:
            status, headers, _ = _request(port, "GET", path)
            assert status == 302 and _redirect(headers, path) == "/login", path
        assert _websocket_upgrade(port, f"http://127.0.0.1:{port}") != 101
        # a wrong password does not log in
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, headers, _ = _request(port, "POST", "/login", "username=alice&password=guess", form)
        assert status == 302 and "error" in headers["Location"] and "Set-Cookie" not in headers
        # logged in, a session id the server did not sign is still refused
        status, headers, _ = _request(port, "POST", "/login", f"username=alice&password={PASSWORD}", form)
        assert status == 302 and _redirect(headers, "/login") == "/"
        cookies = "; ".join(cookie.split(";")[0] for cookie in headers.get_all("Set-Cookie"))
        assert "user=" in cookies
        for sid in forged:
            status, _, body = _request(port, "GET", f"/main?bokeh-session-id={sid}", headers={"Cookie": cookies})
            assert status == 403, (sid, status, body[:200])
