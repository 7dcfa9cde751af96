#!/usr/bin/env bash
# Deploy MLSHIP_MODEL (MLSHIP_VERSION, else the latest) to MLSHIP_STAGE; the command writes the step outputs.
set -euo pipefail
args=(deploy "${MLSHIP_MODEL:?the model input is required}")
# shellcheck source=actions/deploy/target-args.sh
source "$GITHUB_ACTION_PATH/target-args.sh"
if [[ -n "${MLSHIP_VERSION:-}" ]]; then
  args+=(--version "$MLSHIP_VERSION")
fi
exec mlship "${args[@]}"
