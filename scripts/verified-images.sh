#!/usr/bin/env bash
# scripts/verified-images.sh — the digests a stage verified for a commit, for the services, workers
# and jobs of a stack: prints a JSON map name -> <repository>@sha256:<digest> (the form of
# esteira:pins), resolving each `<images.repository>/<name>:verified-<stage>-<first 12 of the commit>` in the
# registry without pulling it. Fails, naming every missing tag, when the stage never verified the
# commit for a service.
#
# Usage: scripts/verified-images.sh <stack> <stage> <commit> [service…]
#        (default: every service, worker and job of the stack that builds or promotes by verification)
#
# Reads the registry with the stack's esteira:registryToken.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ $# -ge 3 && "$1" != -* ]] || usage
require_tools pulumi docker jq
stack=$1 stage=$2 commit=$3
shift 3
only=("$@")

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="verified $stack"

[[ "$commit" =~ ^[0-9a-f]{12,40}$ ]] || die "not a commit sha: '$commit'" "give the commit's full sha"
tag="$(verified_tag "$stage" "$commit")"
mapfile -t services < <(promotable_services "$stack")
[[ ${#services[@]} -gt 0 ]] || die "stack $stack has no service, worker or job that builds or promotes by verification" "check Pulumi.$stack.yaml"

trap registry_logout EXIT
registry_login "$stack" pull

result='{}' missing=() found=()
for line in "${services[@]}"; do
  read -r service repository <<<"$line"
  if [[ ${#only[@]} -gt 0 && " ${only[*]} " != *" $service "* ]]; then continue; fi
  found+=("$service")
  digest="$(digest_of "$repository:$tag")"
  if [[ -z "$digest" ]]; then
    missing+=("$repository:$tag")
    continue
  fi
  result="$(jq -c --arg s "$service" --arg r "$repository@$digest" '. + {($s): $r}' <<<"$result")"
done
for wanted in "${only[@]}"; do
  [[ " ${found[*]} " == *" $wanted "* ]] || die "stack $stack has no promotable service, worker or job '$wanted'" "choose among: ${services[*]%% *}"
done
if [[ ${#missing[@]} -gt 0 ]]; then
  die "no image verified in $stage for commit ${commit:0:12}: ${missing[*]}" \
    "deploy and smoke-test commit ${commit:0:12} in $stage first (for $stage's own deploys, the deploy workflow's \"Run workflow\" with environment $stage and that commit)"
fi
printf '%s\n' "$result"
