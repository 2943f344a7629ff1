#!/usr/bin/env bash
# scripts/deploy.sh — deploy one stack the way every workflow does: record what runs, take back
# what kubectl changed, `pulumi up`, smoke-test, and on failure roll back through Pulumi.
#
# Usage: scripts/deploy.sh [--verify] [--plan FILE] <stack>
#
#   1. scripts/converge.sh: the live Deployments read back into the state
#   2. scripts/rollback.sh --record: the digests running now (read back in 1, so after an
#      emergency `kubectl rollout undo` it is the release that was restored), to come back to
#   3. pulumi up with the policy pack (builds, or resolves the promoted digests, inside the
#      update); --plan: exactly the update plan an approver saw (scripts/release-preview.sh),
#      any difference fails it
#   4. scripts/smoke-test.sh
#   5. scripts/watch.sh: the stack's watch window (esteira:watch): restarts, readiness lost, a
#      failing Job, the error rate, for windowSeconds
#   6. --verify, on success: scripts/mark-verified.sh tags what ran verified-<stack>-<sha12>,
#      which the next stage promotes
#   7. scripts/releases.sh: what runs there now (digests, commits, the stages that verified them,
#      this update and its run) into the job summary
#   8. scripts/notify.sh: the result goes to the stack's webhook (esteira:slackWebhookUrl) as a
#      `deploy` (or `promotion`, when the stack promotes another stage's images); a notification
#      that fails never changes the exit status
#   On a failed up, smoke test or watch window: scripts/rollback.sh (pins the recorded digests,
#   pulumi up, smoke test again), nothing is marked verified, then 7 and 8, and exit 1 either way.
#
# Env: ESTEIRA_COMMIT (else GITHUB_SHA, else HEAD) is the commit deployed; the Pulumi backend,
# passphrase and provider credentials of the stack's environment.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"

verify=false plan=()
while [[ $# -gt 1 ]]; do
  case "$1" in
    --verify) verify=true; shift ;;
    --plan) plan=(--plan "$2"); shift 2 ;;
    *) usage ;;
  esac
done
[[ $# -eq 1 && "$1" != -* ]] || usage
require_tools pulumi kubectl jq
stack=$1

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="deploy $stack"

ESTEIRA_COMMIT="$(commit_sha)"
export ESTEIRA_COMMIT
log "commit ${ESTEIRA_COMMIT:0:12}"

if [[ ${#plan[@]} -gt 0 && ! -s "${plan[1]}" ]]; then die "no update plan at ${plan[1]}" "pass the plan scripts/release-preview.sh saved"; fi
policy_args "$stack"
# Converge first: what runs is what the cluster runs now, not what the state said before.
"$SCRIPTS/converge.sh" "$stack"
"$SCRIPTS/rollback.sh" --record "$stack"
# What runs there now, from the outputs, the history and the registry (scripts/releases.sh), into
# the job summary; a registry that does not answer costs the summary, never the deploy.
what_runs() { "$SCRIPTS/releases.sh" show "$stack" >/dev/null || log "could not list what runs in $stack (above); the deploy's result stands"; }

event="$(deploy_event "$stack")"
WATCH_SINCE="$(date +%s)"
export WATCH_SINCE
failure=""
if ! pulumi up --yes --skip-preview --diff --message "$(update_message deploy)" "${plan[@]}" -s "$stack" "${POLICY_ARGS[@]}"; then
  failure="pulumi up failed"
elif ! "$SCRIPTS/smoke-test.sh" "$stack"; then
  failure="the smoke test failed"
elif ! caught="$("$SCRIPTS/watch.sh" "$stack")"; then
  failure="the watch window caught it: ${caught:-see the log}"
fi
if [[ -z "$failure" ]]; then
  summary "### $stack deployed (commit \`${ESTEIRA_COMMIT:0:12}\`)" "" '```json' "$(stack_images "$stack" | jq .)" '```'
  done="smoke test and watch window passed"
  if $verify; then
    "$SCRIPTS/mark-verified.sh" "$stack"
    done+="; marked verified"
  fi
  what_runs
  "$SCRIPTS/notify.sh" "$stack" "$event" succeeded "$done"
  exit 0
fi

log "the deploy failed ($failure): rolling back through Pulumi to the digests that ran before it; nothing is marked verified"
summary "### $stack: deploy of \`${ESTEIRA_COMMIT:0:12}\` failed, not verified" "" "$failure"
if "$SCRIPTS/rollback.sh" "$stack"; then
  what_runs
  "$SCRIPTS/notify.sh" "$stack" "$event" failed "$failure; rolled back through Pulumi to the digests that ran before it"
else
  log "the rollback failed too: see above; recover with the operations workflow or docs/operations.md"
  what_runs
  "$SCRIPTS/notify.sh" "$stack" "$event" failed "$failure; the rollback failed too: recover with the operations workflow (docs/operations.md)"
fi
exit 1
