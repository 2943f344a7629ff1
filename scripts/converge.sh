#!/usr/bin/env bash
# scripts/converge.sh — before `pulumi up`, read back the live Deployments of a stack into its
# state, so that an out-of-band change (an emergency `kubectl rollout undo`, a `kubectl edit`) shows
# up as a diff and the `up` takes the fields back (the objects carry pulumi.com/patchForce).
#
# Usage: scripts/converge.sh <stack>
#
# Without it, a re-run of the same commit finds state unchanged and leaves a rolled-back cluster
# as it is. Only the Deployments are refreshed: a full refresh would also rewrite the cloud
# resources' state (e.g. the cluster's 7-day kubeconfig) for no gain here.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"
[[ $# -eq 1 && "$1" != -* ]] || usage
require_tools pulumi kubectl jq
stack=$1

LOG_PREFIX="converge $stack"

# The Deployments the state knows (none before the first deploy). `stack export` prints secrets
# only as ciphertext.
if ! state="$(pulumi stack export -s "$stack" 2>&1)"; then
  die "cannot read the state of stack $stack: $state" "check the backend credentials and that the stack exists"
fi
mapfile -t targets < <(jq -r '.deployment.resources // [] | .[] | select(.type == "kubernetes:apps/v1:Deployment") | .urn' <<<"$state")
if [[ ${#targets[@]} -eq 0 ]]; then
  log "no Deployment in the state yet: nothing to read back"
  exit 0
fi
args=()
for urn in "${targets[@]}"; do args+=(--target "$urn"); done
log "reading back ${#targets[@]} Deployment(s) from the cluster"
pulumi refresh --yes --skip-preview "${args[@]}" -s "$stack"
