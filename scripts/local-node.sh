#!/usr/bin/env bash
# scripts/local-node.sh start|stop|status — a real Kubernetes node on this machine for the local
# cluster (scripts/local-cluster.sh): the kubelet and kube-proxy of the control plane's release,
# containerd 2.x with Debian's runc, and Debian's CNI plugins (bridge, host-local, loopback,
# portmap). Pods of the local stack run here for real: images are pulled from the local
# registry with the namespace's pull secret, probes are HTTP requests, the security context is
# enforced by runc, and ClusterIP Services are routed by kube-proxy's iptables rules.
#
# Where it lives: state, logs and images under $ESTEIRA_LOCAL_DIR/node; sockets under
# $ESTEIRA_NODE_RUN; its containerd has its own socket and directories, apart from the one
# dockerd runs. The node's address is $ESTEIRA_NODE_IP on an interface of its own (the API server
# refuses to proxy `kubectl logs/exec/port-forward` to a loopback address); pods get addresses
# in $ESTEIRA_POD_CIDR on the bridge $ESTEIRA_NODE_BRIDGE and reach the host (PostgreSQL) at
# $ESTEIRA_NODE_IP.
#
# No cluster DNS: nothing here resolves in-cluster names. The sample reaches PostgreSQL by
# address, the smoke test and the e2e suite reach Services by their ClusterIP or through
# `kubectl port-forward`, and no pod talks to the API server.
#
# The kubelet, kube-proxy and the CNI plugins change host settings: `start` records the sysctls
# they touch and the iptables rules before it changes anything, and `stop` removes every pod,
# container, mount, cgroup, interface and rule they created and puts the sysctls back, so a
# second run starts from the same host.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$ESTEIRA_SCRIPTS_DIR/lib.sh"
# node_network_up: the node's address, which PostgreSQL listens on too.
# shellcheck source=scripts/local-services.sh
source "$ESTEIRA_SCRIPTS_DIR/local-services.sh"
LOG_PREFIX=local-node

NODE_DIR="$ESTEIRA_LOCAL_DIR/node"
NODE_RUN="$ESTEIRA_NODE_RUN"
CONTAINERD_BIN="$ESTEIRA_BIN/containerd-$ESTEIRA_CONTAINERD_VERSION"
PAUSE_BIN="$ESTEIRA_BIN/pause-$ESTEIRA_PAUSE_VERSION/pause"
CONTAINERD_SOCK="$ESTEIRA_CONTAINERD_SOCK"
CTR=("$CONTAINERD_BIN/ctr" --address "$CONTAINERD_SOCK" --namespace k8s.io)
KUBECTL=("$ESTEIRA_KUBE_BIN_DIR/kubectl" --kubeconfig "$ESTEIRA_KUBECONFIG")
KWOK_PKI="$ESTEIRA_LOCAL_DIR/kwok/clusters/$ESTEIRA_CLUSTER_NAME/pki"
# The sandbox image is built here, never pulled; its tag says which pause binary it holds.
SANDBOX_IMAGE="esteira.local/pause:$ESTEIRA_PAUSE_VERSION"
# Host settings the kubelet, kube-proxy and the bridge plugin may change.
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.ipv6.conf.all.forwarding
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max)
NODE_PACKAGES=(runc containernetworking-plugins iptables)
CNI_BIN_DIR=/usr/lib/cni

# --- host settings: record once, restore on stop -------------------------------------------------
record_host() {
  mkdir -p "$NODE_DIR/host"
  # Recorded only when absent: after a crash, the values on the host are ours, not the originals.
  if [[ ! -s "$NODE_DIR/host/sysctl" ]]; then
    local key
    for key in "${SYSCTLS[@]}"; do
      [[ -e "/proc/sys/${key//.//}" ]] && printf '%s=%s\n' "$key" "$(sysctl -n "$key")"
    done >"$NODE_DIR/host/sysctl.tmp"
    mv "$NODE_DIR/host/sysctl.tmp" "$NODE_DIR/host/sysctl"
  fi
  [[ -f "$NODE_DIR/host/iptables" ]] || iptables-save >"$NODE_DIR/host/iptables"
  [[ -f "$NODE_DIR/host/ip6tables" ]] || ip6tables-save >"$NODE_DIR/host/ip6tables"
}

# restore_rules SAVE-CMD RULES-CMD RESTORE-CMD FILE — puts back the tables FILE recorded, and
# empties (rules and chains) the tables that did not exist then.
restore_rules() {
  local save=$1 rules=$2 restore=$3 file=$4 table
  [[ -f "$file" ]] || return 0
  for table in $("$save" | sed -n 's/^\*//p'); do
    if grep -qx "\*$table" "$file"; then continue; fi
    "$rules" -t "$table" -F && "$rules" -t "$table" -X
  done
  grep -q '^\*' "$file" && "$restore" <"$file"
  rm -f "$file"
}

restore_host() {
  restore_rules iptables-save iptables iptables-restore "$NODE_DIR/host/iptables"
  restore_rules ip6tables-save ip6tables ip6tables-restore "$NODE_DIR/host/ip6tables"
  if [[ -s "$NODE_DIR/host/sysctl" ]]; then
    sysctl -q -p "$NODE_DIR/host/sysctl" >/dev/null 2>&1 || log "some host sysctls could not be restored: $(tr '\n' ' ' <"$NODE_DIR/host/sysctl")"
    rm -f "$NODE_DIR/host/sysctl"
  fi
}

# --- configuration ---------------------------------------------------------------------------------
write_configs() {
  mkdir -p "$NODE_DIR"/{containerd/root,containerd/certs.d,cni/net.d,cni/ipam,kubelet,pod-logs,logs,run,opt} "$NODE_RUN/containerd"
  # The local registry speaks plain HTTP on loopback.
  mkdir -p "$NODE_DIR/containerd/certs.d/$ESTEIRA_REGISTRY"
  cat >"$NODE_DIR/containerd/certs.d/$ESTEIRA_REGISTRY/hosts.toml" <<EOF
server = "http://$ESTEIRA_REGISTRY"
[host."http://$ESTEIRA_REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
  cat >"$NODE_DIR/containerd/config.toml" <<EOF
version = 3
root = "$NODE_DIR/containerd/root"
state = "$NODE_RUN/containerd/state"
# No NRI plugins here; it would otherwise open a socket under /var/run/nri.
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "$NODE_DIR/opt"

[plugins.'io.containerd.cri.v1.runtime']
  # runc cannot lower the pause container's oom_score_adj here (no CAP_SYS_RESOURCE).
  restrict_oom_score_adj = true
  # Pod network namespaces live with this containerd, not in the host's /run/netns.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$CNI_BIN_DIR"]
    conf_dir = "$NODE_DIR/cni/net.d"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$SANDBOX_IMAGE"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$NODE_DIR/containerd/certs.d"

[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
  cat >"$NODE_DIR/cni/net.d/10-esteira.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "esteira",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$ESTEIRA_NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{ "subnet": "$ESTEIRA_POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  cat >"$NODE_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine runs cgroup v1, which kubelet >= 1.35 refuses unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
address: $ESTEIRA_NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $KWOK_PKI/ca.crt
authorization:
  mode: Webhook
podLogsDir: $NODE_DIR/pod-logs
# No cluster DNS (see the header): pods get no resolver rather than one they cannot reach.
resolvConf: ""
failSwapOn: false
serializeImagePulls: false
# The machine's disk is shared with the builds and caches: evict only when it is really short.
evictionHard:
  memory.available: 200Mi
  nodefs.available: 3%
  imagefs.available: 3%
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
EOF
  cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $ESTEIRA_KUBECONFIG
hostnameOverride: $ESTEIRA_NODE_NAME
mode: iptables
clusterCIDR: $ESTEIRA_POD_CIDR
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Leave the host's conntrack sysctls and route_localnet alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  localhostNodePorts: false
EOF
}

# --- sandbox image ---------------------------------------------------------------------------------
# The pause binary in a one-file image, imported straight into the node's containerd (and so
# never pulled, and pinned as the sandbox image so image GC keeps it).
import_sandbox_image() {
  if grep -qx "$SANDBOX_IMAGE" <<<"$("${CTR[@]}" images ls -q 2>/dev/null)"; then return 0; fi
  local tmp
  tmp="$(mktemp -d)"
  cp "$PAUSE_BIN" "$tmp/pause"
  tar -C "$tmp" --owner=0 --group=0 --numeric-owner -cf "$tmp/rootfs.tar" pause
  /usr/bin/docker import --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' "$tmp/rootfs.tar" "$SANDBOX_IMAGE" >/dev/null
  /usr/bin/docker save "$SANDBOX_IMAGE" -o "$tmp/image.tar"
  "${CTR[@]}" images import "$tmp/image.tar" >/dev/null
  rm -rf "$tmp"
}

# --- processes ----------------------------------------------------------------------------------------
containerd_up() { "${CTR[@]}" version >/dev/null 2>&1; }
kubelet_up() { curl -sf "http://127.0.0.1:10248/healthz" >/dev/null; }
proxy_up() { curl -sf "http://127.0.0.1:10256/healthz" >/dev/null; }
node_ready() {
  [[ "$("${KUBECTL[@]}" get node "$ESTEIRA_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# spawn NAME CMD… — starts CMD in its own session with its log, and records its pid.
spawn() {
  local name=$1
  shift
  without_inherited_fds setsid "$@" >>"$NODE_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$NODE_DIR/run/$name.pid"
}

# fail_with_log NAME WHAT — prints the end of NAME's log, stops the node and fails.
fail_with_log() {
  tail -20 "$NODE_DIR/logs/$1.log" >&2
  node_stop >/dev/null 2>&1 || true
  die "$2 (the end of its log above; all of it: $NODE_DIR/logs/$1.log)" "fix what the log names, then run this again"
}

node_start() {
  local t0=$SECONDS
  for bin in "$CONTAINERD_BIN/containerd" "$PAUSE_BIN" "$ESTEIRA_KUBE_BIN_DIR/kubelet" "$ESTEIRA_KUBE_BIN_DIR/kube-proxy"; do
    [[ -x "$bin" ]] || die "$bin is missing" "build it first: bash scripts/toolchain.sh ${NODE_TOOLS[*]}"
  done
  [[ -s "$ESTEIRA_KUBECONFIG" && -s "$KWOK_PKI/ca.crt" ]] || die "the local cluster is not running" "bash scripts/local-cluster.sh start"
  ensure_debian_packages "${NODE_PACKAGES[@]}"
  if pid_alive "$NODE_DIR/run/kubelet.pid" && pid_alive "$NODE_DIR/run/kube-proxy.pid" && node_ready; then
    log "node $ESTEIRA_NODE_NAME: already running"
    step_note "already running"
    return 0
  fi
  ensure_port_free 10250 "the kubelet"
  record_host
  node_network_up
  write_configs

  if ! pid_alive "$NODE_DIR/run/containerd.pid"; then
    log "containerd $ESTEIRA_CONTAINERD_VERSION: starting (log $NODE_DIR/logs/containerd.log)"
    PATH="$CONTAINERD_BIN:$PATH" spawn containerd "$CONTAINERD_BIN/containerd" --config "$NODE_DIR/containerd/config.toml"
    wait_for 30 containerd_up || fail_with_log containerd "containerd did not answer on $CONTAINERD_SOCK within 30s"
  fi
  import_sandbox_image

  if ! pid_alive "$NODE_DIR/run/kubelet.pid"; then
    log "kubelet $ESTEIRA_KUBE_VERSION: starting as node $ESTEIRA_NODE_NAME ($ESTEIRA_NODE_IP)"
    spawn kubelet "$ESTEIRA_KUBE_BIN_DIR/kubelet" \
      --config "$NODE_DIR/kubelet/config.yaml" \
      --kubeconfig "$ESTEIRA_KUBECONFIG" \
      --hostname-override "$ESTEIRA_NODE_NAME" \
      --node-ip "$ESTEIRA_NODE_IP" \
      --root-dir "$NODE_DIR/kubelet" \
      --cert-dir "$NODE_DIR/kubelet/pki" \
      --v 2
    wait_for 60 kubelet_up || fail_with_log kubelet "the kubelet did not become healthy within 60s"
  fi
  if ! pid_alive "$NODE_DIR/run/kube-proxy.pid"; then
    log "kube-proxy $ESTEIRA_KUBE_VERSION: starting (iptables mode)"
    spawn kube-proxy "$ESTEIRA_KUBE_BIN_DIR/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml" --v 2
    wait_for 60 proxy_up || fail_with_log kube-proxy "kube-proxy did not become healthy within 60s"
  fi
  wait_for 120 node_ready || fail_with_log kubelet "node $ESTEIRA_NODE_NAME did not become Ready within 120s"
  log "node $ESTEIRA_NODE_NAME: Ready in $((SECONDS - t0))s"
}

# --- stop ---------------------------------------------------------------------------------------------
# Our containerd's running tasks, one id per line.
running_tasks() { "${CTR[@]}" tasks ls -q 2>/dev/null || true; }
no_tasks() { [[ -z "$(running_tasks)" ]]; }

node_stop() {
  # 1. The kubelet stops the pods it runs (CNI teardown included) when they are deleted: delete
  #    them while it still runs, so each sandbox goes through the CRI and not around it.
  if pid_alive "$NODE_DIR/run/kubelet.pid" && [[ -s "$ESTEIRA_KUBECONFIG" ]]; then
    "${KUBECTL[@]}" delete pods --all-namespaces --field-selector "spec.nodeName=$ESTEIRA_NODE_NAME" \
      --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
    wait_for 60 no_tasks || log "pods still running after 60s; killing them"
  fi
  stop_pid kubelet "$NODE_DIR/run/kubelet.pid"
  # 2. Whatever still runs: kill the tasks, remove the containers (and their shims with them).
  if containerd_up; then
    local id
    for id in $(running_tasks); do "${CTR[@]}" tasks kill -s KILL "$id" >/dev/null 2>&1 || true; done
    wait_for 15 no_tasks || true
    for id in $("${CTR[@]}" containers ls -q 2>/dev/null); do
      "${CTR[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
      "${CTR[@]}" containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_pid containerd "$NODE_DIR/run/containerd.pid"
  # Shims outlive containerd by design; ours are the ones started with its socket.
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" 2>/dev/null || true
  # 3. kube-proxy removes its own rules.
  stop_pid kube-proxy "$NODE_DIR/run/kube-proxy.pid"
  if [[ -x "$ESTEIRA_KUBE_BIN_DIR/kube-proxy" ]]; then "$ESTEIRA_KUBE_BIN_DIR/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  # 4. Mounts (pod volumes, overlay snapshots, network namespaces), deepest first.
  unmount_under "$NODE_DIR" "$NODE_RUN"
  # 5. Interfaces: the pod bridge (its veths went with the namespaces).
  ip link del "$ESTEIRA_NODE_BRIDGE" 2>/dev/null || true
  # 6. The pods' cgroups, deepest first, in every hierarchy.
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    if [[ -d "$hierarchy/kubepods" ]]; then find "$hierarchy/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  # 7. The host settings and rules as they were before the node started.
  restore_host
  # The node object goes with the cluster; its local state goes now (a fresh node next start).
  rm -rf "$NODE_DIR/kubelet" "$NODE_DIR/containerd/root" "$NODE_DIR/cni/ipam" "$NODE_DIR/pod-logs" "$NODE_RUN"
  log "node $ESTEIRA_NODE_NAME: stopped"
}

node_status() {
  if pid_alive "$NODE_DIR/run/kubelet.pid" && node_ready; then
    echo "node $ESTEIRA_NODE_NAME: Ready  $ESTEIRA_NODE_IP  pods $ESTEIRA_POD_CIDR  containerd $CONTAINERD_SOCK"
  else
    echo "node $ESTEIRA_NODE_NAME: down"
    return 1
  fi
}

# The binaries the node runs (toolchain.sh builds them).
NODE_TOOLS=(kubernetes containerd pause)

# Run as a script; sourced (setup-local.sh, local-down.sh), it only defines the steps.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    start)
      steps_begin 1
      step node "node $ESTEIRA_NODE_NAME (kubelet, kube-proxy, containerd)" node_start
      ;;
    stop) node_stop ;;
    status) node_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
fi
