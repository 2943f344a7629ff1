#!/usr/bin/env bash
# scripts/local-cluster.sh start|stop|status — a local Kubernetes control plane on
# 127.0.0.1 for end-to-end tests: real kube-apiserver, controller-manager,
# scheduler and etcd (built by toolchain.sh). Pods run on the real node that
# scripts/local-node.sh joins to it. kwok stays for scale runs: with
# ESTEIRA_CLUSTER_NODES=N it adds N fake nodes, tainted so that only pods that
# tolerate kwok.x-k8s.io/node=fake land there; the kwok controller manages only
# those (annotated) nodes, never the real one. A cluster with no real node (the
# engine benchmark's, bench/engine.ts) sets ESTEIRA_CLUSTER_TAINT_KWOK=false so
# that the stack's pods run on the fake nodes, Ready at once.
#
# kwokctl's "binary" runtime runs the processes; every binary is given by
# local path because kwokctl would otherwise download them (no network here).
# start is idempotent; stop deletes the cluster (fresh state next start) and
# leaves no processes behind. The kubeconfig is $ESTEIRA_KUBECONFIG.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$ESTEIRA_SCRIPTS_DIR/lib.sh"
# shellcheck source=scripts/toolchain.sh
source "$ESTEIRA_SCRIPTS_DIR/toolchain.sh"
LOG_PREFIX=local-cluster

NAME="$ESTEIRA_CLUSTER_NAME"
NODES="${ESTEIRA_CLUSTER_NODES:-0}"
# true (default): fake nodes are tainted, so the stack's pods go to the real node; false: no taint.
TAINT_KWOK="${ESTEIRA_CLUSTER_TAINT_KWOK:-true}"
[[ "$TAINT_KWOK" == true || "$TAINT_KWOK" == false ]] ||
  die "ESTEIRA_CLUSTER_TAINT_KWOK must be true or false; received \"$TAINT_KWOK\"" "unset it (true), or set it to false for a cluster with no real node"
# kwokctl keeps cluster state, pids and logs under its work dir; keep it in
# our cache rather than ~/.kwok.
export KWOK_WORKDIR="$ESTEIRA_LOCAL_DIR/kwok"
# Tell kwokctl exactly what it runs, so it neither downloads nor guesses
# version-dependent flags.
export KWOK_RUNTIME=binary
export KWOK_KUBE_VERSION="v$ESTEIRA_KUBE_VERSION"
export KWOK_ETCD_VERSION="$ESTEIRA_ETCD_VERSION"
export KWOK_KUBECTL_BINARY="$ESTEIRA_KUBE_BIN_DIR/kubectl"
KWOKCTL="$ESTEIRA_KWOK_BIN_DIR/kwokctl"
KUBECTL=("$ESTEIRA_KUBE_BIN_DIR/kubectl" --kubeconfig "$ESTEIRA_KUBECONFIG")

# grep reads captured output: under pipefail, `cmd | grep -q` fails when grep quits before cmd ends.
exists() { grep -qx "$NAME" <<<"$("$KWOKCTL" get clusters 2>/dev/null)"; }
ready() { [[ -s "$ESTEIRA_KUBECONFIG" ]] && "${KUBECTL[@]}" get --raw /readyz >/dev/null 2>&1; }

# The binaries the cluster runs (toolchain.sh builds them).
CLUSTER_TOOLS=(kubernetes kwok etcd)

cluster_start() {
  local t0=$SECONDS
  for bin in "$ESTEIRA_KUBE_BIN_DIR/kube-apiserver" "$KWOKCTL" "$ESTEIRA_ETCD_BIN_DIR/etcd"; do
    [[ -x "$bin" ]] || die "$bin is missing" "build it first: bash scripts/toolchain.sh ${CLUSTER_TOOLS[*]}"
  done
  mkdir -p "$KWOK_WORKDIR" "$(dirname "$ESTEIRA_KUBECONFIG")"
  if exists && ready; then
    log "cluster $NAME: already running"
    step_note "already running"
  elif exists; then
    log "cluster $NAME: starting existing cluster"
    (without_inherited_fds "$KWOKCTL" start cluster --name "$NAME" --wait 2m)
  else
    log "cluster $NAME: creating (kube $ESTEIRA_KUBE_VERSION, etcd $ESTEIRA_ETCD_VERSION, kwok $ESTEIRA_KWOK_VERSION)"
    # kwokctl binds every component to 0.0.0.0 by default: loopback only. The API server
    # reaches the real node's kubelet (logs, exec, port-forward) with the admin client
    # certificate, at the node's InternalIP. The binary runtime makes the kwok controller
    # manage every node; it must keep to its own fake ones.
    local pki="$KWOK_WORKDIR/clusters/$NAME/pki"
    cat >"$KWOK_WORKDIR/kwokctl.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
componentsPatches:
- name: kube-apiserver
  extraArgs:
  - key: kubelet-client-certificate
    value: $pki/admin.crt
  - key: kubelet-client-key
    value: $pki/admin.key
  - key: kubelet-preferred-address-types
    value: InternalIP
- name: kwok-controller
  extraArgs:
  - key: manage-all-nodes
    value: "false"
    override: true
  - key: manage-nodes-with-annotation-selector
    value: kwok.x-k8s.io/node=fake
EOF
    (without_inherited_fds "$KWOKCTL" create cluster --name "$NAME" \
      --config "$KWOK_WORKDIR/kwokctl.yaml" \
      --runtime binary \
      --kubeconfig "$ESTEIRA_KUBECONFIG" \
      --kube-apiserver-binary "$ESTEIRA_KUBE_BIN_DIR/kube-apiserver" \
      --kube-controller-manager-binary "$ESTEIRA_KUBE_BIN_DIR/kube-controller-manager" \
      --kube-scheduler-binary "$ESTEIRA_KUBE_BIN_DIR/kube-scheduler" \
      --kwok-controller-binary "$ESTEIRA_KWOK_BIN_DIR/kwok" \
      --etcd-binary "$ESTEIRA_ETCD_BIN_DIR/etcd" \
      --wait 2m) || { cluster_stop; die "kwokctl could not create the cluster (its output above; component logs under $KWOK_WORKDIR/clusters/$NAME/logs)" "fix what the logs name, then run this again"; }
  fi
  # Fake nodes for scale runs only; kwok plays their kubelet. Tainted, so the stack's pods
  # (which carry no kwok-specific field) land on the real node, unless there is none to land on.
  if [[ "$NODES" -gt 0 ]]; then
    # Every workload here requests ephemeral storage, which kwok's default node does not offer.
    "$KWOKCTL" scale node --name "$NAME" --replicas "$NODES" \
      --param '.capacity["ephemeral-storage"]="100Gi"' --param '.allocatable["ephemeral-storage"]="100Gi"'
    if [[ "$TAINT_KWOK" == true ]]; then
      "${KUBECTL[@]}" taint nodes -l type=kwok kwok.x-k8s.io/node=fake:NoSchedule --overwrite >/dev/null
    else
      "${KUBECTL[@]}" taint nodes -l type=kwok kwok.x-k8s.io/node=fake:NoSchedule- >/dev/null 2>&1 || true
    fi
    "${KUBECTL[@]}" wait --for=condition=Ready node -l type=kwok --timeout=120s >/dev/null
  fi
  # Pods need a ServiceAccount; the controller-manager creates "default" in
  # each namespace shortly after start. Wait so the first apply doesn't race it.
  wait_for 60 "${KUBECTL[@]}" -n default get serviceaccount default ||
    die "the controller-manager created no default ServiceAccount within 60s" "see $KWOK_WORKDIR/clusters/$NAME/logs"
  log "cluster $NAME: ready in $((SECONDS - t0))s; KUBECONFIG=$ESTEIRA_KUBECONFIG"
}

cluster_components_gone() { ! pgrep -f "$KWOK_WORKDIR/clusters/$NAME/" >/dev/null; }

cluster_stop() {
  [[ -x "$KWOKCTL" ]] || { log "cluster $NAME: kwokctl not built, nothing to stop"; return 0; }
  if ! exists; then log "cluster $NAME: not present"; return 0; fi
  # Deleting the cluster deletes its components' logs: keep the last run's, which is where a failed
  # CI run is read after the fact (the controller-manager's above all).
  local kept="${ESTEIRA_CACHE:?}/logs/cluster-components"
  rm -rf "$kept" && mkdir -p "$kept"
  cp "$KWOK_WORKDIR/clusters/$NAME/logs/"*.log "$kept/" 2>/dev/null || true
  "$KWOKCTL" delete cluster --name "$NAME" --kubeconfig "$ESTEIRA_KUBECONFIG"
  # kwokctl signals the components and returns; wait until they are gone so
  # a following start (or the end of a CI job) sees no leftovers.
  if ! wait_for 10 cluster_components_gone; then
    pkill -KILL -f "$KWOK_WORKDIR/clusters/$NAME/" || true
  fi
  log "cluster $NAME: deleted (its components' logs kept in $kept)"
}

cluster_status() {
  if exists && ready; then
    echo "cluster $NAME: up   KUBECONFIG=$ESTEIRA_KUBECONFIG server=$("${KUBECTL[@]}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
    "${KUBECTL[@]}" get nodes --no-headers 2>/dev/null | sed 's/^/  /'
  elif exists; then
    echo "cluster $NAME: stopped"; return 1
  else
    echo "cluster $NAME: absent"; return 1
  fi
}

# Run as a script; sourced (setup-local.sh), it only defines the steps.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    start)
      steps_begin $((${#CLUSTER_TOOLS[@]} + 1))
      toolchain_steps "${CLUSTER_TOOLS[@]}"
      step cluster "cluster $NAME" cluster_start
      ;;
    stop) cluster_stop ;;
    status) cluster_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
fi
