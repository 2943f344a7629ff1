#!/usr/bin/env bash
# scripts/rollback.sh — roll a stack back through Pulumi, so state, outputs and cluster agree.
#
# Usage:
#   scripts/rollback.sh --record <stack>   before `pulumi up`, after scripts/converge.sh: keep the
#                                          digests each service's Deployment runs (read back from
#                                          the cluster) as the ones to come back to
#   scripts/rollback.sh <stack>            after a failed `up` or smoke test: pin every recorded
#                                          service to its recorded digest (esteira:pins), take back
#                                          what `kubectl` changed, `pulumi up`, and smoke-test again
#
# The recorded digests are the last verified ones: what ran is what the previous deploy's smoke
# test (or the previous rollback) left running. A service new in the failed deploy has nothing to
# come back to and keeps its new image. Only images roll back: a failed migration, Secret or
# config change is undone by reverting its commit (or deploying the last good one with the deploy
# workflow's "Run workflow"). Exits 0 when the stack is back and healthy, 1 otherwise.
#
# The result goes to the stack's webhook (scripts/notify.sh, event `rollback`).
#
# Env: ROLLBACK_STATE_DIR (where --record keeps the digests; default $RUNNER_TEMP, else
#      $ESTEIRA_CACHE/rollback).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"

mode=rollback
case "${1:-}" in
  --record) mode=record; shift ;;
  "") usage ;;
esac
[[ $# -eq 1 && "$1" != -* ]] || usage
require_tools pulumi kubectl jq
stack=$1

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="rollback $stack"

STATE_DIR="${ROLLBACK_STATE_DIR:-${RUNNER_TEMP:-${ESTEIRA_CACHE:-$HOME/.cache/esteira}/rollback}}"
RECORD="$STATE_DIR/esteira-images-$stack.json"

if [[ $mode == record ]]; then
  mkdir -p "$STATE_DIR"
  running_images "$stack" >"$RECORD"
  log "recorded $(jq 'length' "$RECORD") service(s) to come back to: $(jq -c . "$RECORD")"
  exit 0
fi

[[ -s "$RECORD" ]] || die "nothing recorded to roll back to ($RECORD)" "run scripts/rollback.sh --record $stack before pulumi up"
if [[ "$(jq 'length' "$RECORD")" -eq 0 ]]; then
  log "the stack ran nothing before this deploy (first deploy): nothing to roll back to; left as it is"
  exit 1
fi

# A service run from a plain reference (image: <ref>) comes back with its stack file, not a pin.
pins="$STATE_DIR/esteira-pins-$stack.json"
jq 'with_entries(select(.value | test("@sha256:[0-9a-f]{64}$")))' "$RECORD" >"$pins"
log "rolling back to $(jq -c . "$pins")"
"$SCRIPTS/pin-images.sh" "$stack" "$pins"
"$SCRIPTS/converge.sh" "$stack"
policy_args "$stack"
if ! pulumi up --yes --skip-preview --diff --message "$(update_message rollback)" -s "$stack" "${POLICY_ARGS[@]}"; then
  log "FAILED: the rollback's pulumi up failed; the stack is as that update left it"
  "$SCRIPTS/notify.sh" "$stack" rollback failed "the rollback's pulumi up failed"
  exit 1
fi
if ! "$SCRIPTS/smoke-test.sh" "$stack"; then
  log "FAILED: the stack still fails its smoke test after the rollback"
  "$SCRIPTS/notify.sh" "$stack" rollback failed "the stack still fails its smoke test after the rollback"
  exit 1
fi
summary "### $stack rolled back" "" "The failed deploy's images were replaced by the ones that ran before it, through \`pulumi up\`:" "" '```json' "$(jq . "$RECORD")" '```'
log "rolled back; state, outputs and cluster agree"
"$SCRIPTS/notify.sh" "$stack" rollback succeeded "back to the digests that ran before the failed deploy"
