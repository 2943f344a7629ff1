#!/usr/bin/env bash
# scripts/local-down.sh — stops everything scripts/setup-local.sh starts: the node (its pods,
# containers, mounts, interfaces and iptables rules, and the host sysctls put back), the local
# control plane, then the stand-ins (PostgreSQL, registry, Docker). Safe to run when nothing is running; leaves the
# cache (builds, base image, registry data) for the next start.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/local-services.sh
source "$dir/local-services.sh"
# shellcheck source=scripts/local-cluster.sh
source "$dir/local-cluster.sh"
# shellcheck source=scripts/local-node.sh
source "$dir/local-node.sh"
LOG_PREFIX=local-down

node_stop
cluster_stop
services_stop
