#!/usr/bin/env bash
# scripts/sweep-review-stacks.sh — destroy the pr-<number> stacks whose pull request is closed
# (a `down` job that never ran, failed, or was cancelled). Run on a schedule by sweep.yml.
#
# Usage: scripts/sweep-review-stacks.sh [--dry-run]
#
# Lists the stacks in the review backend, asks the GitHub API for each pull request's state
# (GH_TOKEN, GITHUB_REPOSITORY) and runs scripts/review-down.sh for the closed ones. An open pull
# request's stack is left alone. A pull request the API cannot answer for, or a destroy that
# fails, is reported and makes the run fail after the others were handled.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
dry_run=false
case "${1:-}" in
  --dry-run) dry_run=true ;;
  "") ;;
  *) usage ;;
esac

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
LOG_PREFIX=sweep

[[ -n "${GITHUB_REPOSITORY:-}" ]] || die "GITHUB_REPOSITORY is not set" "set it to <owner>/<repository>"
if ! stacks="$(pulumi stack ls --json 2>&1)"; then
  die "cannot list the stacks in the backend: $stacks" "check the review environment's backend credentials"
fi
mapfile -t numbers < <(jq -r '.[].name | capture("(^|/)pr-(?<n>[0-9]+)$").n // empty' <<<"$stacks" | sort -un)
log "${#numbers[@]} pull-request stack(s) in the backend"

failed=0 swept=0
for n in "${numbers[@]}"; do
  if ! state="$(gh api "repos/$GITHUB_REPOSITORY/pulls/$n" --jq .state 2>&1)"; then
    log "ERROR: pr-$n: the GitHub API did not say whether pull request #$n is open: $state"
    failed=1
    continue
  fi
  if [[ "$state" != closed ]]; then
    log "pr-$n: pull request #$n is $state, kept"
    continue
  fi
  if $dry_run; then
    log "pr-$n: pull request #$n is closed: would destroy"
    continue
  fi
  log "pr-$n: pull request #$n is closed: destroying"
  if "$SCRIPTS/review-down.sh" "pr-$n"; then swept=$((swept + 1)); else
    log "ERROR: pr-$n: destroy failed"
    failed=1
  fi
done
log "swept $swept stack(s)"
exit "$failed"
