#!/usr/bin/env bash
# restore: note when this job started using the cache. save: remove every entry whose manifest
# was not touched since (mlship touches an entry's manifest each time it uses it, and a new entry
# is made after the note), so only what this job used or trained is saved.
set -euo pipefail
cache="${MLSHIP_CACHE:?the cache folder is required}"
: "${MLSHIP_MODEL:?the model input is required}"
marker="$cache.started"
case "${MLSHIP_MODE:-}" in
  restore)
    mkdir -p "$cache"
    touch "$marker"
    ;;
  save)
    if [[ ! -f "$marker" ]]; then
      echo "::error title=mlship model cache::save runs after restore in the same job"
      exit 2
    fi
    mkdir -p "$cache"
    kept=0
    for entry in "$cache"/*/ "$cache"/.staging-*/; do
      [[ -d "$entry" ]] || continue
      if [[ -f "$entry/manifest.json" && "$entry/manifest.json" -nt "$marker" ]]; then
        kept=$((kept + 1))
      else
        rm -rf -- "$entry"
      fi
    done
    echo "saving the $kept cache entries this job used or trained"
    ;;
  *)
    echo "::error title=mlship model cache::mode is \"${MLSHIP_MODE:-}\": use restore or save"
    exit 2
    ;;
esac
