#!/usr/bin/env bash
# scripts/node.sh — installs the Node.js that esteira runs on (ESTEIRA_NODE_VERSION in scripts/env.sh,
# Node.js 24 LTS) into $ESTEIRA_CACHE/node-<version>, from the npm registry's node-linux-<arch> package,
# which carries the release binary: a machine whose own Node.js is older needs no download site.
# Idempotent (a stat when warm). scripts/env.sh puts it first on PATH; .ci/run and setup-local.sh run
# this first, so the program, its tests, the local line and the benchmarks all run on it.
#   bash scripts/node.sh           # install (or find) it
#   bash scripts/node.sh --help
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"
answer_help "$@"
# shellcheck source=scripts/env.sh
source "$here/env.sh"
LOG_PREFIX=node

# node_install — lays out $ESTEIRA_NODE_DIR/bin/node unless it is already this version.
node_install() {
  local arch pkg tmp
  if [[ "$("$ESTEIRA_NODE_DIR/bin/node" --version 2>/dev/null)" == "v$ESTEIRA_NODE_VERSION" ]]; then
    step_note cached
    return 0
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Node.js package for $(uname -m)" "install Node.js $ESTEIRA_NODE_VERSION yourself and put it first on PATH" ;;
  esac
  command -v npm >/dev/null || die "npm not found" "install any Node.js with npm (Debian: apt-get install nodejs npm); it only fetches Node.js $ESTEIRA_NODE_VERSION"
  pkg="node-linux-$arch@$ESTEIRA_NODE_VERSION"
  tmp="$ESTEIRA_NODE_DIR.tmp.$$"
  rm -rf "$ESTEIRA_NODE_DIR".tmp.* && mkdir -p "$tmp"
  log "installing $pkg into $ESTEIRA_NODE_DIR"
  npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund "$pkg" >&2 \
    || die "npm could not install $pkg" "check that the npm registry is reachable and serves $pkg"
  mkdir -p "$tmp/bin"
  ln -s "../node_modules/node-linux-$arch/bin/node" "$tmp/bin/node"
  [[ "$("$tmp/bin/node" --version)" == "v$ESTEIRA_NODE_VERSION" ]] \
    || die "$pkg did not give a working node $ESTEIRA_NODE_VERSION" "remove $tmp and run this again"
  rm -rf "$ESTEIRA_NODE_DIR" && mv "$tmp" "$ESTEIRA_NODE_DIR"
}

# Run as a script; sourced (setup-local.sh), it only defines the step.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  steps_begin 1
  step nodejs "Node.js $ESTEIRA_NODE_VERSION" node_install
fi
