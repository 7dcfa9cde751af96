#!/usr/bin/env bash
# Install the project's requirements files (the requirements input, and the models' own
# requirements.txt). They come from the pull request, so no token is in reach while pip runs,
# and mlship's dependencies are held at the versions installed with it.
set -euo pipefail
# shellcheck source=actions/setup/requirement-files.sh
source "$GITHUB_ACTION_PATH/requirement-files.sh"
if [[ ${#files[@]} -eq 0 ]]; then
  echo "no requirements files to install"
  exit 0
fi
held="${RUNNER_TEMP:?}/mlship-installed.txt"
python -m pip freeze --exclude mlship-gitops > "$held"
args=(--disable-pip-version-check --quiet --constraint "$held")
for file in "${files[@]}"; do
  echo "installing $file"
  args+=(--requirement "$file")
done
env -u GITHUB_TOKEN -u ACTIONS_RUNTIME_TOKEN -u ACTIONS_ID_TOKEN_REQUEST_TOKEN python -m pip install "${args[@]}"
