"""Pictures in the PR comment: baseline vs candidate curves as Mermaid charts, which GitHub draws.

A repository holding the example classifier (cancer) and regressor (diabetes) on main gets a branch
that changes both; `mlship pr --dry-run` writes the comment. Its charts are checked as numbers, then
drawn by Mermaid's own renderer in headless Chromium (both fetched from package registries into
.cache/ by scripts/render_comment.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import EXAMPLE_MODELS, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "render_comment.py"


def renderer():
    spec = importlib.util.spec_from_file_location("render_comment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def comment(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("pictures") / "repo"
    for name in ("cancer", "diabetes"):
        shutil.copytree(EXAMPLE_MODELS / name, root / "models" / name)
    (root / ".gitignore").write_text(".mlship/\nreports/pr-*\n")
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@mlship.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@mlship.invalid"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env={**os.environ, **env})

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "models")
    git("checkout", "-q", "-b", "change")
    spec = root / "models/cancer/model.yaml"
    spec.write_text(spec.read_text().replace("C: 0.5", "C: 0.01"))
    diabetes = root / "models/diabetes/model.yaml"
    diabetes.write_text(diabetes.read_text() + "\n# a comment changes the fingerprint\n")
    git("commit", "-q", "-am", "change both")
    from click.testing import CliRunner

    from mlship.cli import cli

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLSHIP_CACHE_DIR", str(root / ".mlship" / "cache"))
        result = CliRunner().invoke(cli, ["-C", str(root), "pr", "--base", "main", "--dry-run", "--out", str(root / "out")],
                                    catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return (root / "out" / "pr-comment.md").read_text()


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def series(block: str) -> list[list[float]]:
    return [[float(v) for v in line.split("[", 1)[1].rstrip("]").split(",")]
            for line in block.splitlines() if line.strip().startswith("line [")]


def test_each_model_has_its_curves_in_a_collapsed_section_of_the_comment(comment):
    sections = re.split(r"^### ", comment, flags=re.MULTILINE)[1:]
    by_model = {re.search(r"`(\w+)`", section).group(1): section for section in sections}
    cancer, diabetes = mermaid_blocks(by_model["cancer"]), mermaid_blocks(by_model["diabetes"])
    assert [re.search(r'title "(.*)"', b).group(1) for b in cancer] == ["ROC curve", "Calibration"]
    assert [re.search(r'title "(.*)"', b).group(1) for b in diabetes] == [
        "Predicted vs actual (mean per decile of actual)", "Residuals (actual − predicted)"]
    for section in (by_model["cancer"], by_model["diabetes"]):
        assert "<details><summary>Curves: baseline vs candidate on the compared rows</summary>" in section
        assert section.index("<details><summary>Curves") < section.index("```mermaid")
        assert "Grey: baseline · blue: candidate" in section
    roc = series(cancer[0])
    assert len(roc) == 3 and all(len(s) == 21 for s in roc)
    baseline, candidate, chance = roc
    assert chance == pytest.approx([i / 20 for i in range(21)])
    for curve in (baseline, candidate):  # a ROC curve climbs from its start to 1
        assert curve == sorted(curve) and curve[-1] == 1.0 and all(0 <= v <= 1 for v in curve)
    assert baseline != candidate, "C 0.5 → 0.01 changes the scores"
    predicted = series(diabetes[0])
    assert len(predicted) == 3 and predicted[2] == sorted(predicted[2]), "the actual deciles, in order"
    residuals = series(diabetes[1])
    assert len(residuals) == 2 and all(sum(s) == pytest.approx(1.0, abs=1e-3) for s in residuals)
    assert len(comment) < 65_536


def test_mermaid_draws_every_chart_of_the_comment_in_headless_chromium(comment, tmp_path):
    module = renderer()
    try:
        dom = module.render(comment, tmp_path)
    except module.Unavailable as why:
        pytest.skip(f"Chromium or Mermaid cannot be fetched here: {why}")
    assert 'data-rendered="yes"' in dom, re.search(r'data-rendered="[^"]*"', dom)
    charts = re.findall(r'<svg[^>]*aria-roledescription="xychart".*?</svg>', dom, flags=re.DOTALL)
    assert len(charts) == len(mermaid_blocks(comment)) == 4
    for chart, block in zip(charts, mermaid_blocks(comment)):
        title = re.search(r'title "(.*)"', block).group(1)
        assert title in chart

        assert len(set(re.findall(r"line-plot-(\d+)", chart))) == len(series(block)), title
    assert "Syntax error" not in dom
