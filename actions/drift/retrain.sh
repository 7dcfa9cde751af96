#!/usr/bin/env bash
# Propose retraining MLSHIP_MODEL on the drifted data: a branch pushed and a pull request
# opened with the retrain token, given to git through the environment (never written to disk).
set -euo pipefail
token="${GITHUB_TOKEN:?retrain needs the retrain-token input: a PAT or App token that may push and open pull requests}"
# shellcheck source=actions/common/git-auth.sh
source "$GITHUB_ACTION_PATH/../common/git-auth.sh"
git_auth "$token"
exec mlship retrain "${MLSHIP_MODEL:?}" --data "${MLSHIP_CURRENT:?}" --push \
  --note "Drift in ${MLSHIP_DRIFTED_FEATURES:-the predictions}, found by the scheduled drift check."
