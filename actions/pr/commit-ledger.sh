#!/usr/bin/env bash
# Commit the ledger (reports/<model>/) that `mlship pr` wrote onto the pull request's
# branch, and set the verdict on that new commit: a push made with the workflow's token
# starts no workflow, so the required check must be set here. Runs no model code.
set -euo pipefail
branch="${GITHUB_HEAD_REF:?commit-ledger works on pull_request events}"
# shellcheck source=actions/common/git-auth.sh
source "$GITHUB_ACTION_PATH/../common/git-auth.sh"
git_auth "${GITHUB_TOKEN:?the token is required}"
prefix=$(git rev-parse --show-prefix)
git fetch --quiet --no-tags origin "refs/heads/$branch"
worktree=$(mktemp -d)
trap 'git worktree remove --force "$worktree"' EXIT
git worktree add --quiet --detach "$worktree" FETCH_HEAD
for folder in reports/*/; do
  name=$(basename "$folder")
  if [[ "$name" == pr-* ]]; then
    continue
  fi
  rm -rf "${worktree:?}/$prefix$folder"
  mkdir -p "$worktree/$prefix$folder"
  cp -R "$folder." "$worktree/$prefix$folder"
done
git -C "$worktree" add -- "${prefix}reports"
if git -C "$worktree" diff --cached --quiet; then
  echo "the ledger on $branch is up to date: nothing to commit"
  echo "sha=" >> "$GITHUB_OUTPUT"
  exit 0
fi
git -C "$worktree" -c user.name="${GIT_USER_NAME:-github-actions[bot]}" \
  -c user.email="${GIT_USER_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}" \
  commit --quiet -m "mlship: the ledger of this change (reports/)"
sha=$(git -C "$worktree" rev-parse HEAD)
git -C "$worktree" push --quiet origin "HEAD:refs/heads/$branch"
echo "sha=$sha" >> "$GITHUB_OUTPUT"
mlship comment --handoff "$MLSHIP_HANDOFF" --verdict "${MLSHIP_VERDICT:-auto}" --sha "$sha"
