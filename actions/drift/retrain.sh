#!/usr/bin/env bash
# Propose retraining MLSHIP_MODEL on the drifted data: a branch pushed and a pull request
# opened with the retrain token, given to git through the environment (never written to disk).
set -euo pipefail
token="${GITHUB_TOKEN:?retrain needs the retrain-token input: a PAT or App token that may push and open pull requests}"
header="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$token" | base64 -w0)"
echo "::add-mask::${header#AUTHORIZATION: basic }"
export GIT_CONFIG_COUNT=1
export GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader"
export GIT_CONFIG_VALUE_0="$header"
exec mlship retrain "${MLSHIP_MODEL:?}" --data "${MLSHIP_CURRENT:?}" --push \
  --note "Drift in ${MLSHIP_DRIFTED_FEATURES:-the predictions}, found by the scheduled drift check."
