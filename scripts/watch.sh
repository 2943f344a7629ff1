#!/usr/bin/env bash
# scripts/watch.sh — after a deploy's smoke test, keep watching the stack for its window before the
# release counts as verified. Used by scripts/deploy.sh, which rolls back through Pulumi when it fails.
#
# Usage: scripts/watch.sh <stack>
#
# What it watches comes from the stack's `watch` output (esteira:watch with its defaults applied):
# every intervalSeconds until windowSeconds have passed, in each workload's namespace,
#   restarts        container restarts of the services' and workers' pods since the watch began,
#                   more than maxRestarts
#   readiness lost  a pod that was ready turns unready (one being deleted, by a scale-down, aside)
#   a failing Job   a Job that failed since the deploy began (WATCH_SINCE), a CronJob's run or a hook
#   error rate      errorRate: for each service that sets `metrics`, each pod's counter (metric),
#                   read from its metrics endpoint through a port-forward: the share of the requests
#                   counted since the watch began whose errorLabel matches errorPattern; above
#                   thresholdPercent, once minRequests were counted
# The first signal ends the watch: its reason goes to stdout (one line), the exit status is 1. A
# window of 0 watches nothing. It reads with the stack's `kubeconfig` output (the read-only
# ServiceAccount the smoke test uses), else the ambient KUBECONFIG.
#
# Env: WATCH_SINCE (epoch seconds the deploy began; default now).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"
[[ $# -eq 1 && "$1" != -* ]] || usage
require_tools pulumi kubectl jq curl
stack=$1
LOG_PREFIX="watch $stack"

scratch_dir watch

if ! watch="$(pulumi stack output watch --json -s "$stack" 2>/dev/null)" || [[ -z "$watch" || "$watch" == null ]]; then
  log "stack $stack exports no watch settings (deployed before esteira:watch existed): nothing to watch"
  exit 0
fi
window="$(jq -r '.windowSeconds' <<<"$watch")"
interval="$(jq -r '.intervalSeconds' <<<"$watch")"
max_restarts="$(jq -r '.maxRestarts' <<<"$watch")"
rate="$(jq -c '.errorRate // null' <<<"$watch")"
if [[ "$window" -eq 0 ]]; then
  log "no watch window (esteira:watch.windowSeconds is 0)"
  exit 0
fi

namespace="$(pulumi stack output namespace -s "$stack")"
pulumi stack output endpoints --json -s "$stack" >"$workdir/endpoints.json"
pulumi stack output workloadNamespaces --json -s "$stack" >"$workdir/namespaces.json" 2>/dev/null ||
  jq --arg ns "$namespace" 'map_values($ns)' "$workdir/endpoints.json" >"$workdir/namespaces.json"
(umask 077 && pulumi stack output kubeconfig --show-secrets -s "$stack" >"$workdir/kubeconfig" 2>/dev/null) || true
if [[ -s "$workdir/kubeconfig" ]]; then export KUBECONFIG="$workdir/kubeconfig"; fi
mapfile -t namespaces < <(jq -r --arg ns "$namespace" '[.[], $ns] | unique[]' "$workdir/namespaces.json")
mapfile -t services < <(jq -r 'keys[]' "$workdir/endpoints.json")
namespace_of() { jq -r --arg w "$1" --arg ns "$namespace" '.[$w] // $ns' "$workdir/namespaces.json"; }

since="${WATCH_SINCE:-$(date +%s)}"
start="$(date +%s)"
declare -A restarts_at_start=() ready_before=() counted_at_start=()
failure=""

# pods — "<namespace> <pod> <ready> <deleting> <restarts>" for every pod of the stack's Deployments.
pods() {
  local ns
  for ns in "${namespaces[@]}"; do
    kubectl -n "$ns" get pods -l app.kubernetes.io/name -o json | jq -r --arg ns "$ns" '.items[]
      | select(.metadata.ownerReferences // [] | any(.kind == "ReplicaSet"))
      | "\($ns) \(.metadata.name) \(any(.status.conditions // [] | .[]; .type == "Ready" and .status == "True"))"
        + " \(.metadata.deletionTimestamp != null) \([.status.containerStatuses // [] | .[].restartCount] | add // 0)"'
  done
}

# failed_jobs — the Jobs that failed since the deploy began, one "<namespace>/<name>" a line.
failed_jobs() {
  local ns
  for ns in "${namespaces[@]}"; do
    kubectl -n "$ns" get jobs -o json | jq -r --arg ns "$ns" --argjson since "$since" '.items[]
      | select(any(.status.conditions // [] | .[]; .type == "Failed" and .status == "True"
          and (.lastTransitionTime | fromdateiso8601) >= $since))
      | "\($ns)/\(.metadata.name)"'
  done
}

# counted NAMESPACE POD PORT PATH — "<requests> <errors>" of the error-rate counter on one pod.
counted() {
  local local_port pf metric label pattern
  port_forward "$1" "pod/$2" "$3" "$workdir/pf-$2.log"
  local_port=$FORWARDED_PORT pf=$FORWARDED_PID
  metric="$(jq -r '.metric' <<<"$rate")" label="$(jq -r '.errorLabel' <<<"$rate")" pattern="$(jq -r '.errorPattern' <<<"$rate")"
  if [[ -n "$local_port" ]] && curl -fsS --max-time 5 "http://127.0.0.1:$local_port$4" -o "$workdir/metrics" 2>/dev/null; then
    # Text format: `<name>{<label>="<value>",…} <count>`; each series of the counter adds up.
    awk -v m="$metric" -v l="$label" -v p="$pattern" '
      index($1, m "{") == 1 || $1 == m {
        total += $NF
        if (match($0, l "=\"[^\"]*\"")) { value = substr($0, RSTART + length(l) + 2, RLENGTH - length(l) - 3); if (value ~ p) errors += $NF }
      }
      END { printf "%d %d\n", total, errors }' "$workdir/metrics"
  else
    echo "- -"
  fi
  kill "$pf" 2>/dev/null || true
  wait "$pf" 2>/dev/null || true
}

# error_rate — sets FAILURE when the services' error rate since the watch began is above the threshold.
error_rate() {
  local svc ns pod port path requests errors total=0 bad=0 threshold minimum
  threshold="$(jq -r '.thresholdPercent' <<<"$rate")" minimum="$(jq -r '.minRequests' <<<"$rate")"
  for svc in "${services[@]}"; do
    ns="$(namespace_of "$svc")"
    # The metrics endpoint as the pods announce it to Prometheus (services.<name>.metrics).
    while read -r pod port path; do
      [[ -n "$pod" && -n "$port" ]] || continue
      read -r requests errors < <(counted "$ns" "$pod" "$port" "${path:-/metrics}")
      [[ "$requests" != - ]] || continue
      # A pod seen for the first time counts from that moment.
      if [[ -z "${counted_at_start[$pod]:-}" ]]; then counted_at_start[$pod]="$requests $errors"; fi
      read -r r0 e0 <<<"${counted_at_start[$pod]}"
      total=$((total + requests - r0)) bad=$((bad + errors - e0))
    done < <(kubectl -n "$ns" get pods -l "app.kubernetes.io/name=$svc" -o json | jq -r '.items[]
        | select(.metadata.annotations["prometheus.io/port"] != null and .metadata.deletionTimestamp == null)
        | select(any(.status.conditions // [] | .[]; .type == "Ready" and .status == "True"))
        | "\(.metadata.name) \(.metadata.annotations["prometheus.io/port"]) \(.metadata.annotations["prometheus.io/path"] // "/metrics")"')
  done
  log "error rate: $bad of $total request(s) since the watch began"
  if ((total >= minimum && bad * 100 > threshold * total)); then
    failure="error rate $((bad * 100 / total))% ($bad of $total requests) is above ${threshold}%"
  fi
}

[[ "$rate" != null ]] || rate=""
log "watching for ${window}s, every ${interval}s: restarts (more than $max_restarts), readiness lost, failing Jobs${rate:+, error rate}"
first=true
while :; do
  elapsed=$(($(date +%s) - start))
  restarts=0
  while read -r ns pod ready deleting count; do
    [[ -n "$pod" ]] || continue
    # Restarts before the watch are the rollout's business; a pod that appears later counts all of its own.
    if [[ -z "${restarts_at_start[$pod]:-}" ]]; then
      if $first; then restarts_at_start[$pod]=$count; else restarts_at_start[$pod]=0; fi
    fi
    base=${restarts_at_start[$pod]}
    restarts=$((restarts + count - base))
    if [[ "$ready" == true ]]; then
      ready_before[$pod]=1
    elif [[ -n "${ready_before[$pod]:-}" && "$deleting" == false ]]; then
      failure="readiness lost: pod $ns/$pod was ready and is not"
    fi
  done < <(pods)
  first=false
  if [[ -z "$failure" ]] && ((restarts > max_restarts)); then failure="$restarts container restart(s) since the watch began (the stack tolerates $max_restarts)"; fi
  if [[ -z "$failure" ]]; then
    jobs_failed="$(failed_jobs | paste -sd ' ' -)"
    if [[ -n "$jobs_failed" ]]; then failure="Job(s) failed: $jobs_failed"; fi
  fi
  if [[ -z "$failure" && -n "$rate" ]]; then error_rate; fi
  if [[ -n "$failure" ]]; then
    log "FAILED after ${elapsed}s of ${window}s: $failure"
    printf '%s\n' "$failure"
    exit 1
  fi
  if ((elapsed >= window)); then break; fi
  sleep "$((interval < window - elapsed ? interval : window - elapsed))"
done
log "the window passed: ${window}s without a failing signal"
