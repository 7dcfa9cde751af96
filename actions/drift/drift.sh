#!/usr/bin/env bash
# Check MLSHIP_MODEL's drift on MLSHIP_CURRENT. Exit code 1 (drift) is passed on as an
# output, so the later steps still run; 2 (bad data or configuration) fails the step.
set -euo pipefail
model="${MLSHIP_MODEL:?the model input is required}"
current="${MLSHIP_CURRENT:?the current input is required}"
current="${current//\{model\}/$model}"
echo "current=$current" >> "$GITHUB_OUTPUT"
args=(drift "$model" --current "$current")
if [[ -n "${MLSHIP_STAGE:-}" ]]; then
  args+=(--stage "$MLSHIP_STAGE")
fi
if [[ "${MLSHIP_ISSUE:-true}" == "true" ]]; then
  args+=(--issue)
fi
status=0
mlship "${args[@]}" > /dev/null || status=$?
echo "exit-code=$status" >> "$GITHUB_OUTPUT"
if [[ "$status" -ne 0 && "$status" -ne 1 ]]; then
  exit "$status"
fi
