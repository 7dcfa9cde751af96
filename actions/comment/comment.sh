#!/usr/bin/env bash
# Post a hand-off folder (or a folder of them, one per artifact downloaded), or a body file to a
# pull request, as the sticky comment.
set -euo pipefail
if [[ -n "${MLSHIP_HANDOFF:-}" ]]; then
  if [[ -f "$MLSHIP_HANDOFF/pr.json" ]]; then
    exec mlship comment --handoff "$MLSHIP_HANDOFF" --verdict "${MLSHIP_VERDICT:-auto}"
  fi
  posted=0
  for folder in "$MLSHIP_HANDOFF"/*/; do
    if [[ -f "$folder/pr.json" ]]; then
      mlship comment --handoff "$folder" --verdict "${MLSHIP_VERDICT:-auto}"
      posted=$((posted + 1))
    fi
  done
  if [[ "$posted" -eq 0 ]]; then
    echo "::error title=mlship comment::no hand-off (pr.json) in $MLSHIP_HANDOFF"
    exit 2
  fi
  exit 0
fi
args=(comment --body-file "${MLSHIP_BODY_FILE:?give handoff or body-file}" --key "${MLSHIP_KEY:-report}")
if [[ -n "${MLSHIP_PR:-}" ]]; then
  args+=(--pr "$MLSHIP_PR")
fi
exec mlship "${args[@]}"
