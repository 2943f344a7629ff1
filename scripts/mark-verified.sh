#!/usr/bin/env bash
# scripts/mark-verified.sh — after a stack's smoke test passed, record what it ran as verified for
# the commit deployed. The evidence is a cosign signature with the key only this stage's
# environment holds (EVIDENCE_SIGNING_KEY, COSIGN_PASSWORD), binding each digest to the full commit
# sha and the stage (scripts/promotion-evidence.sh sign); prod-preview verifies it, with dev's
# provenance, before it promotes (scripts/release-preview.sh). dev's own evidence is its build's
# provenance instead: with EVIDENCE_ROLE=provenance (dev's job sets it), the same key attests that
# each digest was built from the commit (`promotion-evidence.sh provenance`), and attests its SBOM
# (`promotion-evidence.sh sbom`), which prod-preview scans before it promotes. Without a key the
# mark is the locator tag alone, and prod-preview refuses to promote it.
# Each image of the `images` output also gets the tag `verified-<stack>-<first 12 of the commit>` on
# the same digest: only a locator, by which the next stage finds the digest
# (image.verifiedIn: <stack>); anyone who can push may move it, so nothing trusts it. `docker buildx
# imagetools create` writes it from the existing manifest: nothing is pulled or rebuilt.
#
# Usage: scripts/mark-verified.sh <stack> [service…]     (default: every service of the stack)
#
# Pushes with the stack's esteira:registryPushToken (else esteira:registryToken), read from its
# config. Env: ESTEIRA_COMMIT (else GITHUB_SHA, else HEAD) names the commit, in full.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ $# -ge 1 && "$1" != -* ]] || usage
require_tools pulumi docker jq
stack=$1
shift
only=("$@")

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="verify $stack"

sha="$(commit_sha)"
# A signature binds the whole commit; a prefix could be any of several.
[[ -z "${EVIDENCE_SIGNING_KEY:-}" || "$sha" =~ ^[0-9a-f]{40}$ ]] || die "commit \"$sha\" is not a full sha" "set ESTEIRA_COMMIT to all 40 hex digits"
tag="$(verified_tag "$stack" "$sha")"
images="$(stack_images "$stack")"
[[ "$(jq 'length' <<<"$images")" -gt 0 ]] || die "stack $stack exports no images to mark" "deploy it first"

trap registry_logout EXIT
registry_login "$stack" push

marked=()
while IFS=$'\t' read -r service ref; do
  if [[ ${#only[@]} -gt 0 && " ${only[*]} " != *" $service "* ]]; then continue; fi
  [[ "$ref" =~ ^([^[:space:]@]+)@(sha256:[0-9a-f]{64})$ ]] || { log "$service: $ref is not pinned by digest, not marked"; continue; }
  repository=${BASH_REMATCH[1]} digest=${BASH_REMATCH[2]}
  # --prefer-index=false: a single manifest stays as it is instead of being wrapped in a new index.
  docker buildx imagetools create --prefer-index=false --tag "$repository:$tag" "$repository@$digest" >/dev/null ||
    die "could not tag $repository@$digest as $tag" "check that the push token may write $repository"
  got="$(digest_of "$repository:$tag")"
  [[ "$got" == "$digest" ]] || die "$repository:$tag points at ${got:-nothing}, not at $digest" "delete the tag and run this again"
  log "$service: $repository:$tag -> $digest"
  if [[ -n "${EVIDENCE_SIGNING_KEY:-}" && "${EVIDENCE_ROLE:-verified}" == provenance ]]; then
    "$SCRIPTS/promotion-evidence.sh" provenance "$repository@$digest" "$sha"
    "$SCRIPTS/promotion-evidence.sh" sbom "$repository@$digest"
  elif [[ -n "${EVIDENCE_SIGNING_KEY:-}" ]]; then
    "$SCRIPTS/promotion-evidence.sh" sign "$stack" "$repository@$digest" "$sha"
  fi
  marked+=("| $service | \`$repository:$tag\` | \`$digest\` |")
done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' <<<"$images")

summary "### Verified in $stack (commit \`${sha:0:12}\`)" "" "| service | tag | digest |" "| --- | --- | --- |" "${marked[@]}"
