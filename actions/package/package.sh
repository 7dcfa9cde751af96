#!/usr/bin/env bash
# Package MLSHIP_MODEL; the command writes the step outputs.
set -euo pipefail
args=(package "${MLSHIP_MODEL:?the model input is required}")
if [[ "${MLSHIP_ALLOW_FAILED:-false}" == "true" ]]; then
  args+=(--allow-failed)
fi
exec mlship "${args[@]}"
