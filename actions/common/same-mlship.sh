#!/usr/bin/env bash
# Fail at once, with the fix, when the mlship installed in this job is not the one of this
# action's commit: pinning each action to a commit must run that commit's code, and a setup
# action pinned to another commit than this one would silently mix two versions.
set -euo pipefail
root=$(cd "$GITHUB_ACTION_PATH/../.." && pwd -P)
action=$(basename "$GITHUB_ACTION_PATH")
if [[ -n "${MLSHIP_ACTIONS:-}" ]]; then
  if [[ "$MLSHIP_ACTIONS" != "$root" ]]; then
    echo "::error title=mlship $action::mlship was installed by the setup action at $MLSHIP_ACTIONS, but this action is at $root: pin actions/setup and actions/$action to the same commit"
    exit 2
  fi
  exit 0
fi
wanted=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/src/mlship/__init__.py")
if ! installed=$(mlship --version 2>/dev/null); then
  echo "::error title=mlship $action::mlship is not installed: run mlship's actions/setup, pinned to the same commit as actions/$action, first"
  exit 2
fi
if [[ "${installed##* }" != "$wanted" ]]; then
  echo "::error title=mlship $action::the installed mlship is ${installed##* }, but this action is mlship $wanted: install it with actions/setup pinned to the same commit as actions/$action"
  exit 2
fi
