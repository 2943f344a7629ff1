#!/usr/bin/env bash
# scripts/setup-local.sh — bring up everything an end-to-end run needs, in
# order, and print how long each step took:
#   toolchain (build/cached) -> local services -> local cluster.
# Then: source scripts/env.sh
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
timings=()

step() {
  local name=$1 t0=$SECONDS; shift
  "$@"
  timings+=("$(printf '%-16s %5ss' "$name" "$((SECONDS - t0))")")
}

step toolchain "$dir/toolchain.sh"
step local-services "$dir/local-services.sh" start
step local-cluster "$dir/local-cluster.sh" start

printf '[setup-local] %s\n' "${timings[@]}" >&2
echo "[setup-local] ready; run: source $dir/env.sh" >&2
