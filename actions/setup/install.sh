#!/usr/bin/env bash
# Install mlship from this action's checkout, every dependency at its pinned version.
set -euo pipefail
root="$GITHUB_ACTION_PATH/../.."
python -m pip install --disable-pip-version-check --quiet --constraint "$root/constraints.txt" "$root"
echo "mlship-version=$(mlship --version | awk '{print $NF}')" >> "$GITHUB_OUTPUT"
echo "BENTOML_DO_NOT_TRACK=true" >> "$GITHUB_ENV"
if [[ -z "${MLSHIP_CACHE_DIR:-}" ]]; then
  echo "MLSHIP_CACHE_DIR=${RUNNER_TEMP:?}/mlship-cache" >> "$GITHUB_ENV"
fi
