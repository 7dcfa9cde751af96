#!/usr/bin/env bash
# Install mlship from this action's checkout, every dependency at its pinned version. With
# MLSHIP_WHEEL (a wheel of this same version, e.g. the one a CI built and tested), install that instead.
set -euo pipefail
root="$GITHUB_ACTION_PATH/../.."
source=("$root")
if [[ -n "${MLSHIP_WHEEL:-}" ]]; then
  wanted=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/src/mlship/__init__.py")
  if [[ "$(basename "$MLSHIP_WHEEL")" != "mlship_gitops-$wanted-"*.whl ]]; then
    echo "::error title=mlship setup::MLSHIP_WHEEL is $MLSHIP_WHEEL, not a wheel of mlship-gitops $wanted (this action's version)"
    exit 2
  fi
  source=("$MLSHIP_WHEEL")
fi
python -m pip install --disable-pip-version-check --quiet --constraint "$root/constraints.txt" "${source[@]}"
echo "mlship-version=$(mlship --version | awk '{print $NF}')" >> "$GITHUB_OUTPUT"
echo "BENTOML_DO_NOT_TRACK=true" >> "$GITHUB_ENV"
echo "MLSHIP_ACTIONS=$(cd "$root" && pwd -P)" >> "$GITHUB_ENV" # the other actions check they are of this commit
if [[ -z "${MLSHIP_CACHE_DIR:-}" ]]; then
  echo "MLSHIP_CACHE_DIR=${RUNNER_TEMP:?}/mlship-cache" >> "$GITHUB_ENV"
fi
