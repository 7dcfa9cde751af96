"""Dates become numbers, identifiers and ambiguous dates are refused with the fix, and the
training summary says how each feature was treated: nothing is one-hot encoded silently."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

SPEC = """
task: regression
data:
  path: data/sales.csv
  target: amount
model:
  estimator: sklearn.linear_model.Ridge
"""


def sales(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Sales whose amount grows with the date (816 distinct days would be 816 categories), with a
    category, a boolean, missing values and an order number."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 816, n)
    frame = pd.DataFrame({
        "sold_on": (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
        "store": rng.choice(["a", "b", "c"], n),
        "promo": rng.choice([True, False], n),
        "size": np.where(rng.random(n) < 0.1, np.nan, rng.normal(10, 2, n).round(2)),
    })
    frame["amount"] = (100 + 0.5 * days + 10 * frame["promo"] + rng.normal(0, 5, n)).round(2)
    frame.loc[rng.random(n) < 0.05, "sold_on"] = None
    return frame


def test_a_date_column_becomes_numbers_and_the_summary_says_how_each_feature_was_treated(factory, run_cli):
    factory.model("sales", SPEC, {"data/sales.csv": sales().to_csv(index=False)})
    result = run_cli("train")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("   features:")
    assert [line.split(None, 1) for line in lines[start + 1:start + 5]] == [
        ["sold_on", "date: turned into days, year, month and weekday; missing values get the median, then scaled"],
        ["store", "category: 3 values, one-hot encoded; missing values get the most frequent"],
        ["promo", "true/false: one-hot encoded"],
        ["size", "number: missing values get the median, then scaled"],
    ]
    # The amount grows with the date: a model that sees the date as a number explains nearly all of it.
    r2 = float(next(line for line in lines if line.strip().startswith("r2")).split()[1])
    assert r2 > 0.9


def test_the_saved_model_reads_raw_dates_without_mlship_installed(factory, run_cli, tmp_path):
    factory.model("sales", SPEC, {"data/sales.csv": sales().to_csv(index=False)})
    assert run_cli("train").exit_code == 0
    (model_file,) = (factory.root / ".mlship" / "cache").rglob("model.pkl")
    script = (
        "import sys; sys.modules['mlship'] = None\n"  # any import of mlship now fails
        "import cloudpickle, pandas as pd\n"
        f"model = cloudpickle.load(open({str(model_file)!r}, 'rb'))\n"
        "rows = pd.DataFrame({'sold_on': ['2024-01-01', '2026-03-01', None], 'store': ['a', 'b', 'z'],"
        " 'promo': [False, False, True], 'size': [10.0, None, 9.0]})\n"
        "print(' '.join(f'{p:.0f}' for p in model.predict(rows)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    first, later, _ = (float(p) for p in done.stdout.split())
    assert 90 < first < 115 and later > first + 250  # 790 days later, 0.5 a day


def test_an_identifier_column_is_refused_with_the_fix(factory, run_cli):
    frame = sales().assign(order=[f"O-{i:05d}" for i in range(400)])
    factory.model("sales", SPEC, {"data/sales.csv": frame.to_csv(index=False)})
    for command in ("validate", "train"):
        result = run_cli(command)
        assert result.exit_code == 2
        assert result.stderr == (
            "error: models/sales/model.yaml:2: data: column 'order' looks like an identifier (400 distinct values in "
            "400 rows, e.g. 'O-00000'): one-hot encoding it learns nothing that carries to new rows. Leave it out "
            "(list the features to use in data.features, or make it data.split.key), or list it in data.categorical "
            "to encode it anyway\n")


def test_an_identifier_made_the_split_key_is_left_out_and_trains(factory, run_cli):
    frame = sales().assign(order=[f"O-{i:05d}" for i in range(400)])
    spec = SPEC.replace("  target: amount\n", "  target: amount\n  split: {key: order}\n")
    factory.model("sales", spec, {"data/sales.csv": frame.to_csv(index=False)})
    result = run_cli("train")
    assert result.exit_code == 0, result.stderr
    assert "order" not in result.stdout


def test_dates_of_an_ambiguous_form_are_refused_with_the_fix(factory, run_cli):
    frame = sales().assign(sold_on=lambda f: pd.to_datetime(f["sold_on"]).dt.strftime("%d/%m/%Y"))
    spec = SPEC.replace("  target: amount\n", "  target: amount\n  features: [store, sold_on]\n")
    factory.model("sales", spec, {"data/sales.csv": frame.to_csv(index=False)})
    result = run_cli("validate")
    assert result.exit_code == 2
    example = frame["sold_on"].dropna().iloc[0]
    assert result.stderr == (
        f"error: models/sales/model.yaml:5: data.features[1]: column 'sold_on' holds dates like {example!r}, whose day "
        "and month order is ambiguous: write them as ISO 8601 (YYYY-MM-DD), and mlship turns them into numbers; or "
        "list the column in data.categorical to encode each value as a category\n")


def test_a_column_listed_as_categorical_is_encoded_as_asked(factory, run_cli):
    frame = sales().assign(order=[f"O-{i:05d}" for i in range(400)])
    spec = SPEC.replace("  target: amount\n", "  target: amount\n  categorical: [order]\n")
    factory.model("sales", spec, {"data/sales.csv": frame.to_csv(index=False)})
    result = run_cli("train")
    assert result.exit_code == 0, result.stderr
    assert ("order    category (listed in data.categorical): 400 values, one-hot encoded, all but the 50 most "
            "frequent pooled as 'infrequent'; missing values get the most frequent") in result.stdout


def test_drift_sees_a_date_as_a_number_not_as_unseen_categories():
    from mlship.monitor.drift import Current, detect
    from mlship.spec import Monitoring
    from mlship.train.profile import profile_frame

    reference, same = sales(2000, seed=1)[["sold_on", "store"]], sales(2000, seed=2)[["sold_on", "store"]]
    later = same.assign(sold_on=lambda f: (pd.to_datetime(f["sold_on"]) + pd.Timedelta(days=400)).dt.strftime("%Y-%m-%d"))
    profile = {"model": "sales", "rows": len(reference), "predictions": {},
               "features": profile_frame(reference, ["store"], ["sold_on"])}
    assert profile["features"]["sold_on"]["kind"] == "date"
    verdicts = {name: detect(profile, Current(frame, "current.csv"), Monitoring()).drifted_features
                for name, frame in (("same", same), ("later", later))}
    assert verdicts == {"same": [], "later": ["sold_on"]}
