#!/usr/bin/env bash
# Roll MLSHIP_STAGE of MLSHIP_MODEL back (to MLSHIP_VERSION, else the previous version); the command writes the step outputs.
set -euo pipefail
args=(rollback "${MLSHIP_MODEL:?the model input is required}")
# shellcheck source=actions/deploy/target-args.sh
source "$GITHUB_ACTION_PATH/../deploy/target-args.sh"
if [[ -n "${MLSHIP_VERSION:-}" ]]; then
  args+=(--to "$MLSHIP_VERSION")
fi
exec mlship "${args[@]}"
