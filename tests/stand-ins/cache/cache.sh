#!/usr/bin/env bash
# The stand-in cache: MODE restore|save, KEY, RESTORE_KEYS (one per line), CACHE_PATH (one folder).
set -euo pipefail
store="$MLSHIP_STAND_INS/caches"
mkdir -p "$store"
target="${CACHE_PATH/#\~/$HOME}"
if [[ "$MODE" == "save" ]]; then
  if [[ -e "$store/$KEY" ]]; then echo "stand-in cache: $KEY exists"; exit 0; fi
  mkdir -p "$store/.new"
  cp -a "$target" "$store/.new/content"
  mv "$store/.new" "$store/$KEY"
  echo "stand-in cache: saved $KEY"
  exit 0
fi
found=""
if [[ -d "$store/$KEY" ]]; then
  found="$KEY"; echo "cache-hit=true" >> "$GITHUB_OUTPUT"
else
  echo "cache-hit=false" >> "$GITHUB_OUTPUT"
  while IFS= read -r prefix; do
    [[ -n "$prefix" ]] || continue
    found=$(cd "$store" && ls -1t | grep -F -- "$prefix" | while read -r k; do [[ "$k" == "$prefix"* ]] && echo "$k"; done | head -n1 || true)
    [[ -z "$found" ]] || break
  done <<< "${RESTORE_KEYS:-}"
fi
if [[ -n "$found" ]]; then
  mkdir -p "$target"
  cp -a "$store/$found/content/." "$target/"
  echo "cache-matched-key=$found" >> "$GITHUB_OUTPUT"
  echo "stand-in cache: restored $found"
else
  echo "stand-in cache: miss"
fi
