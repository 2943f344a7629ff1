#!/usr/bin/env bash
# scripts/mark-verified.sh — after a stack's smoke test passed, mark what it runs as verified for
# the commit deployed: each image of the `images` output gets the tag
# `verified-<stack>-<first 12 of the commit>` on the same digest, which the next stage promotes
# (image.verifiedIn: <stack>). `docker buildx imagetools create` writes the tag in the registry
# from the existing manifest: nothing is pulled, nothing is rebuilt, and the tag's digest is
# checked to be the one that ran.
#
# Usage: scripts/mark-verified.sh <stack> [service…]     (default: every service of the stack)
#
# Pushes with the stack's esteira:registryPushToken (else esteira:registryToken), read from its
# config. Env: ESTEIRA_COMMIT (else GITHUB_SHA, else HEAD) names the commit.
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
  marked+=("| $service | \`$repository:$tag\` | \`$digest\` |")
done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' <<<"$images")

summary "### Verified in $stack (commit \`${sha:0:12}\`)" "" "| service | tag | digest |" "| --- | --- | --- |" "${marked[@]}"
