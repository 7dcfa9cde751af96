#!/usr/bin/env bash
# The pip cache key: the runner's OS and Python, mlship's pinned dependencies, and the project's
# requirements files. The restore key falls back to the same OS, Python and pins.
set -euo pipefail
root="$GITHUB_ACTION_PATH/../.."
# shellcheck source=actions/setup/requirement-files.sh
source "$GITHUB_ACTION_PATH/requirement-files.sh"
pins=$(sha256sum "$root/constraints.txt" "$root/pyproject.toml" | sha256sum | cut -c1-16)
project=$(cat /dev/null "${files[@]}" | sha256sum | cut -c1-16)
python=$(python -c 'import platform; print(platform.python_version())')
prefix="mlship-pip-${RUNNER_OS:-local}-py${python}-${pins}-"
echo "key=${prefix}${project}" >> "$GITHUB_OUTPUT"
echo "restore-key=${prefix}" >> "$GITHUB_OUTPUT"
