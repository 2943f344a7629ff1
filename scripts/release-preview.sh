#!/usr/bin/env bash
# scripts/release-preview.sh — what a release's second approver sees, and what the approved job
# applies: the release's commit, the digest the previous stage verified for it per service, the
# `pulumi preview` of the stack pinned to exactly those digests with the policy pack, and the
# update plan that preview saved. Writes all of it to the job summary, and to OUTDIR the plan
# (plan.json) and the digests (images.json), which the gated job pins and applies with
# `pulumi up --plan` (scripts/deploy.sh --plan): exactly what was shown, or a failure.
#
# Usage: scripts/release-preview.sh <stack> [stage] <outdir>        e.g. prod "$RUNNER_TEMP/release"
#
# The stage is the one whose verification the stack promotes, from its stack file (image.verifiedIn:
# homolog for prod; promotion_stage, scripts/delivery-lib.sh) unless given.
#
# Runs from main's checkout (deploy.yml: .esteira-main/scripts) in the release's program directory,
# after scripts/release-check.sh found its commit on main. `pulumi preview` takes no lock and
# writes no state. Env: ESTEIRA_COMMIT is the release's commit, RELEASE its tag.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ ($# -eq 2 || $# -eq 3) && "$1" != -* ]] || usage
require_tools pulumi docker jq
stack=$1 stage=${3:+$2} outdir=${!#}

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="release $stack"

# require_promotion_evidence STAGE SHA IMAGES_JSON — every digest the tags located carries dev's
# provenance for the full commit SHA and STAGE's signature for it (scripts/promotion-evidence.sh);
# a tag anyone below the stage moved points at a digest without them, and the release stops here.
require_promotion_evidence() {
  local stage=$1 sha=$2 images=$3 service ref refused=()
  # shellcheck source=scripts/promotion-evidence.sh
  source "$SCRIPTS/promotion-evidence.sh"
  registry_login "$stack" pull
  while IFS=$'\t' read -r service ref; do
    verify_promotion_evidence "$stage" "$ref" "$sha" || refused+=("$service")
  done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' "$images")
  registry_logout
  [[ ${#refused[@]} -eq 0 ]] ||
    die "no promotion for ${refused[*]}: the evidence that dev built these digests from commit $sha and that $stage verified them is missing or forged (above)" \
      "deploy commit $sha through dev and $stage again; never promote a digest by its tag alone"
}

[[ -n "$stage" ]] || stage="$(promotion_stage "$stack")"
sha="$(commit_sha)"
[[ "$sha" =~ ^[0-9a-f]{40}$ ]] || die "the release's commit \"$sha\" is not a full sha" "set ESTEIRA_COMMIT to all 40 hex digits"
mkdir -p "$outdir"
"$SCRIPTS/verified-images.sh" "$stack" "$stage" "$sha" >"$outdir/images.json"
require_promotion_evidence "$stage" "$sha" "$outdir/images.json"
"$SCRIPTS/pin-images.sh" "$stack" "$outdir/images.json"

# The preview's own exit status decides (a mandatory policy violation fails it); its text goes to the approvers.
policy_args "$stack"
status=0
pulumi preview --diff --color never --save-plan "$outdir/plan.json" -s "$stack" "${POLICY_ARGS[@]}" 2>&1 | tee "$outdir/preview.txt" || status=$?

rows=()
while IFS=$'\t' read -r service ref; do rows+=("| $service | \`${ref%@*}\` | \`${ref#*@}\` |"); done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' "$outdir/images.json")
summary "## Release ${RELEASE:-} to $stack: what the second approval applies" "" \
  "Commit \`$sha\`, on main. Each service ships the digest $stage verified for it:" "" \
  "| service | repository | digest |" "| --- | --- | --- |" "${rows[@]}" "" \
  "<details open><summary>pulumi preview of $stack with the policy pack, pinned to these digests$([[ $status -eq 0 ]] || echo ' (FAILED)')</summary>" "" \
  '```' "$(tail -c 60000 "$outdir/preview.txt")" '```' "</details>" "" \
  "Approving \`$stack\` applies exactly this plan (\`pulumi up --plan\`); any difference fails the update."
rm -f "$outdir/preview.txt"
[[ $status -eq 0 ]] || die "the preview of $stack failed (see above)" "fix the release, then release a new tag"
[[ -s "$outdir/plan.json" ]] || die "the preview saved no update plan" "check the Pulumi CLI's version (pulumi preview --save-plan)"
log "approvers see commit ${sha:0:12}, $(jq 'length' "$outdir/images.json") digest(s) and the plan"
