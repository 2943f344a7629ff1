#!/usr/bin/env bash
# scripts/dispatch-deploy.sh — the deploy workflow's "Run workflow": deploy to one environment the
# digests a stage verified for a chosen commit, for every service or a chosen subset (the others
# keep the digest they run), through the same steps as every deploy (scripts/deploy.sh).
#
# Usage: scripts/dispatch-deploy.sh <stack> [commit] [service…]
#
# The stage whose verification is deployed comes from the stack file (promotion_stage,
# scripts/delivery-lib.sh): the stack's own for one that builds (dev: a redeploy of an earlier
# build), else the stage its image.verifiedIn names (dev's for homolog, homolog's for prod or a
# preprod). The commit must be on main (default: the workflow run's commit). On success the
# deployed services are marked verified in the stack for that commit, so the next stage can
# promote it; a stack deployed by releases (esteira:github.deployOn: release) is the line's end.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ $# -ge 1 && "$1" != -* ]] || usage
require_tools pulumi docker kubectl jq
stack=$1
commit=${2:-}
shift $(($# < 2 ? $# : 2))
services=("$@")

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="dispatch $stack"

stage="$(promotion_stage "$stack")"
[[ -n "$commit" ]] || commit="$(commit_sha)"
[[ "$commit" =~ ^[0-9a-f]{40}$ ]] || die "not a full commit sha: '$commit'" "give the commit's 40-character sha"
on_main "$commit" || die "commit ${commit:0:12} is not on main" "deploy only commits of main"

scratch_dir dispatch
"$SCRIPTS/verified-images.sh" "$stack" "$stage" "$commit" "${services[@]}" >"$workdir/chosen.json"
if [[ ${#services[@]} -gt 0 ]]; then
  # The others stay on what they run: pinned to their current digest.
  stack_images "$stack" | jq -c --slurpfile chosen "$workdir/chosen.json" \
    'with_entries(select(.value | test("@sha256:[0-9a-f]{64}$"))) + $chosen[0]' >"$workdir/pins.json"
else
  cp "$workdir/chosen.json" "$workdir/pins.json"
fi
summary "### Manual deploy to $stack: commit \`${commit:0:12}\` as verified in $stage" "" '```json' "$(jq . "$workdir/pins.json")" '```'
"$SCRIPTS/pin-images.sh" "$stack" "$workdir/pins.json"

export ESTEIRA_COMMIT="$commit"
"$SCRIPTS/deploy.sh" "$stack"
if [[ "$(config_json "$stack" esteira:github | jq -r '.deployOn? // "push"')" != release ]]; then
  mapfile -t deployed < <(jq -r 'keys[]' "$workdir/chosen.json")
  "$SCRIPTS/mark-verified.sh" "$stack" "${deployed[@]}"
fi
