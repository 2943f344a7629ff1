#!/usr/bin/env bash
# scripts/local-down.sh — stops everything scripts/setup-local.sh starts: the local cluster, then
# the stand-ins (PostgreSQL, registry, Docker). Safe to run when nothing is running; leaves the
# cache (builds, base image, registry data) for the next start.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/local-services.sh
source "$dir/local-services.sh"
# shellcheck source=scripts/local-cluster.sh
source "$dir/local-cluster.sh"
LOG_PREFIX=local-down

cluster_stop
services_stop
