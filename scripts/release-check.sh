#!/usr/bin/env bash
# scripts/release-check.sh — the first step of a release, before anyone is asked to approve it: the
# release tag's commit, checked to be on main. Runs from main's checkout (deploy.yml's `release`
# job, no environment, no secret): the tag is read as data, none of its code runs here.
#
# Usage: scripts/release-check.sh <tag>        e.g. v1.4.0
#
# Prints the commit's full sha, and writes it to the step output `commit` in Actions. Fails when
# the tag is not a release tag (v…), does not exist, or names a commit that is not on main.
# Env: ESTEIRA_MAIN_BRANCH (default main).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ $# -eq 1 && "$1" != -* ]] || usage
require_tools git
tag=$1

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="release $tag"

[[ "$tag" =~ ^v[0-9A-Za-z._-]+$ ]] || die "'$tag' is not a release tag" "give the release's tag, e.g. v1.4.0 (the release input of Run workflow)"
git rev-parse --verify --quiet "refs/tags/$tag" >/dev/null ||
  git fetch --quiet --no-tags origin "+refs/tags/$tag:refs/tags/$tag" 2>/dev/null ||
  die "no tag $tag in this repository" "create it on a commit of main (release managers), then run the release again"
commit="$(git rev-parse --verify --quiet "refs/tags/$tag^{commit}")" || die "tag $tag names no commit" "tag a commit of main"
on_main "$commit" || die "tag $tag names commit ${commit:0:12}, which is not on main: a release ships only reviewed, merged code" \
  "tag a commit of main"

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "commit=$commit" >>"$GITHUB_OUTPUT"; fi
summary "## Release $tag" "" "Tag \`$tag\` names commit \`$commit\`, which is on main. Next: prod-preview's approval."
log "commit $commit, on main"
printf '%s\n' "$commit"
