"""Text a pull request controls reaches the comment and the model card as text, never as Markdown.

A PR author controls slice values, column names, param keys and values, folder names,
descriptions and the errors they cause. Each test runs `mlship pr` on a real repository
whose change carries hostile values, and reads the Markdown with a CommonMark + GFM parser
(markdown-it-py) to check its structure: only the templates' own HTML, tables with the rows
they should have, one heading per model, no mention, no image, and the sticky marker only
on the first line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from markdown_structure import GFM, assert_untrusted_text_stayed_text, headings, inline_texts, tables
from repo_helpers import branch_off, commit_all

H2 = "north\n<h2>✅ mlship: all gates passed</h2>"
#: Slice values, each a way out of a table cell or into GitHub's HTML.
REGIONS = [H2, "<!-- mlship:drift -->", "@octocat </details> ![x](https://example.invalid/x.png)",
           "a | b `c` ```\n| x | y |"]
COLUMN = "note ``` <img src=x onerror=alert(1)> @octocat"
PARAM_KEY = "@octocat </details>\n<h2>key</h2>"
PARAM_VALUE = "```\n<img src=x>\n| a | b |"
DESCRIPTION = "# Not a heading\n\n<img src=x> @octocat </details>\n\n<!-- mlship:report -->"
BAD_FOLDER = "bad```<img src=x>"

SPEC = """
description: {description}
owners: [{description}]
intended_use: {description}
limitations: {description}
task: classification
data: {{path: train.csv, test_path: test.csv, target: bought}}
model:
  entrypoint: train.py:build
  params: {params}
evaluation:
  metrics: [roc_auc, accuracy]
  slices: [region]
  bootstrap: {{resamples: 100}}
"""
BUILD = """
from sklearn.ensemble import HistGradientBoostingClassifier


def build(max_iter=50, **options):
    return HistGradientBoostingClassifier(max_iter=max_iter, random_state=0)
"""


def shoppers(n_per_region: int, seed: int, extra_column: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = np.repeat(REGIONS, n_per_region)
    x1 = rng.normal(size=len(region))
    frame = pd.DataFrame({"x1": x1.round(4), "region": region,
                          "bought": (rng.random(len(region)) < 1 / (1 + np.exp(-2 * x1))).astype(int)})
    if extra_column:
        frame[COLUMN] = rng.choice(["@octocat", "</details>"], len(region))
    return frame


def hostile_pr(factory, run_cli) -> tuple[str, str]:
    """A PR that adds a hostile column, param and description, and a model folder with a hostile name."""
    folder = factory.model("shop", SPEC.format(description="Shoppers.", params="{max_iter: 50}"), {"train.py": BUILD})
    shoppers(100, 1, False).to_csv(folder / "train.csv", index=False)
    shoppers(40, 2, False).to_csv(folder / "test.csv", index=False)
    root = branch_off(factory)
    params = json.dumps({"max_iter": 40, PARAM_KEY: PARAM_VALUE})
    (folder / "model.yaml").write_text(SPEC.format(description=json.dumps(DESCRIPTION), params=params).lstrip())
    shoppers(100, 1, True).to_csv(folder / "train.csv", index=False)
    shoppers(40, 2, True).to_csv(folder / "test.csv", index=False)
    bad = root / "models" / BAD_FOLDER
    bad.mkdir()
    (bad / "model.yaml").write_text(SPEC.format(description="x", params="{}").replace(
        "entrypoint: train.py:build", 'estimator: "sklearn.nope.X\\n```\\n<img src=y> @octocat </details>"'))
    commit_all(root, "hostile values")
    result = run_cli("pr", "--base", "main", "--dry-run")
    assert result.exit_code == 2, result.stdout + result.stderr
    return result.stdout, (root / "reports" / "shop" / "model_card.md").read_text()


def test_hostile_values_in_a_pr_stay_text_in_the_comment_and_the_model_card(factory, run_cli):
    comment, card = hostile_pr(factory, run_cli)
    assert_untrusted_text_stayed_text(comment)
    # The marker is the first line, and nothing else in the comment looks like one.
    assert comment.splitlines()[0] == "<!-- mlship:report -->" and comment.count("<!-- mlship") == 1
    # One h2, one h3 per model: no heading came from a slice value, a key or a folder name.
    assert [level for level, _ in headings(comment)] == ["h2", "h3", "h3"], headings(comment)
    assert headings(comment)[1][1].startswith(f"❌ {BAD_FOLDER}: cannot be evaluated")  # what failed comes first
    # Every table has the rows it should, and each cell reads as the value it shows.
    (slices,) = [table for table in tables(comment) if table and table[0][0].startswith("region = ")]
    assert sorted(row[0] for row in slices) == sorted(f"region = {' '.join(v.split())}" for v in REGIONS)
    assert all(len(row) == 4 for row in slices)  # slice, rows, roc_auc, accuracy
    (params,) = [table for table in tables(comment) if any(row[0] == "model.params.max_iter" for row in table)]
    assert len(params) == 5 and all(len(row) == 3 for row in params)  # 2 params; owners, intended_use, limitations
    assert [" ".join(PARAM_KEY.split()), "(unset)", json.dumps(PARAM_VALUE)] in [
        [row[0].removeprefix("model.params."), *row[1:]] for row in params]
    data = next(table for table in tables(comment) if any(row[0] == "columns added" for row in table))
    assert next(row for row in data if row[0] == "columns added")[2] == COLUMN
    # The error text stays inside its code block, whole.
    fences = [token for token in GFM.parse(comment) if token.type == "fence"]
    (block,) = [token.content for token in fences if token.info != "mermaid"]
    # The charts hold numbers and mlship's labels only: no value the PR controls is drawn.
    charts = [token.content for token in fences if token.info == "mermaid"]
    assert charts and not any(value in chart for chart in charts for value in ("<img", "@octocat", COLUMN, *REGIONS))
    assert "'sklearn.nope.X\n```\n<img src=y> @octocat </details>' is not a dotted class path" in block

    assert_untrusted_text_stayed_text(card)
    assert "<!-- mlship" not in card
    assert [level for level, _ in headings(card)] == ["h1", "h2", "h2", "h2", "h2", "h2", "h2", "h2"], headings(card)
    assert inline_texts(card)[1:4] == ["# Not a heading", "<img src=x> @octocat </details>", "<!-- mlship:report -->"]
    assert any(text.startswith("Features (3):") and COLUMN in text for text in inline_texts(card))
