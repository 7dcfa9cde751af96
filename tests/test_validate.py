"""`mlship validate` checks everything `mlship train` will, and lists every problem in one run."""

from __future__ import annotations

import numpy as np
import pandas as pd

BROKEN = """
task: regression
data:
  path: data/houses.csv
  target: prce
  features: [rooms, area, colour, rooms_total]
  categorical: [zone]
model:
  estimator: sklearn.ensemble.HistGradientBoostingRegressor
  params: {max_iter: -5, learning_rate: fast, max_leaf: 3}
evaluation:
  slices: [regoin]
"""


def houses(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rooms": rng.integers(1, 8, n), "area": rng.normal(90, 20, n).round(1),
                          "region": rng.choice(["north", "south"], n)})
    frame["price"] = (frame["area"] * 1000 + rng.normal(0, 5000, n)).round(0)
    return frame


def test_validate_lists_every_problem_of_a_broken_spec_in_one_run(factory, run_cli):
    factory.model("houses", BROKEN, {"data/houses.csv": houses().to_csv(index=False)})
    result = run_cli("validate")
    assert result.exit_code == 2
    assert result.stdout == ""
    columns = "Columns: rooms, area, region, price"
    spec = "models/houses/model.yaml"
    assert result.stderr.splitlines() == [
        f"error: {spec}:9: model.params.max_leaf: HistGradientBoostingRegressor has no parameter 'max_leaf'"
        " (did you mean 'max_leaf_nodes'?). Parameters: " + result.stderr.split("Parameters: ")[1].splitlines()[0],
        f"error: {spec}:9: model.params.max_iter: The 'max_iter' parameter of HistGradientBoostingRegressor must "
        "be an int in the range [1, inf). Got -5 instead.",
        f"error: {spec}:9: model.params.learning_rate: The 'learning_rate' parameter of HistGradientBoostingRegressor "
        "must be a float in the range (0.0, inf). Got 'fast' instead.",
        f"error: {spec}:4: data.target: target column 'prce' is not in data/houses.csv (did you mean 'price'?). {columns}",
        f"error: {spec}:5: data.features[2]: column 'colour' is not in data/houses.csv. {columns}",
        f"error: {spec}:5: data.features[3]: column 'rooms_total' is not in data/houses.csv (did you mean 'rooms'?). "
        f"{columns}",
        f"error: {spec}:6: data.categorical[0]: column 'zone' is not in data/houses.csv. {columns}",
        f"error: {spec}:11: evaluation.slices[0]: slice column 'regoin' is not in data/houses.csv "
        f"(did you mean 'region'?). {columns}",
    ]


def test_validate_reports_a_missing_data_file_instead_of_passing(factory, run_cli):
    factory.model("houses", BROKEN.replace("houses.csv", "nope.csv").replace("max_leaf: 3", "max_depth: 3")
                  .replace("-5", "5").replace("fast", "0.1"))
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "✅" not in result.stdout
    assert result.stderr == ("error: models/houses/model.yaml:3: data.path: data file models/houses/data/nope.csv "
                             "does not exist (paths are relative to the model folder)\n")


def test_validate_checks_the_target_type_and_the_split_as_train_does(factory, run_cli):
    frame = houses().assign(price=lambda f: np.where(f["rooms"] > 3, "high", "low"))
    spec = BROKEN.replace("prce", "price").replace("[rooms, area, colour, rooms_total]", "[rooms, area]")
    spec = spec.replace("  categorical: [zone]\n", "").replace("[regoin]", "[region]")
    spec = spec.replace("max_iter: -5, learning_rate: fast, max_leaf: 3", "max_iter: 10")
    factory.model("houses", spec, {"data/houses.csv": frame.to_csv(index=False)})
    result = run_cli("validate")
    assert result.exit_code == 2
    assert result.stderr == ("error: models/houses/model.yaml:4: data.target: target 'price' in data/houses.csv must "
                             "be numeric for regression, but holds values like 'high', 'low'; for categories, set "
                             "task: classification\n")


def test_a_spec_that_validates_also_trains(factory, run_cli):
    spec = BROKEN.replace("prce", "price").replace("[rooms, area, colour, rooms_total]", "[rooms, area]")
    spec = spec.replace("  categorical: [zone]\n", "").replace("[regoin]", "[region]")
    spec = spec.replace("max_iter: -5, learning_rate: fast, max_leaf: 3", "max_iter: 10")
    factory.model("houses", spec, {"data/houses.csv": houses().to_csv(index=False)})
    validated = run_cli("validate")
    assert validated.exit_code == 0, validated.stderr
    assert run_cli("train").exit_code == 0
