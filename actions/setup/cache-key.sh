#!/usr/bin/env bash
# The pip cache key: the runner's OS and Python, and the pinned dependencies.
set -euo pipefail
root="$GITHUB_ACTION_PATH/../.."
digest=$(sha256sum "$root/constraints.txt" "$root/pyproject.toml" | sha256sum | cut -c1-16)
python=$(python -c 'import platform; print(platform.python_version())')
echo "key=mlship-pip-${RUNNER_OS:-local}-py${python}-${digest}" >> "$GITHUB_OUTPUT"
