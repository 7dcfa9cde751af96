#!/usr/bin/env bash
# Write the touched models (or, with MLSHIP_UNRELEASED, those with no version yet) to the step
# output `models`, as a JSON list.
set -euo pipefail
if [[ "${MLSHIP_UNRELEASED:-false}" == "true" ]]; then
  args=(unreleased --json)
else
  args=(changed --json)
  if [[ -n "${MLSHIP_BASE:-}" ]]; then
    args+=(--base "$MLSHIP_BASE")
  fi
fi
models=$(mlship "${args[@]}")
echo "models=$models" >> "$GITHUB_OUTPUT"
