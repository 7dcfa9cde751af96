"""The journey `make demo` walks through, with the real `mlship` command at each step.

It uses a fresh cache folder, so the first training run always trains, and temporary
git repositories for the pull request and for the step that shows a broken spec.
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
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "mlship demo", "GIT_AUTHOR_EMAIL": "demo@mlship.invalid",
                "GIT_COMMITTER_NAME": "mlship demo", "GIT_COMMITTER_EMAIL": "demo@mlship.invalid"}


def title(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def mlship(*args: str, cwd: Path, env: dict[str, str], expect: int = 0) -> None:
    print(f"$ mlship {' '.join(args)}", flush=True)
    code = subprocess.run([str(MLSHIP), *args], cwd=cwd, env=env).returncode
    if code != expect:
        sys.exit(f"demo: 'mlship {' '.join(args)}' exited {code}, expected {expect}")


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    print(f"$ git {' '.join(args)}", flush=True)
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        sys.exit(f"demo: {path} no longer contains {old!r}; update scripts/demo.py")
    path.write_text(text.replace(old, new))


def pull_request(work: Path, env: dict[str, str]) -> None:
    repo = work / "repo"
    shutil.copytree(ROOT / "models", repo / "models")
    (repo / ".gitignore").write_text(".mlship/\nreports/pr-*\n")
    title("4. A pull request, in a temporary git repository holding the examples on main")
    git("init", "-q", "-b", "main", cwd=repo, env=env)
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-q", "-m", "the example models", cwd=repo, env=env)
    git("checkout", "-q", "-b", "tune-models", cwd=repo, env=env)
    print("# churn: switch to logistic regression (the data is close to linear in its features)")
    edit(repo / "models/churn/model.yaml", "  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
         "  params: {max_iter: 200, learning_rate: 0.05, max_leaf_nodes: 15, l2_regularization: 1.0}",
         "  estimator: sklearn.linear_model.LogisticRegression\n  params: {C: 1.0, max_iter: 1000}")
    print("# cancer: regularise much harder (C 0.5 -> 0.002), which will cost recall")
    edit(repo / "models/cancer/model.yaml", "C: 0.5", "C: 0.002")
    git("commit", "-q", "-am", "tune churn and cancer", cwd=repo, env=env)
    mlship("changed", "--base", "main", cwd=repo, env=env)

    title("5. The PR comment, rendered locally (exit code 1: cancer fails its gates, as it should)")
    mlship("pr", "--base", "main", "--dry-run", cwd=repo, env=env, expect=1)

    title("6. The ledger in reports/ is ready to commit; what ships must match it")
    print("$ git status --short --untracked-files=all reports", flush=True)
    subprocess.run(["git", "status", "--short", "--untracked-files=all", "reports"], cwd=repo, env=env, check=True)
    mlship("ledger", "verify", "churn", cwd=repo, env=env)


def broken_spec(work: Path, env: dict[str, str]) -> None:
    project = work / "broken"
    shutil.copytree(ROOT / "models" / "cancer", project / "models" / "cancer")
    edit(project / "models/cancer/model.yaml", "seed: 42", "sede: 42")
    edit(project / "models/cancer/model.yaml", "metrics:", "metric:")
    title("7. A spec with two typos: each is named with its file, line and field (exit code 2)")
    mlship("validate", cwd=project, env=env, expect=2)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mlship-demo-") as temporary:
        work = Path(temporary)
        env = {**os.environ, **GIT_IDENTITY, "MLSHIP_CACHE_DIR": str(work / "cache"),
               "BENTOML_DO_NOT_TRACK": "true", "GIT_CONFIG_NOSYSTEM": "1"}
        title("1. Check the example specs in models/")
        mlship("validate", cwd=ROOT, env=env)
        title("2. Train and evaluate every model, and check its gates")
        mlship("train", cwd=ROOT, env=env)
        title("3. Train again: nothing changed, so every model comes from the cache")
        mlship("train", cwd=ROOT, env=env)
        pull_request(work, env)
        broken_spec(work, env)
    print("\nDone. Next: edit a model in models/ and run `mlship train`, or `mlship pr --dry-run` on a branch.")


if __name__ == "__main__":
    main()
