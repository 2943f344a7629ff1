#!/usr/bin/env bash
# scripts/release-preview.sh — what a release's second approver sees, and what the approved job
# applies: the release's commit, the digest the previous stage verified for it per service, the
# `pulumi preview` of the stack pinned to exactly those digests with the policy pack, and the
# update plan that preview saved. Writes all of it to the job summary, and to OUTDIR the plan
# (plan.json) and the digests (images.json), which the gated job pins and applies with
# `pulumi up --plan` (scripts/deploy.sh --plan): exactly what was shown, or a failure. Before the
# preview, each digest's SBOM (attested by dev's key) is scanned with grype and any Critical
# vulnerability the stack's esteira:vulnerabilityAllowList does not cover stops the release
# (scripts/vulnerability-gate.sh).
#
# Usage: scripts/release-preview.sh <stack> [stage] <outdir>        e.g. prod "$RUNNER_TEMP/release"
#
# The stage is the one whose verification the stack promotes, from its stack file (image.verifiedIn:
# homolog for prod; promotion_stage, scripts/delivery-lib.sh) unless given.
#
# Runs from main's checkout (deploy.yml: .esteira-main/scripts) in the release's program directory,
# after scripts/release-check.sh found its commit on main. `pulumi preview` takes no lock and
# writes no state. Env: ESTEIRA_COMMIT is the release's commit, RELEASE its tag, ESTEIRA_GRYPE the
# grype executable (default: grype on PATH).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ ($# -eq 2 || $# -eq 3) && "$1" != -* ]] || usage
require_tools pulumi docker jq
GRYPE="${ESTEIRA_GRYPE:-grype}"
command -v "$GRYPE" >/dev/null || die "grype is not installed ($GRYPE)" "install grype (the setup action's grype input) or set ESTEIRA_GRYPE to its path"
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

# require_no_critical_vulnerabilities IMAGES_JSON — each digest's SBOM, the one dev's key attested
# (an SBOM anyone else wrote is not read), scanned by grype; any Critical finding the stack's
# allow-list does not cover refuses the release (scripts/vulnerability-gate.sh).
require_no_critical_vulnerabilities() {
  local images=$1 service ref sbom scan allow refused=()
  # shellcheck source=scripts/promotion-evidence.sh
  source "$SCRIPTS/promotion-evidence.sh"
  allow="$outdir/vulnerability-allow-list.json"
  config_json "$stack" esteira:vulnerabilityAllowList | jq -c '. // []' >"$allow"
  registry_login "$stack" pull
  while IFS=$'\t' read -r service ref; do
    sbom="$outdir/sbom-$service.spdx.json" scan="$outdir/scan-$service.json"
    if ! attested_sbom "$ref" >"$sbom" || [[ ! -s "$sbom" ]]; then
      log "REFUSED: $ref has no SBOM attested by dev's key (missing, or signed by another key: cosign's reason above)"
      refused+=("$service")
      continue
    fi
    "$GRYPE" "sbom:$sbom" --output json --file "$scan" || die "grype could not scan the SBOM of $ref" "check grype's output above (its vulnerability database must be reachable)"
    "$SCRIPTS/vulnerability-gate.sh" "$service ($ref)" "$scan" "$allow" || refused+=("$service")
  done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' "$images")
  registry_logout
  rm -f "$allow"
  [[ ${#refused[@]} -eq 0 ]] ||
    die "no promotion for ${refused[*]}: an SBOM is missing or a Critical vulnerability is not on the allow-list (above)" \
      "rebuild on fixed packages and deploy through dev and homolog again, or accept a finding in esteira:vulnerabilityAllowList with a reason and an expiry"
}

[[ -n "$stage" ]] || stage="$(promotion_stage "$stack")"
sha="$(commit_sha)"
[[ "$sha" =~ ^[0-9a-f]{40}$ ]] || die "the release's commit \"$sha\" is not a full sha" "set ESTEIRA_COMMIT to all 40 hex digits"
mkdir -p "$outdir"
"$SCRIPTS/verified-images.sh" "$stack" "$stage" "$sha" >"$outdir/images.json"
require_promotion_evidence "$stage" "$sha" "$outdir/images.json"
require_no_critical_vulnerabilities "$outdir/images.json"
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
  "Each digest carries dev's provenance, $stage's signature and an SBOM dev attested; grype found no Critical vulnerability in it that esteira:vulnerabilityAllowList does not cover (the scans are in the artifact)." "" \
  "<details open><summary>pulumi preview of $stack with the policy pack, pinned to these digests$([[ $status -eq 0 ]] || echo ' (FAILED)')</summary>" "" \
  '```' "$(tail -c 60000 "$outdir/preview.txt")" '```' "</details>" "" \
  "Approving \`$stack\` applies exactly this plan (\`pulumi up --plan\`); any difference fails the update."
rm -f "$outdir/preview.txt"
[[ $status -eq 0 ]] || die "the preview of $stack failed (see above)" "fix the release, then release a new tag"
[[ -s "$outdir/plan.json" ]] || die "the preview saved no update plan" "check the Pulumi CLI's version (pulumi preview --save-plan)"
log "approvers see commit ${sha:0:12}, $(jq 'length' "$outdir/images.json") digest(s) and the plan"
