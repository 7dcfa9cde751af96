"""Local serving: a bento run by ``bentoml serve`` on 127.0.0.1, as a process mlship starts, checks and stops.

A managed server is started in its own session, so it outlives the ``mlship`` command that
started it and can be stopped as a whole (BentoML runs an arbiter and worker processes).
It counts as started only once ``/readyz`` answers 200. Before mlship signals a process it
remembered, it checks that the process is still that server: a pid can be reused.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from mlship.errors import MlshipError, display_path

HOST = "127.0.0.1"
DEFAULT_PORT = 3000
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.25
#: BentoML may accept the connection and answer slowly while its workers start.
PROBE_TIMEOUT_SECONDS = 2.0
LOG_TAIL_LINES = 20


class ServingError(MlshipError):
    """A server cannot be started, is not ready in time, or does not serve what it should."""


@dataclass(frozen=True)
class Server:
    """A started ``bentoml serve``: its process (a session leader), its port and its log."""

    pid: int
    port: int
    bento: str
    log: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "url": self.url}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> "Server":
        return cls(int(document["pid"]), int(document["port"]), str(document["bento"]), str(document["log"]))


def serve_command(bento: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", bento, "--host", HOST, "--port", str(port)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def check_port_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            raise ServingError(f"port {port} on {HOST} is in use: stop what listens there, or choose another "
                               "port with --port") from None


def start(bento: str, env: Mapping[str, str], log: Path, port: int | None = None,
          timeout: float = READY_TIMEOUT_SECONDS) -> Server:
    """Start serving ``bento`` (a tag in the store of ``env``'s ``BENTOML_HOME``) and wait until it is ready.

    Raises :class:`ServingError`, with the end of the server's log, when the process exits or is
    not ready within ``timeout`` seconds; the process is stopped then.
    """
    if port is None:
        port = free_port()
    else:
        check_port_free(port)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(serve_command(bento, port), env=dict(env), stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(process.pid, port, bento, str(log))
    try:
        _wait_ready(server, process, timeout)
    except BaseException:
        stop(server)
        raise
    return server


def run(bento: str, env: Mapping[str, str], port: int = DEFAULT_PORT) -> int:
    """Serve ``bento`` in the foreground (Ctrl-C stops it); return ``bentoml serve``'s exit code."""
    check_port_free(port)
    try:
        return subprocess.run(serve_command(bento, port), env=dict(env), check=False).returncode
    except KeyboardInterrupt:
        return 130


def _wait_ready(server: Server, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServingError(f"{server.bento} did not start: `bentoml serve` exited with code {process.returncode}. "
                               f"The end of its log ({display_path(Path(server.log))}):\n{log_tail(server)}")
        if is_ready(server):
            return
        time.sleep(POLL_SECONDS)
    raise ServingError(f"{server.bento} was not ready after {timeout:.0f} s (GET {server.url}/readyz never answered "
                       f"200), so it was stopped. The end of its log ({display_path(Path(server.log))}):\n"
                       f"{log_tail(server)}")


def is_ready(server: Server) -> bool:
    import requests

    try:
        return requests.get(f"{server.url}/readyz", timeout=PROBE_TIMEOUT_SECONDS).status_code == 200
    except requests.RequestException:
        return False


def metadata(server: Server) -> dict[str, Any]:
    """What the served model says it is: the generated service's ``/metadata``."""
    import requests

    try:
        answer = requests.post(f"{server.url}/metadata", json={}, timeout=30)
        answer.raise_for_status()
        return answer.json()
    except (requests.RequestException, ValueError) as error:
        raise ServingError(f"{server.url}/metadata did not answer ({error})") from None


def is_running(server: Server) -> bool:
    """Whether ``server.pid`` is still that server: alive, and running ``bentoml serve`` of its bento."""
    import psutil

    try:
        command = psutil.Process(server.pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "serve" in command and server.bento in command and str(server.port) in command


def stop(server: Server, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop the server and its workers (its whole session); a server already gone is fine."""
    import psutil

    try:
        leader = psutil.Process(server.pid)
        group = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    _signal_group(server.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(group, timeout=timeout)
    if alive:
        _signal_group(server.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=timeout)
    _reap(server.pid)


def _signal_group(pid: int, number: int) -> None:
    try:
        os.killpg(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    """Collect the exit status when the server is this process's child, so no zombie is left."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(server: Server) -> str:
    try:
        lines = Path(server.log).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "  (no log)"
    return "\n".join(f"  {line}" for line in [line for line in lines if line.strip()][-LOG_TAIL_LINES:])
