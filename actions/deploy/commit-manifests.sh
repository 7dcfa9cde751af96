#!/usr/bin/env bash
# Commit the changed manifests file and push it to the branch this run is on, for the
# GitOps controller to sync. Another run may push first: then rebase and try again.
set -euo pipefail
manifest="${MLSHIP_MANIFEST:?the manifests file is required}"
branch="${GITHUB_REF_NAME:?the branch to push to is required}"
git add -- "$manifest"
if git diff --cached --quiet -- "$manifest"; then
  echo "$manifest is unchanged: nothing to commit"
  exit 0
fi
git commit --quiet -m "${MLSHIP_MESSAGE:-deploy}" -- "$manifest"
for attempt in 1 2 3; do
  if git push --quiet origin "HEAD:refs/heads/$branch"; then
    echo "pushed $manifest to $branch"
    exit 0
  fi
  echo "the push of $manifest was rejected (attempt $attempt): rebasing on origin/$branch"
  git pull --quiet --rebase origin "$branch"
done
echo "::error::could not push $manifest to $branch after 3 attempts"
exit 1
