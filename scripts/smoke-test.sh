#!/usr/bin/env bash
# scripts/smoke-test.sh — check a deployed stack. Used by scripts/deploy.sh (the deploy, review
# and dispatch workflows) after `pulumi up`, and by scripts/rollback.sh after a rollback; runs the
# same way from a laptop.
#
# Usage: scripts/smoke-test.sh <stack>
#
# It reads the stack's outputs (`namespace`, `endpoints`: service -> URL, `workloadNamespaces`:
# service, worker or job -> the namespace it runs in, `kubeconfig`), then for each service: waits
# for the Deployment's rollout, port-forwards the Service and GETs the pod's liveness and readiness
# paths (taken from the Deployment's probes; default /healthz and /readyz), in the service's own
# namespace. Endpoints that are not in-cluster names (LoadBalancer: http://<ip>:80) are also
# requested from outside, on the readiness path. Each worker (a Deployment with no Service) must
# finish its rollout; a scheduled job has nothing to wait for. A failing workload's pods, events
# and logs are printed.
#
# The kubeconfig is the stack's `kubeconfig` output: its EnvironmentAccess ServiceAccount, which
# may read its namespaces and port-forward, nothing more (a rollback goes through `pulumi up`,
# scripts/rollback.sh). It is written with mode 0600 to a temporary directory (under $RUNNER_TEMP
# in Actions) and deleted on exit; a stack that exports none (cluster.mode: kubeconfig) uses the
# ambient KUBECONFIG. A stack without services (a base stack) has nothing to check.
# Needs: pulumi (logged in, stack selectable), kubectl, jq, curl.
#
# Env: SMOKE_ROLLOUT_TIMEOUT (default 300s); SMOKE_HTTP=false checks rollouts only, for a cluster
#      whose pods serve nothing (kwok's, in the end-to-end suite).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

case "${1:-}" in
  "") usage ;;
esac
[[ $# -eq 1 && "$1" != -* ]] || usage
require_tools pulumi kubectl jq curl
stack=$1

ROLLOUT_TIMEOUT="${SMOKE_ROLLOUT_TIMEOUT:-300s}"
HTTP="${SMOKE_HTTP:-true}"

LOG_PREFIX="smoke $stack"
# GitHub annotations when in Actions, plain lines otherwise.
error() {
  if [[ "${GITHUB_ACTIONS:-}" == true ]]; then printf '::error title=%s::%s\n' "smoke test ($stack)" "$*"; fi
  log "ERROR: $*"
}

# Processes this script starts (port-forwards) and its temp dir, cleaned on exit.
scratch_dir smoke

# --- stack outputs -------------------------------------------------------------
if ! namespace="$(pulumi stack output namespace -s "$stack" 2>"$workdir/err")" || [[ -z "$namespace" ]]; then
  error "cannot read output 'namespace' of stack $stack: $(cat "$workdir/err")"
  exit 1
fi
pulumi stack output endpoints --json -s "$stack" >"$workdir/endpoints.json"
# Stacks deployed before the output existed run everything in their own namespace.
if ! pulumi stack output workloadNamespaces --json -s "$stack" >"$workdir/namespaces.json" 2>/dev/null; then
  jq --arg ns "$namespace" 'map_values($ns)' "$workdir/endpoints.json" >"$workdir/namespaces.json"
fi
mapfile -t services < <(jq -r 'keys[]' "$workdir/endpoints.json")
mapfile -t others < <(jq -r --slurpfile services "$workdir/endpoints.json" 'keys[] | select(in($services[0]) | not)' "$workdir/namespaces.json")
if [[ ${#services[@]} -eq 0 && ${#others[@]} -eq 0 ]]; then
  log "stack $stack runs no workload (a base stack): nothing to check"
  exit 0
fi

# Secret output: never echoed; the file is private before anything is written to it.
(umask 077 && pulumi stack output kubeconfig --show-secrets -s "$stack" >"$workdir/kubeconfig" 2>/dev/null) || true
if [[ -s "$workdir/kubeconfig" ]]; then
  chmod 600 "$workdir/kubeconfig"
  export KUBECONFIG="$workdir/kubeconfig"
else
  log "stack exports no kubeconfig; using the ambient one (${KUBECONFIG:-~/.kube/config})"
fi
# The namespace a workload runs in.
namespace_of() { jq -r --arg w "$1" --arg ns "$namespace" '.[$w] // $ns' "$workdir/namespaces.json"; }
# kc WORKLOAD ARGS… — kubectl in the workload's namespace.
kc() {
  local ns
  ns="$(namespace_of "$1")"
  shift
  kubectl -n "$ns" "$@"
}

# diagnose WORKLOAD — what a failing workload's pods, events and logs say (what its Role may read).
diagnose() {
  kc "$1" get pods -l "app.kubernetes.io/name=$1" -o wide >&2 || true
  kc "$1" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
  kc "$1" logs -l "app.kubernetes.io/name=$1" --all-containers --tail=50 --prefix >&2 || true
}

# --- check ---------------------------------------------------------------------
# probe_path SERVICE KIND DEFAULT — the httpGet path of the first container's probe.
probe_path() {
  kc "$1" get deployment "$1" -o json |
    jq -r --arg kind "$2" --arg fallback "$3" '.spec.template.spec.containers[0][$kind].httpGet.path // $fallback'
}

# rolled_out WORKLOAD [WHAT] — waits for the workload's Deployment to finish its rollout; when it
# does not, says so with its pods, events and logs.
rolled_out() {
  log "deployment/$1${2:+ ($2)}: waiting for the rollout (timeout $ROLLOUT_TIMEOUT)"
  kc "$1" rollout status "deployment/$1" --timeout="$ROLLOUT_TIMEOUT" && return 0
  error "deployment/$1 did not finish its rollout"
  diagnose "$1"
  return 1
}

# get URL — curl with the retries a fresh rollout or load balancer needs.
get() {
  curl -fsS --retry 10 --retry-connrefused --retry-delay 2 --connect-timeout 5 --max-time 15 -o /dev/null "$1"
}

failed=0
for svc in "${services[@]}"; do
  url="$(jq -r --arg s "$svc" '.[$s]' "$workdir/endpoints.json")"
  if ! rolled_out "$svc"; then
    failed=1
    continue
  fi

  if [[ "$HTTP" == false ]]; then
    log "deployment/$svc: rolled out (SMOKE_HTTP=false: no requests)"
    continue
  fi

  live="$(probe_path "$svc" livenessProbe /healthz)"
  ready="$(probe_path "$svc" readinessProbe /readyz)"
  port="$(kc "$svc" get service "$svc" -o jsonpath='{.spec.ports[0].port}' || true)"
  if [[ -z "$port" ]]; then
    error "service/$svc not found in namespace $(namespace_of "$svc")"
    failed=1
    continue
  fi

  pf_log="$workdir/port-forward-$svc.log"
  port_forward "$(namespace_of "$svc")" "service/$svc" "$port" "$pf_log"
  local_port=$FORWARDED_PORT pf=$FORWARDED_PID
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
      diagnose "$svc"
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

# Workers are Deployments with no Service; a scheduled job is a CronJob, with no Deployment.
workers=0
for workload in "${others[@]}"; do
  if ! found="$(kc "$workload" get deployment "$workload" --ignore-not-found -o name)"; then
    error "cannot read deployment/$workload in namespace $(namespace_of "$workload")"
    failed=1
    continue
  fi
  [[ -n "$found" ]] || continue
  workers=$((workers + 1))
  rolled_out "$workload" worker || failed=1
done

if [[ $failed -ne 0 ]]; then
  error "smoke test of stack $stack failed"
  exit 1
fi
log "all ${#services[@]} service(s) and $workers worker(s) healthy"
