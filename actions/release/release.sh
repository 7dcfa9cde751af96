#!/usr/bin/env bash
# Release MLSHIP_MODEL; the command writes the step outputs.
set -euo pipefail
if [[ -z "${MLSHIP_REGISTRY_DIR:-}" ]]; then
  unset MLSHIP_REGISTRY_DIR
fi
args=(release "${MLSHIP_MODEL:?the model input is required}" --backend "${MLSHIP_BACKEND:-github}")
if [[ "${MLSHIP_PUSH:-true}" == "true" ]]; then
  args+=(--push)
fi
if [[ "${MLSHIP_ALLOW_FAILED:-false}" == "true" ]]; then
  args+=(--allow-failed)
fi
exec mlship "${args[@]}"
