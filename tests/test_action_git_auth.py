"""The scripts that push (commit-ledger.sh, retrain.sh) authenticate git with their own token, once.

In a user's job whose actions/checkout kept its credentials, the checkout's header for the
server is already in the repository's config. git is pointed at a 127.0.0.1 server that
records the Authorization headers of its first request (GitHub answers two of them with
400 "Duplicate header"; a URL-less `http.extraheader` loses to the checkout's URL-specific one).
"""

from __future__ import annotations

import base64
import http.server
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import REPO_ROOT

GIT_AUTH = REPO_ROOT / "actions" / "common" / "git-auth.sh"


def basic(token: str) -> str:
    return "basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


@pytest.fixture
def recorder():
    """A server on 127.0.0.1 that records every request's Authorization headers and answers 404."""
    seen: list[list[str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            seen.append(self.headers.get_all("Authorization") or [])
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def clone_like_checkout(tmp_path: Path, server: str, persisted: str | None) -> Path:
    """A repository whose origin is ``server``, with the header actions/checkout persists (if any)."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", f"{server}/owner/repo.git"], check=True)
    if persisted:
        subprocess.run(["git", "-C", str(repo), "config", f"http.{server}/.extraheader",
                        f"AUTHORIZATION: {basic(persisted)}"], check=True)
    return repo


@pytest.mark.parametrize("persisted", [None, "the-checkouts-token"], ids=["no-persisted-credentials", "persisted"])
def test_git_sends_exactly_the_scripts_token_whatever_the_checkout_persisted(tmp_path, recorder, persisted):
    server, seen = recorder
    repo = clone_like_checkout(tmp_path, server, persisted)
    script = f'source "{GIT_AUTH}"; git_auth "the-input-token"; git ls-remote origin'
    done = subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
                               "GITHUB_SERVER_URL": server, "GIT_TERMINAL_PROMPT": "0"})
    assert done.returncode != 0, "the recorder answers 404"
    assert seen and seen[0] == [f"AUTHORIZATION: {basic('the-input-token')}".partition(": ")[2]], seen
    assert f"::add-mask::{basic('the-input-token').split()[1]}" in done.stdout
    assert "the-input-token" not in (repo / ".git" / "config").read_text()


@pytest.mark.parametrize("script", ["pr/commit-ledger.sh", "drift/retrain.sh"])
def test_the_pushing_scripts_authenticate_only_through_git_auth(script):
    text = (REPO_ROOT / "actions" / script).read_text()
    assert 'source "$GITHUB_ACTION_PATH/../common/git-auth.sh"' in text and "git_auth " in text
    assert "extraheader" not in text and " -c http." not in text
