"""The package as users get it: a wheel and an sdist built from this tree, installed into a clean venv.

Tests that must not run the source tree (the README's install path, the workflows under
act) take :func:`installed` from a session fixture. The build runs ``python -m build``
(isolated, as a release would), ``twine check --strict`` checks both files, and the
wheel goes into a fresh virtual environment with every dependency at its pinned version.
Downloads land in the user's own pip and uv caches, not the tests' throwaway HOME, so a
second session installs from the cache in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))  # read before any test swaps HOME


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose PATH finds this venv's `mlship` and `python` first, and no source tree."""
        env = {k: v for k, v in (base or os.environ).items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    env = {**os.environ, "PIP_CACHE_DIR": str(USER_CACHE / "pip"), "UV_CACHE_DIR": str(USER_CACHE / "uv")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_and_install(workdir: Path) -> Installed:
    """Build the wheel and sdist from this tree, check them, and install the wheel into a new venv."""
    dist = workdir / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, REPO_ROOT)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    _run(BIN / "twine", "check", "--strict", wheel, sdist)
    venv = workdir / "venv"
    _run(BIN / "uv", "venv", "--quiet", "--seed", "--python", sys.executable, venv)  # --seed: pip, as a runner has
    _run(BIN / "uv", "pip", "install", "--quiet", "--python", venv / "bin" / "python",
         "--constraint", REPO_ROOT / "constraints.txt", wheel)
    return Installed(wheel, sdist, venv)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from this tree, installed into a clean venv (once per session)."""
    return build_and_install(tmp_path_factory.mktemp("distribution"))
