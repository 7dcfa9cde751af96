"""The default verdict fails on a major shift of one feature, and ranks the features by importance.

The breast-cancer example (30 features, logistic regression) trained for real; its data with
'mean radius' scaled by 1.6 is 1 drifted feature of 30, far below the 50% share rule, yet
a shift no model should be trusted through.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from churn_repos import hermetic, mlship
from mlship.monitor.current import Current
from mlship.monitor.drift import detect
from mlship.spec import Monitoring
from mlship.train.profile import profile_frame

EXAMPLE = Path(__file__).resolve().parents[2] / "models" / "cancer"


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        hermetic(patch, tmp_path_factory.mktemp("home"))
        root = tmp_path_factory.mktemp("cancer") / "project"
        shutil.copytree(EXAMPLE, root / "models" / "cancer")
        yield root


def table(tmp_path: Path, radius_factor: float) -> Path:
    frame = load_breast_cancer(as_frame=True).frame
    frame["mean radius"] *= radius_factor
    path = tmp_path / f"recent-{radius_factor}.csv"
    frame.to_csv(path, index=False)
    return path


def test_one_feature_scaled_by_1_6_fails_and_is_named_while_the_same_data_passes(cancer, tmp_path):
    shifted = mlship(cancer, "drift", "cancer", "--current", str(table(tmp_path, 1.6)), "--out", str(tmp_path))
    assert shifted.exit_code == 1, shifted.stdout + shifted.stderr
    headline = shifted.stdout.splitlines()[0]
    assert headline.startswith("## ❌ Drift of `cancer`: drift: a major shift of 'mean radius' (PSI ")
    assert "outside the training range" in headline
    result = json.loads((tmp_path / "drift-cancer.json").read_text())
    assert result["major_features"] == ["mean radius"] and not result["dataset_drift"]
    assert "| `mean radius` | number |" in shifted.stdout and "❌ major shift" in shifted.stdout

    same = mlship(cancer, "drift", "cancer", "--current", str(table(tmp_path, 1.0)), "--out", str(tmp_path))
    assert same.exit_code == 0, same.stdout
    assert same.stdout.startswith("## ✅ Drift of `cancer`: no drift")


def test_the_report_lists_features_by_their_permutation_importance(cancer, tmp_path):
    done = mlship(cancer, "drift", "cancer", "--current", str(table(tmp_path, 1.0)), "--out", str(tmp_path))
    result = json.loads((tmp_path / "drift-cancer.json").read_text())
    importance = result["importance"]
    assert set(importance) == set(load_breast_cancer().feature_names) and max(importance.values()) > 0
    rows = [line.split("|")[1].strip(" `") for line in done.stdout.splitlines()
            if line.startswith("| `") and line.split("|")[2].strip() == "number"]
    assert rows[:30] == sorted(importance, key=lambda name: -importance[name])
    assert "Most important to the model first (importance: the drop in roc_auc" in done.stdout


# --- the rule on generated data --------------------------------------------------------------


def generated(rows: int, rng: np.random.Generator, shift: float = 0.0, scale: float = 1.0) -> pd.DataFrame:
    columns = {f"x{i}": rng.normal(0, 1, rows) for i in range(10)}
    columns["x0"] = columns["x0"] * scale + shift
    return pd.DataFrame(columns)


def judged(reference: pd.DataFrame, current: pd.DataFrame, **settings):
    profile = {"model": "generated", "rows": len(reference), "features": profile_frame(reference, []),
               "predictions": {}}
    return detect(profile, Current(current, "current.csv"), Monitoring(**settings))


def test_a_major_shift_needs_a_large_psi_or_values_outside_the_training_range():
    rng = np.random.default_rng(3)
    reference = generated(3000, rng)
    minor = judged(reference, generated(2000, rng, shift=0.25))  # drifted (W 0.25 sd), PSI about 0.06
    assert minor.drifted_features == ["x0"] and not minor.major_shift and minor.exit_code == 0
    major = judged(reference, generated(2000, rng, shift=1.0))  # PSI about 1
    assert major.major_features == ["x0"] and major.exit_code == 1
    assert judged(reference, generated(2000, rng, shift=1.0), major_psi=5).exit_code == 0
    wider = judged(reference, generated(2000, rng, scale=2.5), major_psi=5)  # a sixth beyond the range
    assert wider.features[0].out_of_range > 0.1 and wider.major_features == ["x0"]
    assert judged(reference, generated(2000, rng, scale=2.5), major_psi=5, major_out_of_range=0.5).exit_code == 0
