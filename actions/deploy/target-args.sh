#!/usr/bin/env bash
# Sourced by deploy.sh and rollback.sh: the options both pass to mlship, from the inputs.
# shellcheck shell=bash
args+=(--stage "${MLSHIP_STAGE:?the stage input is required}" --backend "${MLSHIP_BACKEND:-github}")
args+=(--target "${MLSHIP_TARGET:-kubernetes}")
if [[ -z "${MLSHIP_REGISTRY_DIR:-}" ]]; then
  unset MLSHIP_REGISTRY_DIR
fi
if [[ -z "${MLSHIP_IMAGE_REGISTRY:-}" ]]; then
  unset MLSHIP_IMAGE_REGISTRY
fi
if [[ "${MLSHIP_BUILD_IMAGE:-false}" == "true" ]]; then
  args+=(--push-image)
fi
if [[ "${MLSHIP_PUSH:-true}" == "true" ]]; then
  args+=(--push)
fi
