#!/usr/bin/env bash
# scripts/deploy.sh — deploy one stack the way every workflow does: record what runs, take back
# what kubectl changed, `pulumi up`, smoke-test, and on failure roll back through Pulumi.
#
# Usage: scripts/deploy.sh [--verify] <stack>
#
#   1. scripts/rollback.sh --record: the digests running now, to come back to
#   2. scripts/converge.sh: the live Deployments read back into the state
#   3. pulumi up (builds, or resolves the promoted digests, inside the update)
#   4. scripts/smoke-test.sh
#   5. --verify, on success: scripts/mark-verified.sh tags what ran verified-<stack>-<sha12>,
#      which the next stage promotes
#   On a failed up or smoke test: scripts/rollback.sh (pins the recorded digests, pulumi up,
#   smoke test again), then exit 1 either way.
#
# Env: ESTEIRA_COMMIT (else GITHUB_SHA, else HEAD) is the commit deployed; the Pulumi backend,
# passphrase and provider credentials of the stack's environment.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"

verify=false
if [[ "${1:-}" == --verify ]]; then
  verify=true
  shift
fi
[[ $# -eq 1 && "$1" != -* ]] || usage
require_tools pulumi kubectl jq
stack=$1

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="deploy $stack"

ESTEIRA_COMMIT="$(commit_sha)"
export ESTEIRA_COMMIT
log "commit ${ESTEIRA_COMMIT:0:12}"

"$SCRIPTS/rollback.sh" --record "$stack"
"$SCRIPTS/converge.sh" "$stack"
if pulumi up --yes --skip-preview --diff -s "$stack" && "$SCRIPTS/smoke-test.sh" "$stack"; then
  summary "### $stack deployed (commit \`${ESTEIRA_COMMIT:0:12}\`)" "" '```json' "$(stack_images "$stack" | jq .)" '```'
  if $verify; then "$SCRIPTS/mark-verified.sh" "$stack"; fi
  exit 0
fi

log "the deploy failed: rolling back through Pulumi to the digests that ran before it"
"$SCRIPTS/rollback.sh" "$stack" || log "the rollback failed too: see above; recover with the operations workflow or docs/operations.md"
exit 1
