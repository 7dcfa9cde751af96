#!/usr/bin/env bash
# Write the touched models to the step output `models`, as a JSON list.
set -euo pipefail
args=(changed --json)
if [[ -n "${MLSHIP_BASE:-}" ]]; then
  args+=(--base "$MLSHIP_BASE")
fi
models=$(mlship "${args[@]}")
echo "models=$models" >> "$GITHUB_OUTPUT"
