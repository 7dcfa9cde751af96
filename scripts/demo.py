"""The journey `make demo` walks through, told as a story: each step runs the real `mlship` command,
prints what it showed in one line and what to look at, and keeps the command's whole output in
.mlship/demo/ (one file per step), where the PR comments are too.

It uses a fresh cache folder, so the first training run always trains, and temporary git
repositories: one where a pull request is reviewed, merged, released, deployed to a local server on
127.0.0.1, changed again, rolled back and checked for drift (on the embedded defaults: the local
registry, local serving, a dry-run comment), and one for the step that shows a broken spec. Every
server it starts is stopped at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
MLSHIP = Path(sys.executable).with_name("mlship")
OUT = ROOT / ".mlship" / "demo"
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "mlship demo", "GIT_AUTHOR_EMAIL": "demo@mlship.invalid",
                "GIT_COMMITTER_NAME": "mlship demo", "GIT_COMMITTER_EMAIL": "demo@mlship.invalid"}
STEP = {"number": 0}


def title(text: str) -> None:
    STEP["number"] += 1
    print(f"\n\033[1m{STEP['number']}. {text}\033[0m", flush=True)


def say(text: str) -> None:
    print(f"   {text}", flush=True)


def look(text: str) -> None:
    print(f"   \033[2mlook at:\033[0m {text}", flush=True)


def first_line(output: str) -> str:
    return next((line.strip() for line in output.splitlines() if line.strip()), "(no output)")


def mlship(*args: str, cwd: Path, env: dict[str, str], expect: int = 0, name: str,
           summary: Callable[[str], str] = first_line) -> str:
    """Run `mlship ARGS`, keep its whole output in .mlship/demo/NN-NAME.txt, print one line of it."""
    command = f"mlship {' '.join(args)}"
    done = subprocess.run([str(MLSHIP), *args], cwd=cwd, env=env, capture_output=True, text=True)
    record = OUT / f"{STEP['number']:02d}-{name}.txt"
    record.write_text(f"$ {command}\n{done.stdout}{done.stderr}")
    if done.returncode != expect:
        sys.exit(f"demo: '{command}' exited {done.returncode}, expected {expect}; see {relative(record)}")
    say(f"$ {command}   (exit {done.returncode}; all of it in {relative(record)})")
    say(f"→ {summary(done.stdout + done.stderr)}")
    return done.stdout


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        sys.exit(f"demo: {path} no longer contains {old!r}; update scripts/demo.py")
    path.write_text(text.replace(old, new))


def last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def models_line(output: str) -> str:
    """`mlship train`'s one line per model (✅/❌ name: passed (...)) and its closing sentence."""
    heads = [line.split(" (")[0] for line in output.splitlines() if re.match(r"^[✅❌] \S+:", line)]
    return f"{'; '.join(heads)}. {last_line(output)}"


def verdicts(result: dict[str, Any]) -> list[str]:
    """One line per model of a pr-result.json: passed or failed, and the gates that failed."""
    lines = []
    for model in result["models"]:
        failed = [f"{gate['metric']} {gate['rule']} ({gate['message']})" for gate in model["gates"]
                  if not gate["passed"]]
        state = "passed" if model["passed"] else "FAILED: " + "; ".join(failed)
        lines.append(f"{model['name']} {state}")
    return lines + [f"{name} could not be evaluated: {problems}" for name, problems in result["errors"].items()]


def ungated_changes(result: dict[str, Any]) -> list[str]:
    """Why a metric that got significantly worse can still pass: it has no gate. One line per model
    where that happened, naming the metrics and what to add to make them count."""
    lines = []
    for model in result["models"]:
        gated = {gate["metric"] for gate in model["gates"]}
        worse = [metric for metric, delta in model["deltas"].items()
                 if delta.get("verdict") == "worse" and metric not in gated]
        if worse:
            names = " and ".join(worse)
            plural = len(worse) > 1
            lines.append(f"{model['name']}: {names} got significantly worse (❌ worse in the comment) but "
                         f"{'have' if plural else 'has'} no gate in models/{model['name']}/model.yaml, so "
                         f"{'they do' if plural else 'it does'} not decide the verdict: the verdict column "
                         "describes each change, only gates decide. To make one count, add e.g. "
                         f"`{worse[0]}: {{max_drop: 0.02}}` under `gates:`.")
    return lines


def pull_request_step(repo: Path, env: dict[str, str], out: Path, expect: int, name: str) -> dict[str, Any]:
    """`mlship pr --dry-run` into ``out``; print each model's verdict and why ungated regressions pass."""
    mlship("pr", "--base", "main", "--dry-run", "--out", str(out.relative_to(repo)), cwd=repo, env=env,
           expect=expect, name=name,
           summary=lambda output: first_line(output.replace("<!-- mlship:report -->", "")).lstrip("# "))
    result = json.loads((out / "pr-result.json").read_text())
    for line in verdicts(result):
        say(f"  {line}")
    for line in ungated_changes(result):
        say(f"  why: {line}")
    comment = OUT / f"{STEP['number']:02d}-{name}-comment.md"
    shutil.copy(out / "pr-comment.md", comment)
    return result


def pull_request(repo: Path, env: dict[str, str]) -> None:
    shutil.copytree(ROOT / "models", repo / "models")
    (repo / ".gitignore").write_text(".mlship/\ndist/\nreports/pr-*\n")
    git("init", "-q", "-b", "main", cwd=repo, env=env)
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-q", "-m", "the example models", cwd=repo, env=env)
    git("checkout", "-q", "-b", "tune-models", cwd=repo, env=env)
    edit(repo / "models/churn/model.yaml", "  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
         "  params: {max_iter: 200, learning_rate: 0.05, max_leaf_nodes: 15, l2_regularization: 1.0}",
         "  estimator: sklearn.linear_model.LogisticRegression\n  params: {C: 1.0, max_iter: 1000}")
    edit(repo / "models/cancer/model.yaml", "C: 0.5", "C: 0.002")
    git("commit", "-q", "-am", "tune churn and cancer", cwd=repo, env=env)
    title("A pull request on a branch: churn becomes a logistic regression, cancer is regularised much harder")
    mlship("changed", "--base", "main", cwd=repo, env=env, name="changed",
           summary=lambda output: first_line(output).rstrip(":") + ": " + ", ".join(
               line.strip().split(":")[0] for line in output.splitlines() if line.startswith(" ")))

    title("The PR comment and the check, rendered locally (exit 1: cancer fails a gate, as it should)")
    pull_request_step(repo, env, repo / "reports" / "pr-1", 1, "pr")
    look("the comment in .mlship/demo/ (what GitHub would show on the PR): the first table of each model, "
         "its gates, and the charts under 'Curves'")

    title("The review keeps cancer as it was; the PR passes and its ledger is committed with it")
    git("checkout", "main", "--", "models/cancer/model.yaml", cwd=repo, env=env)
    shutil.rmtree(repo / "reports" / "cancer")
    pull_request_step(repo, env, repo / "reports" / "pr-1", 0, "pr-again")
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-q", "-m", "keep cancer; the ledger of churn", cwd=repo, env=env)
    look("reports/churn/metrics.json and model_card.md: the ledger, committed with the change, is what ships")


def merge_and_deploy(repo: Path, env: dict[str, str]) -> None:
    title("Merge, then ship: the working tree must match the ledger; release v0.1.0 and deploy it to prod")
    git("checkout", "-q", "main", cwd=repo, env=env)
    git("merge", "-q", "--no-ff", "tune-models", "-m", "Merge tune-models", cwd=repo, env=env)
    mlship("ledger", "verify", "churn", cwd=repo, env=env, name="ledger")
    mlship("release", "churn", cwd=repo, env=env, name="release")
    log = ("--prediction-log", "logs", "--log-rate", "1")
    mlship("deploy", "churn", "--stage", "prod", *log, cwd=repo, env=env, name="deploy")

    title("A second change, reviewed and merged, is released as v0.1.1 and deployed")
    git("checkout", "-q", "-b", "regularise", cwd=repo, env=env)
    edit(repo / "models/churn/model.yaml", "params: {C: 1.0, max_iter: 1000}", "params: {C: 0.05, max_iter: 1000}")
    pull_request_step(repo, env, repo / "reports" / "pr-2", 0, "pr-2")
    git("commit", "-q", "-am", "churn: more regularisation", cwd=repo, env=env)
    git("checkout", "-q", "main", cwd=repo, env=env)
    git("merge", "-q", "--no-ff", "regularise", "-m", "Merge regularise", cwd=repo, env=env)
    mlship("release", "churn", cwd=repo, env=env, name="release-2")
    mlship("deploy", "churn", "--stage", "prod", *log, cwd=repo, env=env, name="deploy-2")

    title("A prediction over HTTP from the new version; then a month of traffic, logged by the service")
    ask(repo)
    traffic(repo)

    title("Roll prod back: v0.1.0 answers again")
    mlship("rollback", "churn", "--stage", "prod", *log, cwd=repo, env=env, name="rollback")
    ask(repo)

    title("The history: every version and every assignment is a git tag")
    mlship("history", "churn", cwd=repo, env=env, name="history")
    look("`git tag` in a repository of yours after a release: churn@v0.1.0, churn#prod#1, ...")


def ask(repo: Path) -> None:
    """POST one customer to the served churn model, and ask it which version it is."""
    import requests

    url = json.loads((repo / ".mlship/deploy/prod/churn.json").read_text())["server"]["url"]
    customer = {"region": "north", "plan": "premium", "contract": "month-to-month", "tenure_months": 3,
                "monthly_charges": 92.5, "support_calls": 4, "paperless_billing": "yes"}
    answer = requests.post(f"{url}/predict_proba", json={"records": [customer]}, timeout=30)
    answer.raise_for_status()
    served = requests.post(f"{url}/metadata", json={}, timeout=30).json()
    say(f"$ curl -X POST {url}/predict_proba  (one month-to-month customer with 3 months' tenure)")
    say(f"→ P(churn) = {answer.json()[0]['yes']:.3f}, answered by {served.get('release')} "
        f"(fingerprint {str(served.get('fingerprint'))[:12]}, from POST /metadata)")


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
    for start in range(0, rows, 100):
        requests.post(f"{url}/predict_proba", json={"records": records[start:start + 100]},
                      timeout=60).raise_for_status()
    say(f"→ {rows} new customers (shorter tenure, higher charges) sent, 100 a request; the service logged them")


def broken_spec(work: Path, env: dict[str, str]) -> None:
    project = work / "broken"
    shutil.copytree(ROOT / "models" / "cancer", project / "models" / "cancer")
    edit(project / "models/cancer/model.yaml", "seed: 42", "sede: 42")
    edit(project / "models/cancer/model.yaml", "metrics:", "metric:")
    title("A spec with two typos: each is named with its file, line and field (exit 2)")
    mlship("validate", cwd=project, env=env, expect=2, name="broken-spec",
           summary=lambda output: f"{output.count('error:')} problems, one line each; the first: "
                                  f"{first_line(output)}")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    print("mlship's four journeys on the example models in models/, step by step: each step shows its command "
          f"and what it said in one line; every full output is kept in {relative(OUT)}/.")
    with tempfile.TemporaryDirectory(prefix="mlship-demo-") as temporary:
        work = Path(temporary)
        env = {**os.environ, **GIT_IDENTITY, "MLSHIP_CACHE_DIR": str(work / "cache"),
               "BENTOML_DO_NOT_TRACK": "true", "GIT_CONFIG_NOSYSTEM": "1"}
        title("Check the example specs in models/")
        mlship("validate", cwd=ROOT, env=env, name="validate",
               summary=lambda output: f"{output.count('✅')} specs valid: " + ", ".join(
                   line.split()[1] for line in output.splitlines() if line.startswith("✅")))
        title("Train and evaluate every model on its held-out rows, and check its gates")
        mlship("train", cwd=ROOT, env=env, name="train", summary=models_line)
        look("each model's metrics, gates (✅) and held-out rows in the file above")
        title("Train again: nothing changed, so every model comes from the cache by its fingerprint")
        mlship("train", cwd=ROOT, env=env, name="train-again",
               summary=lambda output: f"{output.count('(from cache')} of {len(re.findall(r'^[✅❌] ', output, re.M))}"
                                      " models from the cache, nothing trained")
        repo = work / "repo"
        pull_request(repo, env)
        try:
            merge_and_deploy(repo, env)
        finally:
            subprocess.run([str(MLSHIP), "stop", "churn", "--stage", "prod"], cwd=repo, env=env, check=False,
                           capture_output=True)
        broken_spec(work, env)
        title("Drift: the traffic the service logged, against the training data (exit 1: customers changed)")
        mlship("drift", "churn", "--current", "logs", cwd=repo, env=env, expect=1, name="drift",
               summary=lambda output: first_line(output).lstrip("# "))
        shutil.copytree(repo / "reports", OUT / "reports")
        look(f"the drift report in {relative(OUT)}/reports/: which features moved, and by how much")
    print(f"\nDone. Everything each step printed, the PR comments and the reports are in {relative(OUT)}/.\n"
          "Next: edit a model in models/ and run `mlship train`, or `mlship pr --dry-run` on a branch.")


if __name__ == "__main__":
    main()
