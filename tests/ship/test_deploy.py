"""`mlship deploy`, `rollback`, `serve` and `stop`: released versions brought to a stage, with real BentoML.

One repository is built for the module: the churn model merged, released as v0.1.0, then
changed, merged and released as v0.1.1, with both archives in the local registry. Each test
deploys on its own copy of it; servers are real `bentoml serve` processes on 127.0.0.1,
and every one a test leaves behind is stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest
import requests

from mlship.project import Project
from mlship.ship import packaging, serving
from churn_repos import gto, hermetic, mlship, ok, review, reviewed_churn
from repo_helpers import git

ROW = {"age": 40, "income": 61.5, "plan": "premium", "region": "north"}


def deployed(root: Path, *args: str) -> dict:
    return json.loads(ok(mlship(root, "deploy", "churn", "--stage", "prod", "--json", *args)).stdout)


def served_metadata(url: str) -> dict:
    answer = requests.post(f"{url}/metadata", json={}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def predict(url: str) -> dict:
    answer = requests.post(f"{url}/predict_proba", json={"records": [ROW]}, timeout=30)
    answer.raise_for_status()
    return answer.json()[0]


def state(root: Path) -> dict:
    return json.loads((root / ".mlship/deploy/prod/churn.json").read_text())


def tag_names(root: Path) -> list[str]:
    return git(root, "tag", "--list").split()


# --- the released project, shared by the module ---------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A repository with churn v0.1.0 and v0.1.1 released to the local registry, on main."""
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        root = tmp_path_factory.mktemp("deploy") / "project"
        root.mkdir()
        reviewed_churn(root, ignore="deploy/\n")
        ok(mlship(root, "release", "churn"))
        review(root, "{max_iter: 1000, C: 0.05}")
        ok(mlship(root, "release", "churn"))
        yield root


@pytest.fixture
def project(released: Path, factory) -> Iterator[Project]:
    """This test's copy of the released project; the servers its deploys start are stopped afterwards."""
    shutil.copytree(released, factory.root, symlinks=True, dirs_exist_ok=True)
    yield factory.project
    for path in (factory.root / ".mlship" / "deploy").glob("*/*.json"):
        serving.terminate(serving.marked(str(path)))


def fingerprints(root: Path) -> dict[str, str]:
    registry = json.loads(ok(mlship(root, "history", "churn", "--json")).stdout)
    return {e["version"]: e["fingerprint"] for e in registry["events"] if e["event"] == "registration"}


def stages(root: Path) -> dict[str, str]:
    return json.loads(ok(mlship(root, "history", "churn", "--json")).stdout)["stages"]


# --- deploy to the local target --------------------------------------------------------------


def test_deploy_serves_the_version_on_loopback_and_then_records_the_assignment_tag(project):
    root = project.root
    result = deployed(root, "--version", "v0.1.0")
    assert result["url"].startswith("http://127.0.0.1:") and result["assignment"] == "churn#prod#1"
    assert result["assigned"] is True and result["changed"] is True and result["previous"] is None
    metadata = served_metadata(result["url"])
    assert metadata["release"] == "v0.1.0" and metadata["fingerprint"] == fingerprints(root)["v0.1.0"]
    assert set(predict(result["url"])) == {"no", "yes"}
    assert git(root, "cat-file", "-t", "churn#prod#1").strip() == "tag"
    assert git(root, "rev-parse", "churn#prod#1^{commit}") == git(root, "rev-parse", "churn@v0.1.0^{commit}")
    assert "note" not in git(root, "for-each-ref", "--format=%(contents)", "refs/tags/churn#prod#1")
    remembered = state(root)
    assert remembered["version"] == "v0.1.0" and remembered["server"]["url"] == result["url"]
    assert psutil.Process(remembered["server"]["pid"]).is_running()
    assert stages(root) == {"prod": "v0.1.0"}


def test_a_new_version_replaces_the_old_server_once_it_is_ready(project):
    root = project.root
    first = deployed(root, "--version", "v0.1.0")
    old_pid = state(root)["server"]["pid"]
    second = deployed(root)  # the latest: v0.1.1
    assert second["version"] == "v0.1.1" and second["previous"] == "v0.1.0"
    assert second["assignment"] == "churn#prod#2" and second["url"] != first["url"]
    assert served_metadata(second["url"])["release"] == "v0.1.1"
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{first['url']}/readyz", timeout=5)
    assert state(root)["version"] == "v0.1.1" and not (root / ".mlship/deploy/prod/churn-v0.1.0.bentoml").exists()


def test_deploying_the_current_version_again_changes_nothing(project):
    root = project.root
    first = deployed(root)
    pid, tags = state(root)["server"]["pid"], tag_names(root)
    again = ok(mlship(root, "deploy", "churn", "--stage", "prod"))
    assert again.stdout.startswith(f"✅ churn v0.1.1 is already in prod ({first['url']}); nothing to do")
    assert state(root)["server"]["pid"] == pid and tag_names(root) == tags


def test_a_new_server_that_fails_to_start_leaves_the_old_one_serving_and_makes_no_tag(project):
    root = project.root
    first = deployed(root, "--version", "v0.1.0")
    before, tags = state(root), tag_names(root)
    # v0.1.1's model is damaged in the BentoML store: its bento imports, but the service cannot load it.
    broken = json.loads(ok(mlship(root, "history", "churn", "--json")).stdout)
    bento = next(e for e in broken["events"] if e["version"] == "v0.1.1")["fields"]["bento"]
    archive = root / "dist" / (bento.replace(":", "-") + ".bento")
    from mlship.ship.packaging import import_archive

    home = root / ".mlship/deploy/prod/churn-v0.1.1.bentoml"
    import_archive(archive, home)
    (model_file,) = (home / "models/churn").glob(f"{fingerprints(root)['v0.1.1'][:16]}/model.pkl")
    model_file.write_bytes(b"not a pickle")
    failed = mlship(root, "deploy", "churn", "--stage", "prod", "--ready-timeout", "15")
    assert failed.exit_code == 2
    assert f"error: {bento} was not ready after 15 s" in failed.stderr
    assert "The end of its log" in failed.stderr
    assert served_metadata(first["url"])["release"] == "v0.1.0"
    assert state(root) == before and tag_names(root) == tags and stages(root) == {"prod": "v0.1.0"}
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if bento in (p.info["cmdline"] or [])]
    assert leftovers == [] and not home.exists()


def test_a_port_in_use_is_refused_before_anything_starts(project):
    root = project.root
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        failed = mlship(root, "deploy", "churn", "--stage", "prod", "--port", str(port))
    assert failed.exit_code == 2 and f"port {port} on 127.0.0.1 is in use" in failed.stderr
    assert tag_names(root) == ["churn@v0.1.0", "churn@v0.1.1"]


def test_an_unknown_version_or_a_model_never_released_cannot_be_deployed(project):
    root = project.root
    unknown = mlship(root, "deploy", "churn", "--stage", "prod", "--version", "v9.9.9")
    assert unknown.exit_code == 2 and "churn has no version v9.9.9 (versions: v0.1.0, v0.1.1)" in unknown.stderr
    never = mlship(root, "deploy", "houses", "--stage", "prod")
    assert never.exit_code == 2 and "houses has no released version to deploy" in never.stderr


# --- rollback ----------------------------------------------------------------------------------


def test_rollback_restores_the_previous_version_with_a_new_assignment(project):
    root = project.root
    deployed(root, "--version", "v0.1.0")
    deployed(root, "--version", "v0.1.1")
    back = json.loads(ok(mlship(root, "rollback", "churn", "--stage", "prod", "--json")).stdout)
    assert back["version"] == "v0.1.0" and back["previous"] == "v0.1.1" and back["assignment"] == "churn#prod#3"
    metadata = served_metadata(back["url"])
    assert metadata["release"] == "v0.1.0" and metadata["fingerprint"] == fingerprints(root)["v0.1.0"]
    assert "note: rollback from v0.1.1 to v0.1.0" in git(root, "for-each-ref", "--format=%(contents)",
                                                           "refs/tags/churn#prod#3")
    assert stages(root) == {"prod": "v0.1.0"}
    assert "prod" in gto(root, "show", "churn@v0.1.0") or "v0.1.0" in gto(root, "show", "churn#prod")
    history = ok(mlship(root, "history", "churn")).stdout
    assert "rollback from v0.1.1 to v0.1.0" in history


def test_rollback_to_a_given_version_and_refusals(project):
    root = project.root
    nothing = mlship(root, "rollback", "churn", "--stage", "prod")
    assert nothing.exit_code == 2 and "churn has no version in prod, so there is nothing to roll back" in nothing.stderr
    deployed(root, "--version", "v0.1.1")
    alone = mlship(root, "rollback", "churn", "--stage", "prod")
    assert alone.exit_code == 2 and "no earlier version assigned to prod" in alone.stderr
    same = mlship(root, "rollback", "churn", "--stage", "prod", "--to", "v0.1.1")
    assert same.exit_code == 2 and "v0.1.1 is already the version in prod" in same.stderr
    back = json.loads(ok(mlship(root, "rollback", "churn", "--stage", "prod", "--to", "0.1.0", "--json")).stdout)
    assert back["version"] == "v0.1.0" and served_metadata(back["url"])["release"] == "v0.1.0"


def test_rollback_refuses_a_stored_archive_that_does_not_match_its_digest(project):
    root = project.root
    deployed(root, "--version", "v0.1.0")
    second = deployed(root, "--version", "v0.1.1")
    tags = tag_names(root)
    (archive,) = (root / ".mlship/registry/churn/v0.1.0").glob("*.bento")
    archive.write_bytes(archive.read_bytes()[:-10] + b"tampered!!")
    refused = mlship(root, "rollback", "churn", "--stage", "prod")
    assert refused.exit_code == 2 and archive.name in refused.stderr and "SHA-256" in refused.stderr
    assert tag_names(root) == tags and served_metadata(second["url"])["release"] == "v0.1.1"


# --- serve, stop, and the kubernetes target -------------------------------------------------------


def test_serve_runs_the_stages_version_in_the_foreground(project):
    root = project.root
    deployed(root, "--version", "v0.1.0")
    port = serving.free_port()
    log = root / "serve.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "mlship", "-C", str(root), "serve", "churn", "--stage",
                                    "prod", "--port", str(port)], stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = serving.Server(process.pid, port, "", str(log))
    try:
        deadline = time.monotonic() + 120
        while not serving.is_ready(server):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        assert served_metadata(server.url)["release"] == "v0.1.0"
        assert tag_names(root) == ["churn#prod#1", "churn@v0.1.0", "churn@v0.1.1"]
    finally:
        serving.stop(server)
    assert mlship(root, "serve", "churn", "--stage", "staging").exit_code == 2


def test_stop_stops_the_stages_local_server(project):
    root = project.root
    result = deployed(root)
    pid = state(root)["server"]["pid"]
    assert ok(mlship(root, "stop", "churn", "--stage", "prod")).stdout.startswith("⏹️  churn v0.1.1 in prod: stopped")
    assert not (root / ".mlship/deploy/prod/churn.json").exists()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{result['url']}/readyz", timeout=5)
    assert ok(mlship(root, "stop", "churn", "--stage", "prod")).stdout == "churn: no local server of prod to stop\n"
    assert stages(root) == {"prod": "v0.1.1"}


def test_the_kubernetes_target_writes_the_manifests_and_refuses_an_image_it_cannot_build(project, tmp_path):
    root = project.root
    manifest = root / "deploy/prod/churn.yaml"
    no_docker = tmp_path / "no-docker"
    no_docker.mkdir()
    (no_docker / "docker").write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    (no_docker / "docker").chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{no_docker}{os.pathsep}{os.environ['PATH']}")
        refused = mlship(root, "deploy", "churn", "--stage", "prod", "--target", "kubernetes", "--image-registry",
                         "ghcr.io/acme", "--build-image")
    assert refused.exit_code == 2, refused.stderr
    assert refused.stderr.startswith("error: --build-image: the image ghcr.io/acme/churn:")
    assert "no Docker daemon answers here; nothing was deployed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "churn#prod#1" not in tag_names(root) and not manifest.exists()
    result = deployed(root, "--target", "kubernetes", "--image-registry", "ghcr.io/acme")
    assert result["manifest"] == str(manifest) and result["assignment"] == "churn#prod#1"
    text = manifest.read_text()
    assert f'image: "{result["image"]}"' in text and result["image"].startswith("ghcr.io/acme/churn:")
    assert "app.kubernetes.io/version: \"v0.1.1\"" in text and fingerprints(root)["v0.1.1"] in text
    again = deployed(root, "--target", "kubernetes", "--image-registry", "ghcr.io/acme")
    assert again["changed"] is False and again["assigned"] is False
    missing = mlship(root, "deploy", "churn", "--stage", "prod", "--target", "kubernetes")
    assert missing.exit_code == 2 and "--image-registry" in missing.stderr


#: A Docker CLI stand-in: every command succeeds and is logged, a build keeps the Dockerfile it was given,
#: and `inspect` gives the pushed image's digest.
FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "{log}"
case "$1" in
  version) echo '"27.3.1"' ;;
  inspect) echo '["{repository}@sha256:{digest}"]' ;;
esac
while [ $# -gt 0 ]; do
  case "$1" in --file|-f) cp "$2" "{log}.Dockerfile" ;; esac
  shift
done
exit 0
"""


def test_a_pushed_image_is_named_by_its_registry_digest_in_the_manifests(project, tmp_path):
    root = project.root
    bin_dir, log, digest = tmp_path / "bin", tmp_path / "docker.log", "ab" * 32
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(log=log, repository="ghcr.io/acme/churn", digest=digest))
    (bin_dir / "docker").chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        result = deployed(root, "--target", "kubernetes", "--image-registry", "ghcr.io/acme", "--push-image")
    tagged = f"ghcr.io/acme/{result['bento'].lower()}"
    assert result["image"] == f"{tagged}@sha256:{digest}"
    assert f'image: "{tagged}@sha256:{digest}"' in (root / "deploy/prod/churn.yaml").read_text()
    assert f"push {tagged}" in log.read_text().splitlines()
    assert result["messages"] == [f"built and pushed the image {tagged}@sha256:{digest}"]
    built = Path(f"{log}.Dockerfile").read_text()
    assert f"FROM python:{'.'.join(map(str, sys.version_info[:3]))}-slim-bookworm" in built
    assert "RUN pip install --no-cache-dir uv==" in built


def test_deploy_with_push_fetches_the_shared_tags_and_pushes_the_assignment(project, tmp_path):
    root = project.root
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main", "churn@v0.1.0", "churn@v0.1.1")
    result = deployed(root, "--target", "kubernetes", "--image-registry", "ghcr.io/acme", "--push")
    assert result["pushed"] is True
    assert "churn#prod#1" in git(origin, "tag", "--list").split()
    git(origin, "tag", "-d", "churn#prod#1")  # as if the push had failed
    again = deployed(root, "--target", "kubernetes", "--image-registry", "ghcr.io/acme", "--push")
    assert again["assigned"] is False and again["pushed"] is True
    assert "churn#prod#1" in git(origin, "tag", "--list").split()


# --- supervised processes: signals, kills, orphans, locks, hostile state ---------------------------

#: `mlship` run in a process of its own, killed with SIGKILL at a chosen point of a deploy.
KILLED_AT = """
import os, signal, sys
from mlship.ship import deploy, registry

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[1] == "server-ready":  # the new server answers, nothing is recorded yet
    checked = deploy._check_serves
    deploy._check_serves = lambda server, version: (checked(server, version), die())
else:  # "before-tag": the state names the new server, the tag is not made
    registry.assign = die
from mlship.cli import cli
cli(sys.argv[2:])
"""


def command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mlship", "-C", str(root), *args]


def marks(root: Path) -> list[psutil.Process]:
    return serving.marked(str(root / ".mlship/deploy/prod/churn.json"))


def wait_for(condition, seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {seconds} s"
        time.sleep(0.2)


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_serve_stops_its_whole_server_and_exits_128_plus_the_signal(project, number, code):
    root, port = project.root, serving.free_port()
    mark = f"{root / '.mlship/serve/churn'}:{port}"
    # As from a terminal: a pytest-xdist worker ignores SIGINT, and an ignored signal stays ignored in its
    # children (mlship leaves it so, as for a background job).
    process = subprocess.Popen(command(root, "serve", "churn", "--version", "v0.1.0", "--port", str(port)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: serving.is_ready(serving.Server(0, port, "", "")), 120, "ready")
        assert len(serving.marked(mark)) >= 2, "an arbiter and its worker, marked"
        process.send_signal(number)
        assert process.wait(timeout=60) == code
        assert "interrupted by " + signal.Signals(number).name in process.stderr.read()
        assert serving.marked(mark) == [] and is_free(port)
    finally:
        process.kill()
        serving.terminate(serving.marked(mark))


def test_a_killed_serve_takes_its_server_with_it_and_the_next_serve_stops_what_is_left(project):
    root, port = project.root, serving.free_port()
    mark = f"{root / '.mlship/serve/churn'}:{port}"
    process = subprocess.Popen(command(root, "serve", "churn", "--port", str(port)), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: serving.is_ready(serving.Server(0, port, "", "")), 120, "ready")
        process.kill()  # SIGKILL: no handler runs; the server is told by the kernel that its parent died
        process.wait(timeout=10)
        wait_for(lambda: serving.marked(mark) == [] and is_free(port), 30, "stopped")
        # Where the kernel does not do that (not Linux), the next serve finds what is left by its mark.
        left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                                env={**os.environ, serving.MARK: mark})
        wait_for(lambda: serving.marked(mark) != [], 10, "marked")
        process = subprocess.Popen(command(root, "serve", "churn", "--port", str(port)), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        wait_for(lambda: serving.is_ready(serving.Server(0, port, "", "")), 120, "ready")
        assert left.wait(timeout=10) == -signal.SIGTERM
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 143
        assert f"stopped the server an earlier `mlship serve churn --port {port}` left running: pid {left.pid}" \
            in process.stderr.read()
    finally:
        process.kill()
        serving.terminate(serving.marked(mark))


def test_a_sigterm_while_a_deploy_starts_its_server_stops_that_server_and_exits_143(project):
    root = project.root
    process = subprocess.Popen(command(root, "deploy", "churn", "--stage", "prod"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    wait_for(lambda: marks(root) != [] or process.poll() is not None, 60, "starting")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143, process.stderr.read()
    assert marks(root) == [] and tag_names(root) == ["churn@v0.1.0", "churn@v0.1.1"]
    assert not (root / ".mlship/deploy/prod/churn.json").exists()
    assert list((root / ".mlship/deploy/prod").glob("*.bentoml")) == []


@pytest.mark.parametrize("point", ["server-ready", "before-tag"])
def test_the_command_after_a_deploy_killed_midway_leaves_one_server_and_tags_naming_it(project, point):
    root = project.root
    first = deployed(root, "--version", "v0.1.0")
    killed = subprocess.run([sys.executable, "-c", KILLED_AT, point, "-C", str(root), "deploy", "churn", "--stage",
                             "prod", "--version", "v0.1.1"], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len({p.pid for p in marks(root)} - serving_tree(state(root)["server"]["pid"])) >= 1, "a second server"
    again = deployed(root)  # the latest, v0.1.1
    recorded = state(root)
    assert {p.pid for p in marks(root)} == serving_tree(recorded["server"]["pid"]), "only the recorded server"
    assert recorded["version"] == "v0.1.1" and recorded["assigning"] is False
    assert stages(root) == {"prod": "v0.1.1"} and served_metadata(again["url"])["release"] == "v0.1.1"
    if point == "before-tag":  # the interrupted deploy's server is kept, and its assignment completed
        assert again["assigned"] is False and again["changed"] is False
        assert any("completed the assignment of v0.1.1 to prod" in m for m in again["messages"])
        assert any("an interrupted command left" in m for m in again["messages"])  # the old v0.1.0 server
    else:
        assert again["assigned"] is True and again["changed"] is True
        assert any("an interrupted command left" in m for m in again["messages"])
    assert is_free(int(first["url"].rsplit(":", 1)[1]))


def serving_tree(pid: int) -> set[int]:
    leader = psutil.Process(pid)
    return {pid, *(child.pid for child in leader.children(recursive=True))}


def test_workers_orphaned_by_a_killed_server_are_reported_and_stopped_by_deploy_and_by_stop(project):
    root = project.root
    first = deployed(root, "--version", "v0.1.0")
    pid, port = state(root)["server"]["pid"], state(root)["server"]["port"]
    workers = psutil.Process(pid).children(recursive=True)
    os.kill(pid, signal.SIGKILL)  # the arbiter only: its workers lose their parent
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 10)
    assert any(worker.is_running() for worker in workers), "BentoML's workers outlive their arbiter"
    status = json.loads(ok(mlship(root, "deploy", "churn", "--status", "--json")).stdout)
    assert status[0]["stage"] == "prod" and status[0]["running"] is False and status[0]["others"]
    shown = ok(mlship(root, "deploy", "churn", "--status")).stdout
    assert f"its server (pid {pid}, port {port}) is gone" in shown and "`mlship stop` stops them" in shown
    again = deployed(root, "--version", "v0.1.0")
    assert again["changed"] is True and again["url"] != first["url"]
    assert f"the recorded server of churn in prod (pid {pid}, port {port}) was gone: stopped what was left" \
        in again["messages"][0]
    assert not any(worker.is_running() for worker in workers) and is_free(port)
    live = state(root)["server"]
    os.kill(live["pid"], signal.SIGKILL)
    stopped = ok(mlship(root, "stop", "churn", "--stage", "prod")).stdout
    assert "stopped what was left of churn's servers in prod" in stopped
    assert marks(root) == [] and is_free(live["port"])


def test_a_deploy_waits_for_the_stages_lock(project):
    root = project.root
    with packaging.exclusive(root / ".mlship/deploy/prod/churn.lock", "held by the test"):
        process = subprocess.Popen(command(root, "deploy", "churn", "--stage", "prod"), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(4)
        assert process.poll() is None and marks(root) == [], "it waits, and starts nothing"
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert stages(root) == {"prod": "v0.1.1"} and len({p.pid for p in marks(root)}) >= 1


def test_the_server_gets_no_credentials_from_the_deploying_job(project, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_not_for_the_server")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not for the server either")
    deployed(project.root)
    for process in marks(project.root):
        environment = process.environ()
        assert "GITHUB_TOKEN" not in environment and "AWS_SECRET_ACCESS_KEY" not in environment
        assert environment["MLSHIP_RELEASE"] == "v0.1.1"


def test_a_stage_that_is_not_a_name_is_refused_before_any_path_is_made(project, tmp_path):
    root = project.root
    for args in (["stop", "churn", "--stage", "../../x"], ["deploy", "churn", "--stage", "../x"],
                 ["serve", "churn", "--stage", "a/b"], ["rollback", "churn", "--stage", ".."]):
        refused = mlship(root, *args)
        assert refused.exit_code == 2 and "is not a stage name" in refused.stderr, args
    assert not (root.parent / "x").exists() and not (root / ".mlship/x").exists()


@pytest.mark.parametrize("document", [
    {"home": "OUTSIDE"},                                          # a folder outside the stage's
    {"home": "OUTSIDE", "server": {"pid": 1, "port": 1, "bento": "churn:x", "log": "/etc/passwd"}},
    {"model": "churn"},                                           # fields missing
    "not an object",
])
def test_a_crafted_state_file_deletes_nothing_outside_and_gets_a_clean_error(project, tmp_path, document):
    root, outside = project.root, tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    path = root / ".mlship/deploy/prod/churn.json"
    path.parent.mkdir(parents=True)
    if isinstance(document, dict):
        document = {"model": "churn", "stage": "prod", "version": "v0.1.0", "fingerprint": "0" * 64,
                    **{key: (str(outside) if value == "OUTSIDE" else value) for key, value in document.items()}}
    path.write_text(json.dumps(document))
    refused = mlship(root, "deploy", "churn", "--stage", "prod")
    assert refused.exit_code == 2 and "churn.json:" in refused.stderr and "is not valid" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    stopped = ok(mlship(root, "stop", "churn", "--stage", "prod"))
    assert "ignored .mlship/deploy/prod/churn.json, which is not valid" in stopped.stdout
    assert (outside / "keep.txt").read_text() == "mine" and not path.exists()
    assert (Path("/etc/passwd")).exists()
