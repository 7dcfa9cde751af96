#!/usr/bin/env bash
# The stand-in cache: MODE restore|save, KEY, RESTORE_KEYS (one per line), CACHE_PATH (one folder).
set -euo pipefail
store="$MLSHIP_STAND_INS/caches"
mkdir -p "$store"
target="${CACHE_PATH/#\~/$HOME}"
KEY="${KEY//$'\n'/}"  # act 0.2.89's github.sha can end in a newline on push events; GitHub's never does
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
    for entry in "$store/$prefix"*/; do  # the newest entry whose key starts with the prefix
      [[ -d "$entry" ]] || continue
      if [[ -z "$found" || "$entry" -nt "$store/$found" ]]; then
        found=$(basename "$entry")
      fi
    done
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
