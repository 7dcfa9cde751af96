"""The journey `make demo` walks through, with the real `mlship` command at each step.

It uses a fresh cache folder, so the first training run always trains, and temporary
git repositories: one where a pull request is reviewed, merged, released, deployed to
a local server on 127.0.0.1, changed again, rolled back and checked for drift (on the
embedded defaults: the local registry, local serving, a dry-run comment), and one for
the step that shows a broken spec. Every server it starts is stopped at the end.
"""

from __future__ import annotations

import importlib.util
import json
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


def pull_request(repo: Path, env: dict[str, str]) -> None:
    shutil.copytree(ROOT / "models", repo / "models")
    (repo / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\n")
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

    title("6. The review asks to keep cancer as it was; the PR passes, and its ledger is committed")
    git("checkout", "main", "--", "models/cancer/model.yaml", cwd=repo, env=env)
    print("$ rm -r reports/cancer   # the ledger of the rejected change", flush=True)
    shutil.rmtree(repo / "reports" / "cancer")
    mlship("pr", "--base", "main", "--dry-run", cwd=repo, env=env)
    print("$ git status --short --untracked-files=all reports", flush=True)
    subprocess.run(["git", "status", "--short", "--untracked-files=all", "reports"], cwd=repo, env=env, check=True)
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-q", "-m", "keep cancer; the ledger of churn", cwd=repo, env=env)


def merge_and_deploy(repo: Path, env: dict[str, str]) -> None:
    title("7. Merge: what ships must match the ledger; package, release v0.1.0 and deploy it to prod")
    git("checkout", "-q", "main", cwd=repo, env=env)
    git("merge", "-q", "--no-ff", "tune-models", "-m", "Merge tune-models", cwd=repo, env=env)
    mlship("ledger", "verify", "churn", cwd=repo, env=env)
    mlship("release", "churn", cwd=repo, env=env)
    mlship("deploy", "churn", "--stage", "prod", "--prediction-log", str(repo / "logs"), "--log-rate", "1",
           cwd=repo, env=env)

    title("8. A second change, reviewed and merged, is released as v0.1.1 and deployed")
    git("checkout", "-q", "-b", "regularise", cwd=repo, env=env)
    edit(repo / "models/churn/model.yaml", "params: {C: 1.0, max_iter: 1000}", "params: {C: 0.05, max_iter: 1000}")
    mlship("pr", "--base", "main", "--dry-run", "--out", str(repo / "reports" / "pr-2"), cwd=repo, env=env)
    git("commit", "-q", "-am", "churn: more regularisation", cwd=repo, env=env)
    git("checkout", "-q", "main", cwd=repo, env=env)
    git("merge", "-q", "--no-ff", "regularise", "-m", "Merge regularise", cwd=repo, env=env)
    mlship("release", "churn", cwd=repo, env=env)
    mlship("deploy", "churn", "--stage", "prod", "--prediction-log", str(repo / "logs"), "--log-rate", "1",
           cwd=repo, env=env)

    title("9. A prediction over HTTP, answered by the new version; then a month of traffic")
    ask(repo)
    traffic(repo)

    title("10. Roll prod back: v0.1.0 answers again, as /metadata shows")
    mlship("rollback", "churn", "--stage", "prod", "--prediction-log", str(repo / "logs"), "--log-rate", "1",
           cwd=repo, env=env)
    ask(repo)

    title("11. The history: every version and every assignment is a git tag (gto reads them too)")
    mlship("history", "churn", cwd=repo, env=env)


def ask(repo: Path) -> None:
    """POST one customer to the served churn model, and ask it which version it is."""
    import requests

    url = json.loads((repo / ".mlship/deploy/prod/churn.json").read_text())["server"]["url"]
    customer = {"region": "north", "plan": "premium", "contract": "month-to-month", "tenure_months": 3,
                "monthly_charges": 92.5, "support_calls": 4, "paperless_billing": "yes"}
    print(f"$ curl -X POST {url}/predict_proba -d '{json.dumps({'records': [customer]})}'")
    answer = requests.post(f"{url}/predict_proba", json={"records": [customer]}, timeout=30)
    answer.raise_for_status()
    print(json.dumps(answer.json()[0]))
    print(f"$ curl -X POST {url}/metadata")
    served = requests.post(f"{url}/metadata", json={}, timeout=30).json()
    print(json.dumps({key: served.get(key) for key in ("release", "tag", "fingerprint")}))


def traffic(repo: Path, rows: int = 800) -> None:
    """POST a month of new customers, who stay for shorter and pay more than those the model
    was trained on, to the served model; the service logs them for `mlship drift`."""
    import requests

    spec = importlib.util.spec_from_file_location("generate_data", repo / "models/churn/generate_data.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    customers = generator.generate(rows, seed=2026)
    customers["tenure_months"] = (customers["tenure_months"] // 3).clip(lower=1)
    customers["monthly_charges"] = customers["monthly_charges"] + 12
    features = customers.drop(columns=["customer_id", "churned"]).astype(object)
    records = features.where(features.notna(), None).to_dict(orient="records")
    url = json.loads((repo / ".mlship/deploy/prod/churn.json").read_text())["server"]["url"]
    print(f"# {rows} new customers (shorter tenure, higher charges) sent to {url}/predict_proba, 100 at a time")
    for start in range(0, rows, 100):
        requests.post(f"{url}/predict_proba", json={"records": records[start:start + 100]},
                      timeout=60).raise_for_status()


def broken_spec(work: Path, env: dict[str, str]) -> None:
    project = work / "broken"
    shutil.copytree(ROOT / "models" / "cancer", project / "models" / "cancer")
    edit(project / "models/cancer/model.yaml", "seed: 42", "sede: 42")
    edit(project / "models/cancer/model.yaml", "metrics:", "metric:")
    title("12. A spec with two typos: each is named with its file, line and field (exit code 2)")
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
        repo = work / "repo"
        pull_request(repo, env)
        try:
            merge_and_deploy(repo, env)
        finally:
            subprocess.run([str(MLSHIP), "stop", "churn", "--stage", "prod"], cwd=repo, env=env, check=False)
        broken_spec(work, env)
        title("13. Drift: the traffic the service logged, against the training data (exit code 1: customers changed)")
        mlship("drift", "churn", "--current", "logs", cwd=repo, env=env, expect=1)
    print("\nDone. Next: edit a model in models/ and run `mlship train`, or `mlship pr --dry-run` on a branch.")


if __name__ == "__main__":
    main()
