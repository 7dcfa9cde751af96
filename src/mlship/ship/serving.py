"""Local serving: a bento run by ``bentoml serve`` on 127.0.0.1, as a process mlship starts, checks and stops.

A managed server is started in its own session, so it outlives the ``mlship`` command that
started it and can be stopped as a whole (BentoML runs an arbiter and worker processes).
It counts as started only once ``/readyz`` answers 200. Before mlship signals a process it
remembered, it checks that the process is still that server: a pid can be reused.

Every server carries a mark in its environment (``MLSHIP_SERVER``, inherited by its workers),
naming what it serves for (a stage's state file, or a foreground ``mlship serve``): what a
killed command left behind, a worker whose arbiter is gone included, is found by that mark
and stopped, never by a process name. A server never inherits credentials: variables that
look like tokens, secrets or passwords are removed from its environment.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from mlship.errors import MlshipError, display_path

if TYPE_CHECKING:
    import psutil

HOST = "127.0.0.1"
DEFAULT_PORT = 3000
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.25
#: BentoML may accept the connection and answer slowly while its workers start.
PROBE_TIMEOUT_SECONDS = 2.0
LOG_TAIL_LINES = 20
#: The environment variable marking a server's processes with what they serve for.
MARK = "MLSHIP_SERVER"
#: Variables a server does not get: a served model has no use for the credentials of the job that started it.
CREDENTIALS = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|(^|_)AUTH(_|$)",
                         re.IGNORECASE)


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


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived: the command stops what it started and exits with 128 + the signal."""

    def __init__(self, number: int) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = number

    @property
    def exit_code(self) -> int:
        return 128 + self.number


@contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP (what CI cancellation, ``timeout`` and a closed terminal send) and Ctrl-C
    into :class:`Interrupted`, so that the ``except``/``finally`` blocks that stop a half-started server run."""

    def interrupt(number: int, _frame: Any) -> None:
        raise Interrupted(number)

    # A signal the caller ignores (SIGHUP under nohup, SIGINT in a background job) stays ignored.
    numbers = [number for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
               if signal.getsignal(number) is not signal.SIG_IGN]
    before = {number: signal.signal(number, interrupt) for number in numbers}
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(signal.SIGINT) from None
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def server_environment(env: Mapping[str, str], mark: str) -> dict[str, str]:
    """``env`` without credentials, with the server's ``mark``.

    BentoML's process manager renames itself ("circusd") with setproctitle where that package
    is installed, which by default overwrites the process's environment as the kernel shows it,
    mark included; ``SPT_NOENV`` tells setproctitle to leave it.
    """
    kept = {name: value for name, value in env.items() if not CREDENTIALS.search(name)}
    return {**kept, "SPT_NOENV": "1", MARK: mark}


def marked(mark: str) -> list["psutil.Process"]:
    """The live processes carrying ``mark``: a server's arbiter and workers, including orphaned ones."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get(MARK) == mark \
                    and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:  # gone, or another user's
            continue
    return found


def terminate(processes: list["psutil.Process"], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM each process, then SIGKILL what is left after ``timeout`` seconds."""
    import psutil

    for process in processes:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    for process in processes:
        _reap(process.pid)


def describe(processes: list["psutil.Process"]) -> str:
    """``pid 123 (port 3000), pid 124`` for a message."""
    parts = []
    for process in processes:
        try:
            command = process.cmdline()
        except Exception:  # psutil.Error: gone meanwhile
            command = []
        port = command[command.index("--port") + 1] if "--port" in command[:-1] else None
        parts.append(f"pid {process.pid}" + (f" (port {port})" if port else ""))
    return ", ".join(parts)


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


def start(bento: str, env: Mapping[str, str], log: Path, mark: str, port: int | None = None,
          timeout: float = READY_TIMEOUT_SECONDS) -> Server:
    """Start serving ``bento`` (a tag in the store of ``env``'s ``BENTOML_HOME``) and wait until it is ready.

    The server's processes carry ``mark`` (see :func:`marked`). Raises :class:`ServingError`, with
    the end of the server's log, when the process exits or is not ready within ``timeout``
    seconds; the process is stopped then (also when the wait is interrupted).
    """
    if port is None:
        port = free_port()
    else:
        check_port_free(port)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(serve_command(bento, port), env=server_environment(env, mark), stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(process.pid, port, bento, str(log))
    try:
        _wait_ready(server, process, timeout)
    except BaseException:
        stop(server)
        raise
    return server


def run(bento: str, env: Mapping[str, str], mark: str, port: int = DEFAULT_PORT) -> int:
    """Serve ``bento`` in the foreground until it exits or a signal arrives; return its exit code.

    The server runs in its own session, stopped as a whole when this process is interrupted
    (:class:`Interrupted` is raised on) and, on Linux, when this process dies even by SIGKILL.
    """
    check_port_free(port)
    process = subprocess.Popen(serve_command(bento, port), env=server_environment(env, mark),
                               stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_end_with_parent)
    try:
        return process.wait()
    except BaseException:
        stop(Server(process.pid, port, bento, ""))
        raise


def _end_with_parent() -> None:
    """In the child before exec: be sent SIGTERM when the parent dies (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 is PR_SET_PDEATHSIG


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
    """Whether ``server.pid`` is still a server mlship started: alive, the leader of its own session (as
    :func:`start` makes it) and carrying the mark. Not by its command line, which the process manager
    renames (see :func:`server_environment`)."""
    import psutil

    try:
        process = psutil.Process(server.pid)
        return (process.status() != psutil.STATUS_ZOMBIE and os.getsid(server.pid) == server.pid
                and MARK in process.environ())
    except (psutil.Error, ProcessLookupError):
        return False


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
