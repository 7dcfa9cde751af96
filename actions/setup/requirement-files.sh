#!/usr/bin/env bash
# Sourced by cache-key.sh and requirements.sh: the array `files` of the requirements files to
# install, from MLSHIP_REQUIREMENTS (whitespace-separated) and MLSHIP_MODELS ("", "*" or a name).
# shellcheck shell=bash
files=()
read -ra listed <<< "${MLSHIP_REQUIREMENTS:-}"
for file in "${listed[@]}"; do
  if [[ ! -f "$file" ]]; then
    echo "::error title=mlship setup::the requirements file $file does not exist (paths are relative to the working-directory)"
    exit 2
  fi
  files+=("$file")
done
case "${MLSHIP_MODELS:-}" in
  "") candidates=() ;;
  "*") candidates=(models/*/requirements.txt) ;;
  *) candidates=("models/$MLSHIP_MODELS/requirements.txt") ;;
esac
for file in "${candidates[@]}"; do
  if [[ -f "$file" ]]; then
    files+=("$file")
  fi
done
