# shellcheck shell=bash
# scripts/env.sh — source me (`source scripts/env.sh`) to get the local
# toolchain and stand-in services on PATH / in the environment.
#
# Single source of truth for tool versions and paths used by toolchain.sh,
# local-cluster.sh and local-services.sh. Sourcing it is side-effect free
# apart from exporting variables: it never builds or starts anything, so it is
# safe to source before toolchain.sh has run (the paths just don't exist yet).

# Run rather than sourced, this file is only its own help.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  # shellcheck source=scripts/lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
  answer_help "$@"
  usage
fi

ESTEIRA_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export ESTEIRA_SCRIPTS_DIR

# Slow builds and all runtime state live outside the repo so a clean clone
# stays clean and a warm machine reuses them.
export ESTEIRA_CACHE="${ESTEIRA_CACHE:-$HOME/.cache/esteira}"

# --- pinned versions ------------------------------------------------------
# Node.js 24 LTS: the program, its tests, the local line, the benchmarks and the sample's image run on
# it. scripts/node.sh installs it from the npm registry's node-linux-<arch> package (the release
# binary), so a machine whose own Node.js is older needs no download site; the local base image gets
# the same binary and this npm.
export ESTEIRA_NODE_VERSION=24.22.3
export ESTEIRA_NPM_VERSION=11.21.3
# Each must match the version pinned in scripts/go/<wrapper>/go.mod.
# Pulumi CLI: newest pkg/v3 whose module zip the proxy here serves.
export ESTEIRA_PULUMI_VERSION=3.277.0
# Node.js language host: last release where it lived inside sdk/v3 (see
# scripts/go/pulumi-language-nodejs/go.mod for why not a newer one).
export ESTEIRA_PULUMI_NODEJS_HOST_VERSION=3.68.0
# Providers: must equal the npm packages' versions the program uses.
export ESTEIRA_PROVIDER_KUBERNETES_VERSION=4.25.0
export ESTEIRA_PROVIDER_DOCKER_BUILD_VERSION=0.0.22
# docker-buildx CLI plugin: the version that provider embeds. Its exec mode
# runs this binary, which builds on the local daemon's own BuildKit.
export ESTEIRA_BUILDX_VERSION=0.35.0
# Kubernetes control plane; kwok v0.8.0's default Kubernetes is 1.36.1.
export ESTEIRA_KUBE_VERSION=1.36.1
export ESTEIRA_KWOK_VERSION=0.8.0
# etcd line Kubernetes 1.36 is built against.
export ESTEIRA_ETCD_VERSION=3.6.8
# The local node's runtime (scripts/local-node.sh): containerd 2.x, which kubelet 1.36 supports
# (Debian bookworm's 1.6 it does not), and the pause binary of scripts/go/pause.
export ESTEIRA_CONTAINERD_VERSION=2.2.9
export ESTEIRA_PAUSE_VERSION=1
# Workflow linter (scripts/lint-workflows.sh).
export ESTEIRA_ACTIONLINT_VERSION=1.7.12
# Signs and verifies the promotion evidence (scripts/promotion-evidence.sh).
export ESTEIRA_COSIGN_VERSION=2.6.5
# Writes each built image's SBOM, which cosign attests (scripts/promotion-evidence.sh sbom). BuildKit's own SBOM
# attestation needs a builder the docker-build provider cannot ask for (it has no sbom option) and the
# local daemon's built-in BuildKit cannot export, and it would be unsigned.
export ESTEIRA_SYFT_VERSION=1.57.2
# The local line's stand-in for DigitalOcean Spaces (S3-compatible object storage for the database
# dumps): its accounts reach only the buckets they own, as a Spaces key reaches only its grants.
export ESTEIRA_VERSITYGW_VERSION=1.8.0

# --- binaries ---------------------------------------------------------------
export ESTEIRA_BIN="$ESTEIRA_CACHE/bin"
export ESTEIRA_NODE_DIR="$ESTEIRA_CACHE/node-$ESTEIRA_NODE_VERSION"
export ESTEIRA_PULUMI_BIN_DIR="$ESTEIRA_BIN/pulumi-$ESTEIRA_PULUMI_VERSION"
export ESTEIRA_KUBE_BIN_DIR="$ESTEIRA_BIN/kubernetes-$ESTEIRA_KUBE_VERSION"
export ESTEIRA_KWOK_BIN_DIR="$ESTEIRA_BIN/kwok-$ESTEIRA_KWOK_VERSION"
export ESTEIRA_ETCD_BIN_DIR="$ESTEIRA_BIN/etcd-$ESTEIRA_ETCD_VERSION"
export ESTEIRA_COSIGN_BIN_DIR="$ESTEIRA_BIN/cosign-$ESTEIRA_COSIGN_VERSION"
export ESTEIRA_SYFT_BIN_DIR="$ESTEIRA_BIN/syft-$ESTEIRA_SYFT_VERSION"
# Debian's docker client (talks to Debian's 20.10 daemon with built-in
# BuildKit support); /usr/local/bin/docker may be a newer client without the
# buildx plugin, so a shim dir puts Debian's first on PATH.
export ESTEIRA_SHIM_DIR="$ESTEIRA_CACHE/shims"

case ":$PATH:" in
  *":$ESTEIRA_PULUMI_BIN_DIR:"*) ;;
  *) PATH="$ESTEIRA_NODE_DIR/bin:$ESTEIRA_SHIM_DIR:$ESTEIRA_PULUMI_BIN_DIR:$ESTEIRA_KUBE_BIN_DIR:$ESTEIRA_KWOK_BIN_DIR:$ESTEIRA_ETCD_BIN_DIR:$ESTEIRA_COSIGN_BIN_DIR:$ESTEIRA_SYFT_BIN_DIR:$PATH" ;;
esac
export PATH

# --- Pulumi -----------------------------------------------------------------
# A PULUMI_HOME of our own: plugins are installed there by toolchain.sh and
# nothing from a developer's ~/.pulumi leaks in. Override ESTEIRA_PULUMI_HOME
# to put it elsewhere.
export PULUMI_HOME="${ESTEIRA_PULUMI_HOME:-$ESTEIRA_CACHE/pulumi-home}"
export ESTEIRA_PULUMI_PLUGIN_DIR="$PULUMI_HOME/plugins"
# No network beyond package registries: never check for CLI updates, and
# fail fast instead of trying to download a missing plugin.
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

# --- local Kubernetes (scripts/local-cluster.sh) ----------------------------
export ESTEIRA_CLUSTER_NAME="${ESTEIRA_CLUSTER_NAME:-esteira}"
export ESTEIRA_KUBECONFIG="${ESTEIRA_KUBECONFIG:-$ESTEIRA_CACHE/local/kubeconfig}"

# --- local node (scripts/local-node.sh) ---------------------------------------
# The node's address sits on an interface of its own (a portless bridge): the API server will not proxy logs, exec or
# port-forward to a loopback address. Pods get addresses on a bridge of their own and reach the
# host (PostgreSQL) at the node's address.
export ESTEIRA_NODE_NAME="${ESTEIRA_NODE_NAME:-esteira-node}"
export ESTEIRA_NODE_IFACE=esteira-node0
export ESTEIRA_NODE_IP="${ESTEIRA_NODE_IP:-10.213.0.1}"
export ESTEIRA_NODE_BRIDGE=esteira-br0
export ESTEIRA_POD_CIDR="${ESTEIRA_POD_CIDR:-10.214.0.0/24}"
export ESTEIRA_NODE_RUN=/run/esteira-node
export ESTEIRA_CONTAINERD_SOCK="$ESTEIRA_NODE_RUN/containerd/containerd.sock"

# --- local services (scripts/local-services.sh) -----------------------------
export ESTEIRA_LOCAL_DIR="$ESTEIRA_CACHE/local"
export ESTEIRA_DOCKER_SOCK="$ESTEIRA_LOCAL_DIR/docker/docker.sock"
export ESTEIRA_DOCKER_HOST="unix://$ESTEIRA_DOCKER_SOCK"
# Point docker clients (and the docker-build provider) at our own daemon and
# an isolated client config holding the local registry login.
export DOCKER_HOST="$ESTEIRA_DOCKER_HOST"
export DOCKER_CONFIG="$ESTEIRA_LOCAL_DIR/docker-config"
export ESTEIRA_REGISTRY="127.0.0.1:5000"
export ESTEIRA_REGISTRY_USER="esteira"
export ESTEIRA_REGISTRY_PASSWORD_FILE="$ESTEIRA_LOCAL_DIR/registry/password"
export ESTEIRA_BASE_IMAGE_LOCAL="esteira/node-base:bookworm"
export ESTEIRA_BASE_IMAGE="$ESTEIRA_REGISTRY/esteira/node-base:bookworm"
# Pull requests' in-namespace PostgreSQL (stacks/pr.local.template.yaml), from Debian's package.
export ESTEIRA_POSTGRES_IMAGE="$ESTEIRA_REGISTRY/esteira/postgres:15-bookworm"
# PostgreSQL listens on loopback and on the node's address, where pods reach it; its URL names
# the node's address so the same URL works from the host and from a pod.
export ESTEIRA_PG_HOST="$ESTEIRA_NODE_IP"
export ESTEIRA_PG_PORT=5433
export ESTEIRA_PG_DB="${ESTEIRA_PG_DB:-esteira}"
export ESTEIRA_PG_USER=esteira
export ESTEIRA_PG_PASSWORD_FILE="$ESTEIRA_LOCAL_DIR/postgres/password"
# A role that may create databases and roles (not a superuser): what stacks with
# `database.mode: server` (pull-request stacks on the local base) make theirs with.
export ESTEIRA_PG_ADMIN_USER=esteira_admin
export ESTEIRA_PG_ADMIN_PASSWORD_FILE="$ESTEIRA_LOCAL_DIR/postgres/admin-password"
# The S3-compatible stand-in for Spaces (versitygw, scripts/local-services.sh): on loopback and on
# the node's address, where the backup jobs' pods reach it. Its root account makes the buckets and
# the accounts that each own one; the root secret stays in its file.
export ESTEIRA_S3_PORT=7070
export ESTEIRA_S3_ENDPOINT="http://$ESTEIRA_NODE_IP:$ESTEIRA_S3_PORT"
export ESTEIRA_S3_ROOT_USER=esteira-root
export ESTEIRA_S3_ROOT_SECRET_FILE="$ESTEIRA_LOCAL_DIR/s3/root-secret"
# URL without the password (it stays in the file, never in the environment's
# printed form); esteira_database_url below builds the full one on demand.
export ESTEIRA_DATABASE_URL_NOPASS="postgresql://$ESTEIRA_PG_USER@$ESTEIRA_PG_HOST:$ESTEIRA_PG_PORT/$ESTEIRA_PG_DB"

# Pulumi.yaml's `tsconfig` runtime option, as the released language host passes it to the program.
# The host built here (3.68) predates runtime options in RunRequest, so without this every local
# preview and up would type-check the program again (docs/performance.md: Type-checking at deploy time).
PULUMI_NODEJS_TSCONFIG_PATH="${PULUMI_NODEJS_TSCONFIG_PATH:-$(sed -nE 's/^ +tsconfig: *([^ #]+).*/\1/p' "$ESTEIRA_SCRIPTS_DIR/../Pulumi.yaml")}"
export PULUMI_NODEJS_TSCONFIG_PATH

# esteira_postgres_url USER PASSWORD-FILE DATABASE — prints a URL with the password from the file,
# for a consumer to capture or pipe (never printed to a terminal by these scripts).
esteira_postgres_url() {
  local pw
  pw="$(cat "$2")"
  pw="$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$pw" 2>/dev/null || printf '%s' "$pw")"
  printf 'postgresql://%s:%s@%s:%s/%s\n' "$1" "$pw" "$ESTEIRA_PG_HOST" "$ESTEIRA_PG_PORT" "$3"
}
# The local stack's DATABASE_URL, e.g. DATABASE_URL="$(esteira_database_url)".
esteira_database_url() { esteira_postgres_url "$ESTEIRA_PG_USER" "$ESTEIRA_PG_PASSWORD_FILE" "$ESTEIRA_PG_DB"; }
# The server's admin connection, which the local stack exports to pull-request stacks.
esteira_database_admin_url() { esteira_postgres_url "$ESTEIRA_PG_ADMIN_USER" "$ESTEIRA_PG_ADMIN_PASSWORD_FILE" postgres; }
