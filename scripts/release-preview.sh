#!/usr/bin/env bash
# scripts/release-preview.sh — what a release's approvers see before they approve it: the tag's
# commit (checked to be on main), the digest the previous stage verified for it per service, and
# the `pulumi preview` of the stack pinned to exactly those digests. Writes all of it to the job
# summary and the digests to the step output `images` (a JSON map), which the gated job pins, so
# that it deploys what was shown even if a tag moved in the meantime.
#
# Usage: scripts/release-preview.sh <stack> <stage>      e.g. prod homolog
#
# Runs with read-only credentials (the prod-preview environment): `pulumi preview` takes no lock
# and writes no state, and the Kubernetes provider previews from its inputs when it may not
# dry-run. Env: ESTEIRA_COMMIT (else GITHUB_SHA) is the release's commit, GITHUB_REF_NAME its tag.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ $# -eq 2 && "$1" != -* ]] || usage
require_tools pulumi docker jq
stack=$1 stage=$2

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="release $stack"

sha="$(commit_sha)"
on_main "$sha" || die "commit ${sha:0:12} (${GITHUB_REF_NAME:-this ref}) is not on main: a release ships only reviewed, merged code" \
  "tag a commit of main"

workdir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/esteira-release.XXXXXX")"
trap 'rm -rf "$workdir"' EXIT
"$SCRIPTS/verified-images.sh" "$stack" "$stage" "$sha" >"$workdir/images.json"
"$SCRIPTS/pin-images.sh" "$stack" "$workdir/images.json"

# The preview's own exit status decides; its text goes to the approvers.
status=0
pulumi preview --diff --color never -s "$stack" 2>&1 | tee "$workdir/preview.txt" || status=$?

rows=()
while IFS=$'\t' read -r service ref; do rows+=("| $service | \`${ref%@*}\` | \`${ref#*@}\` |"); done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' "$workdir/images.json")
summary "## Release ${GITHUB_REF_NAME:-} to $stack" "" \
  "Commit \`$sha\`, on main. Each service ships the digest $stage verified for it:" "" \
  "| service | repository | digest |" "| --- | --- | --- |" "${rows[@]}" "" \
  "<details><summary>pulumi preview of $stack, pinned to these digests$([[ $status -eq 0 ]] || echo ' (FAILED)')</summary>" "" \
  '```' "$(tail -c 60000 "$workdir/preview.txt")" '```' "</details>"
[[ $status -eq 0 ]] || die "the preview of $stack failed (see above)" "fix the release, then tag a new commit"

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "images=$(jq -c . "$workdir/images.json")" >>"$GITHUB_OUTPUT"; fi
log "approvers see commit ${sha:0:12} and $(jq 'length' "$workdir/images.json") digest(s)"
