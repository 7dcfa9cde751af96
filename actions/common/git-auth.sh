#!/usr/bin/env bash
# Sourced by the scripts that push (commit-ledger.sh, retrain.sh): `git_auth TOKEN` makes git
# authenticate to GitHub with TOKEN, as actions/checkout does, through the environment only (never
# written to disk, never on a command line). A job whose checkout kept its credentials already has an
# Authorization header for the server: the empty value first resets git's list of extra headers for
# that URL, so exactly one header is sent, this one (two make GitHub answer 400 "Duplicate header",
# and a URL-less `http.extraheader` would lose to the checkout's URL-specific one).
# shellcheck shell=bash
git_auth() {
  local token="${1:?git_auth needs a token}" server="${GITHUB_SERVER_URL:-https://github.com}" basic
  basic=$(printf 'x-access-token:%s' "$token" | base64 -w0)
  echo "::add-mask::$basic"
  export GIT_CONFIG_COUNT=2
  export GIT_CONFIG_KEY_0="http.$server/.extraheader" GIT_CONFIG_VALUE_0=""
  export GIT_CONFIG_KEY_1="http.$server/.extraheader" GIT_CONFIG_VALUE_1="AUTHORIZATION: basic $basic"
}
