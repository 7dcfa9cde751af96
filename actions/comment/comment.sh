#!/usr/bin/env bash
# Post a hand-off folder, or a body file to a pull request, as the sticky comment.
set -euo pipefail
if [[ -n "${MLSHIP_HANDOFF:-}" ]]; then
  exec mlship comment --handoff "$MLSHIP_HANDOFF" --verdict "${MLSHIP_VERDICT:-auto}"
fi
args=(comment --body-file "${MLSHIP_BODY_FILE:?give handoff or body-file}" --key "${MLSHIP_KEY:-report}")
if [[ -n "${MLSHIP_PR:-}" ]]; then
  args+=(--pr "$MLSHIP_PR")
fi
exec mlship "${args[@]}"
