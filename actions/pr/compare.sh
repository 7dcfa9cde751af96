#!/usr/bin/env bash
# Compare the touched models (or only MLSHIP_MODEL) and write the hand-off. No token
# reaches this step: the models' code (entrypoints, pickles) comes from the pull
# request and is untrusted. The exit code is passed on as an output, so that the
# posting step still runs; the action's last step exits with it.
set -euo pipefail
if [[ -n "${MLSHIP_MODEL:-}" ]]; then
  args=(pr --dry-run --model "$MLSHIP_MODEL")
else
  args=(pr --handoff "${MLSHIP_HANDOFF:?the handoff folder is required}" --key "${MLSHIP_KEY:-report}")
fi
if [[ -n "${MLSHIP_BASE:-}" ]]; then
  args+=(--base "$MLSHIP_BASE")
fi
if [[ "${MLSHIP_STATUS_PER_MODEL:-false}" == "true" ]]; then
  args+=(--status-per-model)
fi
status=0
env -u GITHUB_TOKEN -u ACTIONS_RUNTIME_TOKEN -u ACTIONS_ID_TOKEN_REQUEST_TOKEN mlship "${args[@]}" || status=$?
echo "exit-code=$status" >> "$GITHUB_OUTPUT"
