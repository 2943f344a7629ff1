#!/usr/bin/env bash
# scripts/review-down.sh — destroy a pull request's environment and remove its stack.
#
# Usage: scripts/review-down.sh pr-<number>
#
# Works from the stack's state alone (no program runs), so it can run from main's checkout once
# the pull request is closed. "No such stack" is decided from the backend's list of stacks; any
# other failure (expired credentials, an unreachable backend, a failed destroy) fails loudly
# instead of leaving an environment behind unnoticed. Pushed images are kept.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[[ $# -eq 1 && "$1" =~ ^pr-[0-9]+$ ]] || usage
stack=$1

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="review $stack"

if ! stacks="$(pulumi stack ls --json 2>&1)"; then
  die "cannot list the stacks in the backend: $stacks" "check the review environment's backend credentials and PULUMI_BACKEND_URL"
fi
if ! jq -e --arg s "$stack" 'any(.[]; .name == $s or (.name | endswith("/" + $s)))' <<<"$stacks" >/dev/null; then
  log "no stack $stack in the backend: nothing to destroy"
  exit 0
fi
pulumi destroy --yes --skip-preview -s "$stack"
pulumi stack rm --yes -s "$stack"
log "destroyed and removed"
