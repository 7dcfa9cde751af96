"""Generate data/churn.csv: a synthetic telecom churn table with a fixed seed.

Run it from anywhere (``python models/churn/generate_data.py``); the same seed always
writes the same bytes, and a test checks that the committed CSV matches.

Churn is drawn from a logistic model: short tenure, month-to-month contracts, many
support calls and high charges raise the odds; the south region churns a little more.
About 2% of monthly_charges and 3% of contract values are missing, as in real exports.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261122
ROWS = 4000
OUT = Path(__file__).parent / "data" / "churn.csv"


def generate(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], size=rows, p=[0.3, 0.25, 0.25, 0.2])
    plan = rng.choice(["basic", "standard", "premium"], size=rows, p=[0.5, 0.35, 0.15])
    contract = rng.choice(["month-to-month", "one-year", "two-year"], size=rows, p=[0.55, 0.25, 0.2])
    tenure = rng.integers(1, 73, size=rows)
    base_charge = {"basic": 25.0, "standard": 55.0, "premium": 95.0}
    monthly = np.array([base_charge[p] for p in plan]) + rng.normal(0, 8, size=rows)
    support_calls = rng.poisson(1.2, size=rows)
    paperless = rng.choice(["yes", "no"], size=rows, p=[0.6, 0.4])

    logit = (
        -1.2
        - 0.045 * tenure
        + np.select([contract == "month-to-month", contract == "one-year"], [1.4, 0.2], -0.8)
        + 0.45 * support_calls
        + 0.018 * (monthly - 50)
        + np.where(region == "south", 0.35, 0.0)
        + np.where(paperless == "yes", 0.2, 0.0)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))

    frame = pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in range(rows)],
        "region": region,
        "plan": plan,
        "contract": contract,
        "tenure_months": tenure,
        "monthly_charges": monthly.round(2),
        "support_calls": support_calls,
        "paperless_billing": paperless,
        "churned": np.where(churned, "yes", "no"),
    })
    frame.loc[rng.random(rows) < 0.02, "monthly_charges"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "contract"] = np.nan
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the CSV (default: {OUT})")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    generate().to_csv(args.out, index=False, lineterminator="\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
