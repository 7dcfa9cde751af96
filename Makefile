# The two commands of the README. Each sets up .venv when needed, then does its job.
# The install reruns only when pyproject.toml or constraints.txt changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export BENTOML_DO_NOT_TRACK := true

.PHONY: demo test bench mutation constraints clean

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n auto --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/data_hits.py
	$(BIN)/python benchmarks/pr_flow.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/drift_verdict.py
	$(BIN)/python benchmarks/drift_end_to_end.py
	$(BIN)/python benchmarks/verdicts.py --jobs 2

# Mutation testing of the verdict core ([tool.mutmut] in pyproject.toml): fails below 95% of tested
# mutants killed, or 90% of all. One thread per test process: scikit-learn's OpenMP pools and
# mutmut's forked workers otherwise fight over the two cores.
mutation: $(STAMP)
	rm -rf mutants
	OMP_NUM_THREADS=1 MLSHIP_HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut export-cicd-stats
	$(BIN)/python scripts/mutation_score.py

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $@

# Re-pin every dependency to what is installed now (after changing pyproject.toml).
constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .mlship dist build src/*.egg-info mutants
