#!/usr/bin/env bash
# scripts/local-down.sh — stops everything scripts/setup-local.sh starts: a background build of the
# deferred tools still running (scripts/toolchain.sh), the node (its pods,
# containers, mounts, interfaces and iptables rules, and the host sysctls put back), the local
# control plane, then the stand-ins (PostgreSQL, registry, Docker). Safe to run when nothing is running; leaves the
# cache (builds, base image, registry data) for the next start.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/local-services.sh
source "$dir/local-services.sh"
# shellcheck source=scripts/local-cluster.sh
source "$dir/local-cluster.sh"
# shellcheck source=scripts/local-node.sh
source "$dir/local-node.sh"
# shellcheck source=scripts/toolchain.sh
source "$dir/toolchain.sh"
LOG_PREFIX=local-down

# Each part is stopped even when an earlier one fails (a node that never started, a daemon already
# gone): a teardown that gives up halfway leaves the rest running for the next run to trip on.
failed=()
for part in deferred_tools node cluster services; do
  "${part}_stop" || failed+=("$part")
done
[[ ${#failed[@]} -eq 0 ]] || die "could not stop everything: ${failed[*]}" "see the lines above; then run scripts/local-down.sh again"
