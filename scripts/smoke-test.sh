#!/usr/bin/env bash
# scripts/smoke-test.sh — check a deployed stack, and roll its Deployments back
# when the check fails. Used by .github/workflows/deploy.yml and review.yml
# after `pulumi up`; runs the same way from a laptop.
#
# Usage:
#   scripts/smoke-test.sh --record <stack>    before `pulumi up`: note each Deployment's revision
#   scripts/smoke-test.sh <stack>             after it: the smoke test
#   scripts/smoke-test.sh --rollback <stack>  when the smoke test failed: `kubectl rollout undo`
#                                             every Deployment this `up` changed, then exit 1
#
# The smoke test reads the stack's outputs (`namespace`, `endpoints`: service ->
# URL, `kubeconfig`), then for each service: waits for the Deployment's
# rollout, port-forwards the Service and GETs the pod's liveness and readiness
# paths (taken from the Deployment's probes; default /healthz and /readyz).
# Endpoints that are not in-cluster names (LoadBalancer: http://<ip>:80) are
# also requested from outside, on the readiness path.
#
# The kubeconfig is the stack's `kubeconfig` output, written with mode 0600 to
# a temporary directory (under $RUNNER_TEMP in Actions) and deleted on exit; a
# stack that exports none (cluster.mode: kubeconfig) uses the ambient
# KUBECONFIG. Needs: pulumi (logged in, stack selectable), kubectl, jq, curl.
#
# `rollout undo` puts the previous ReplicaSet back but leaves Pulumi's state
# describing the failed version: the full rollback is to re-run the deploy of
# the last good commit or tag (see deploy.yml).
#
# Env: SMOKE_ROLLOUT_TIMEOUT (default 300s), SMOKE_STATE_DIR (where --record
#      keeps revisions; default $RUNNER_TEMP, else $ESTEIRA_CACHE/smoke).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

mode=check
case "${1:-}" in
  --record) mode=record; shift ;;
  --rollback) mode=rollback; shift ;;
  -h | --help | "") usage ;;
esac
[[ $# -eq 1 && "$1" != -* ]] || usage
stack=$1

ROLLOUT_TIMEOUT="${SMOKE_ROLLOUT_TIMEOUT:-300s}"
STATE_DIR="${SMOKE_STATE_DIR:-${RUNNER_TEMP:-${ESTEIRA_CACHE:-$HOME/.cache/esteira}/smoke}}"
REVISIONS="$STATE_DIR/esteira-revisions-$stack"

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX="smoke $stack"
# GitHub annotations when in Actions, plain lines otherwise.
error() {
  if [[ "${GITHUB_ACTIONS:-}" == true ]]; then printf '::error title=%s::%s\n' "smoke test ($stack)" "$*"; fi
  log "ERROR: $*"
}

for tool in pulumi kubectl jq curl; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 2; }
done

# Processes this script starts (port-forwards) and its temp dir, cleaned on exit.
pids=()
workdir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/esteira-smoke.XXXXXX")"
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

# --- stack outputs -------------------------------------------------------------
if ! namespace="$(pulumi stack output namespace -s "$stack" 2>"$workdir/err")" || [[ -z "$namespace" ]]; then
  if [[ $mode == record ]]; then
    log "no outputs yet (first deploy?): nothing to record"
    mkdir -p "$STATE_DIR" && : >"$REVISIONS"
    exit 0
  fi
  error "cannot read output 'namespace' of stack $stack: $(cat "$workdir/err")"
  exit 1
fi
pulumi stack output endpoints --json -s "$stack" >"$workdir/endpoints.json"
mapfile -t services < <(jq -r 'keys[]' "$workdir/endpoints.json")
[[ ${#services[@]} -gt 0 ]] || { error "stack $stack exports no endpoints"; exit 1; }

# Secret output: never echoed; the file is private before anything is written to it.
(umask 077 && pulumi stack output kubeconfig --show-secrets -s "$stack" >"$workdir/kubeconfig" 2>/dev/null) || true
if [[ -s "$workdir/kubeconfig" ]]; then
  chmod 600 "$workdir/kubeconfig"
  export KUBECONFIG="$workdir/kubeconfig"
else
  log "stack exports no kubeconfig; using the ambient one (${KUBECONFIG:-~/.kube/config})"
fi
kc() { kubectl -n "$namespace" "$@"; }

revision() {
  kc get deployment "$1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}' 2>/dev/null || true
}

# --- record --------------------------------------------------------------------
if [[ $mode == record ]]; then
  mkdir -p "$STATE_DIR"
  : >"$REVISIONS"
  for svc in "${services[@]}"; do
    rev="$(revision "$svc")"
    [[ -n "$rev" ]] && printf '%s %s\n' "$svc" "$rev" >>"$REVISIONS"
    log "deployment/$svc: revision ${rev:-none}"
  done
  exit 0
fi

# --- rollback ------------------------------------------------------------------
if [[ $mode == rollback ]]; then
  if [[ ! -f "$REVISIONS" ]]; then
    log "no revisions recorded before the deploy ($REVISIONS): rolling back every service"
  fi
  undone=0
  for svc in "${services[@]}"; do
    now="$(revision "$svc")"
    if [[ -f "$REVISIONS" ]]; then
      before="$(awk -v s="$svc" '$1 == s { print $2 }' "$REVISIONS")"
      if [[ -z "$before" ]]; then
        log "deployment/$svc: new in this deploy, nothing to roll back to"
        continue
      fi
      if [[ "$now" == "$before" ]]; then
        log "deployment/$svc: unchanged by this deploy (revision $now), left alone"
        continue
      fi
      # Back to exactly the revision that was serving before `pulumi up`.
      log "deployment/$svc: revision $now -> $before"
      kc rollout undo "deployment/$svc" --to-revision="$before" || { error "rollout undo of $svc failed"; continue; }
    else
      log "deployment/$svc: revision $now -> previous"
      kc rollout undo "deployment/$svc" || { error "rollout undo of $svc failed"; continue; }
    fi
    kc rollout status "deployment/$svc" --timeout="$ROLLOUT_TIMEOUT" || error "deployment/$svc did not become ready after the undo"
    undone=$((undone + 1))
  done
  error "smoke test failed; rolled back $undone Deployment(s) with kubectl rollout undo. The cluster now differs from Pulumi's state: re-run the deploy of the last good commit or tag (see deploy.yml) to make them agree."
  exit 1
fi

# --- check ---------------------------------------------------------------------
# probe_path SERVICE KIND DEFAULT — the httpGet path of the first container's probe.
probe_path() {
  kc get deployment "$1" -o json |
    jq -r --arg kind "$2" --arg fallback "$3" '.spec.template.spec.containers[0][$kind].httpGet.path // $fallback'
}

# get URL — curl with the retries a fresh rollout or load balancer needs.
get() {
  curl -fsS --retry 10 --retry-connrefused --retry-delay 2 --connect-timeout 5 --max-time 15 -o /dev/null "$1"
}

failed=0
for svc in "${services[@]}"; do
  url="$(jq -r --arg s "$svc" '.[$s]' "$workdir/endpoints.json")"
  log "deployment/$svc: waiting for the rollout (timeout $ROLLOUT_TIMEOUT)"
  if ! kc rollout status "deployment/$svc" --timeout="$ROLLOUT_TIMEOUT"; then
    error "deployment/$svc did not finish its rollout"
    kc get pods -l "app.kubernetes.io/name=$svc" -o wide >&2 || true
    failed=1
    continue
  fi

  live="$(probe_path "$svc" livenessProbe /healthz)"
  ready="$(probe_path "$svc" readinessProbe /readyz)"
  port="$(kc get service "$svc" -o jsonpath='{.spec.ports[0].port}' || true)"
  if [[ -z "$port" ]]; then
    error "service/$svc not found in namespace $namespace"
    failed=1
    continue
  fi

  # A local port chosen by kubectl (":<port>"), read back from its output.
  pf_log="$workdir/port-forward-$svc.log"
  # kubectl itself, not the kc function: $! must be kubectl's pid, not a subshell's.
  kubectl -n "$namespace" port-forward --address 127.0.0.1 "service/$svc" ":$port" >"$pf_log" 2>&1 &
  pf=$!
  pids+=("$pf")
  local_port=""
  for _ in $(seq 1 30); do
    local_port="$(sed -nE 's/^Forwarding from 127\.0\.0\.1:([0-9]+) .*/\1/p' "$pf_log" | head -n1)"
    [[ -n "$local_port" ]] && break
    kill -0 "$pf" 2>/dev/null || break
    sleep 1
  done
  if [[ -z "$local_port" ]]; then
    error "port-forward to service/$svc failed: $(cat "$pf_log")"
    failed=1
    continue
  fi

  for path in "$live" "$ready"; do
    if get "http://127.0.0.1:$local_port$path"; then
      log "service/$svc $path: ok"
    else
      error "service/$svc: GET $path failed"
      failed=1
    fi
  done
  kill "$pf" 2>/dev/null || true

  # In-cluster names (<svc>.<ns>.svc.cluster.local) are not reachable from here.
  if [[ "$url" == http* && "$url" != *.svc.cluster.local* ]]; then
    if get "${url%/}$ready"; then
      log "$url$ready: ok"
    else
      error "$svc endpoint $url: GET $ready failed"
      failed=1
    fi
  fi
done

if [[ $failed -ne 0 ]]; then
  error "smoke test of stack $stack failed"
  exit 1
fi
log "all ${#services[@]} service(s) healthy"
