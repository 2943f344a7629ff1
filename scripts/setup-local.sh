#!/usr/bin/env bash
# scripts/setup-local.sh — everything an end-to-end run needs, as numbered steps with progress:
# the toolchain (built from the Go module proxy, or cached), the local stand-ins (Docker,
# registry, base image, PostgreSQL), the local control plane and its real node. Idempotent: seconds when warm.
# If a step fails, it says what failed and what to do, and stops everything it started, so a
# second run starts clean. Then: source scripts/env.sh
#   bash scripts/setup-local.sh                   # everything
#   bash scripts/setup-local.sh --no-wait         # everything but cosign, syft and versitygw, which keep building in
#                                                 # the background (scripts/toolchain.sh DEFERRED_TOOLS),
#                                                 # and the S3 store, which needs versitygw
#   bash scripts/setup-local.sh --finish          # after --no-wait: waits for them, starts the S3 store
#   bash scripts/setup-local.sh --stand-ins-only  # Node.js, buildx, versitygw and the stand-ins only: no Pulumi or
#                                                 # Kubernetes build, no control plane, no node
#                                                 # (local-up.sh --use-existing)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/node.sh
source "$dir/node.sh"
# shellcheck source=scripts/toolchain.sh
source "$dir/toolchain.sh"
# shellcheck source=scripts/local-services.sh
source "$dir/local-services.sh"
# shellcheck source=scripts/local-cluster.sh
source "$dir/local-cluster.sh"
# shellcheck source=scripts/local-node.sh
source "$dir/local-node.sh"
LOG_PREFIX=setup-local

teardown_on_failure() {
  local rc=$?
  [[ $rc -ne 0 ]] || return 0
  log "setup failed; stopping what it started, so that the next run starts clean"
  bash "$dir/local-down.sh" >/dev/null 2>&1 || true
  exit "$rc"
}
trap teardown_on_failure EXIT

deferred_start_step() { step deferred-start "${DEFERRED_TOOLS[*]}: start building in the background, at idle priority" deferred_tools_start; }
# What needs the deferred tools: waiting for their background build, then the S3 store.
FINISH_STEP_COUNT=2
finish_steps() {
  step deferred-tools "${DEFERRED_TOOLS[*]} (built in the background at idle priority)" deferred_tools_wait
  s3_step
}

start=$SECONDS
log "cache: $ESTEIRA_CACHE (a fresh one builds everything: docs/local-line.md has the cold figures)"
case "${1:-}" in
  --stand-ins-only)
    steps_begin $((SERVICES_STEP_COUNT + 4))
    step nodejs "Node.js $ESTEIRA_NODE_VERSION" node_install
    toolchain_steps buildx versitygw
    services_steps
    s3_step
    ;;
  --finish)
    steps_begin "$FINISH_STEP_COUNT"
    finish_steps
    ;;
  "" | --no-wait)
    mapfile -t tools < <(line_tools)
    finish=$FINISH_STEP_COUNT
    [[ "${1:-}" != --no-wait ]] || finish=0
    steps_begin $((${#tools[@]} + SERVICES_STEP_COUNT + 4 + finish))
    step nodejs "Node.js $ESTEIRA_NODE_VERSION" node_install
    toolchain_preflight
    # Waiting for them here, start them first: they take what the other builds leave of the CPU.
    # Cold on 2 CPUs they still slowed the Pulumi CLI's and the kubernetes provider's builds by about
    # 6 minutes, so --no-wait starts them once the line is up, where the suites' waits leave the CPU
    # unused (the first suite took 300 s beside them, 294 s alone).
    [[ "${1:-}" == --no-wait ]] || deferred_start_step
    toolchain_steps "${tools[@]}"
    services_steps
    step cluster "control plane $NAME (kube-apiserver, etcd, kwok)" cluster_start
    step node "node $ESTEIRA_NODE_NAME (kubelet, kube-proxy, containerd)" node_start
    if [[ "${1:-}" == --no-wait ]]; then deferred_start_step; else finish_steps; fi
    ;;
  *) usage ;;
esac
log "ready in $(fmt_duration $((SECONDS - start))); run: source $dir/env.sh"
