"""The journey `make demo` walks through, with the real `mlship` command at each step.

It uses a fresh cache folder, so the first training run always trains, and a copy of
an example in a temporary project for the step that shows a broken spec.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLSHIP = Path(sys.executable).with_name("mlship")


def step(title: str, *args: str, cwd: Path = ROOT, env: dict[str, str], expect: int = 0) -> None:
    print(f"\n\033[1m== {title}\033[0m\n$ mlship {' '.join(args)}", flush=True)
    code = subprocess.run([str(MLSHIP), *args], cwd=cwd, env=env).returncode
    if code != expect:
        sys.exit(f"demo: 'mlship {' '.join(args)}' exited {code}, expected {expect}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mlship-demo-") as work:
        work_dir = Path(work)
        env = {**os.environ, "MLSHIP_CACHE_DIR": str(work_dir / "cache"), "BENTOML_DO_NOT_TRACK": "true"}

        step("1. Check the example specs in models/", "validate", env=env)
        step("2. Train and evaluate every model, and check its gates", "train", env=env)
        step("3. Train again: nothing changed, so every model comes from the cache", "train", env=env)

        broken = work_dir / "project"
        shutil.copytree(ROOT / "models" / "cancer", broken / "models" / "cancer")
        spec = broken / "models" / "cancer" / "model.yaml"
        spec.write_text(spec.read_text().replace("seed: 42", "sede: 42").replace("metrics:", "metric:"))
        step("4. A spec with two typos: each is named with its file, line and field (exit code 2)",
             "validate", cwd=broken, env=env, expect=2)
    print("\nDone. Next: edit a model in models/ and run `mlship train` again.")


if __name__ == "__main__":
    main()
