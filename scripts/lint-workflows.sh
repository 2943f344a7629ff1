#!/usr/bin/env bash
# scripts/lint-workflows.sh — lint .github/workflows/*.yml with actionlint,
# with shellcheck checking every `run:` script, and shellcheck the scripts the
# workflows call. Exits non-zero on any finding.
#
# actionlint is built from the wrapper module scripts/go/actionlint (its
# committed go.sum pins every module: the checksum database is not reachable
# from the build machines) into
#   $ESTEIRA_CACHE/bin/actionlint-<version>/actionlint
# and reused while the wrapper is unchanged. shellcheck comes from Debian
# (apt-get) when it is missing; without it, run: scripts go unchecked and the
# script says so.
#
# Usage: scripts/lint-workflows.sh          (from anywhere; CI=true and no stdin are fine)
# Env:   ESTEIRA_CACHE       cache root (default ~/.cache/esteira)
#        ESTEIRA_NO_APT=1    never call apt-get
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRAPPER="$ROOT/scripts/go/actionlint"
ESTEIRA_CACHE="${ESTEIRA_CACHE:-$HOME/.cache/esteira}"

# Repository/environment variables the workflows may read as vars.<NAME>; any
# other name is reported as a typo.
CONFIG_VARIABLES=(PULUMI_BACKEND_URL)
# Scripts the workflows run; shellchecked here because actionlint only sees
# the run: blocks that call them.
WORKFLOW_SCRIPTS=(scripts/smoke-test.sh scripts/lint-workflows.sh)

log() { printf '[lint-workflows] %s\n' "$*" >&2; }

# --- actionlint --------------------------------------------------------------
VERSION="$(awk '$1 == "github.com/rhysd/actionlint" { print $2 }' "$WRAPPER/go.mod")"
[[ -n "$VERSION" ]] || { log "no github.com/rhysd/actionlint requirement in $WRAPPER/go.mod"; exit 1; }
DEST="$ESTEIRA_CACHE/bin/actionlint-$VERSION"
ACTIONLINT="$DEST/actionlint"
# A changed go.mod/go.sum at the same version (a re-pinned dependency) rebuilds too.
KEY="$(cat "$WRAPPER/go.mod" "$WRAPPER/go.sum" | sha256sum | cut -c1-16)"

if [[ -x "$ACTIONLINT" && -f "$DEST/.stamp" && "$(cat "$DEST/.stamp")" == "$KEY" ]]; then
  log "actionlint $VERSION: cached ($ACTIONLINT)"
else
  command -v go >/dev/null || { log "go is required to build actionlint"; exit 1; }
  log "actionlint $VERSION: building from scripts/go/actionlint"
  start=$SECONDS
  tmp="$DEST.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  # -mod=readonly + GOSUMDB=off: every download is checked against the
  # committed go.sum and nothing in the repo is rewritten.
  (
    cd "$WRAPPER"
    GOMODCACHE="$ESTEIRA_CACHE/go/mod" GOCACHE="$ESTEIRA_CACHE/go/build" \
      GOFLAGS="-mod=readonly -buildvcs=false" GOSUMDB=off GOTOOLCHAIN=local \
      GOBIN="$tmp" go install -trimpath \
      -ldflags "-s -w -X github.com/rhysd/actionlint.version=$VERSION" \
      github.com/rhysd/actionlint/cmd/actionlint
  )
  echo "$KEY" >"$tmp/.stamp"
  rm -rf "$DEST" && mv "$tmp" "$DEST"
  trap - EXIT
  log "actionlint $VERSION: built in $((SECONDS - start))s -> $ACTIONLINT"
fi

# --- shellcheck --------------------------------------------------------------
# Non-root: only through passwordless sudo (sudo -n never prompts).
apt_get() {
  if [[ "$(id -u)" == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null
  else
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null
  fi
}
if ! command -v shellcheck >/dev/null; then
  if [[ "${ESTEIRA_NO_APT:-0}" == 1 ]]; then
    log "shellcheck: missing, ESTEIRA_NO_APT=1 so not installing it"
  elif ! command -v apt-get >/dev/null; then
    log "shellcheck: missing and apt-get is not available"
  elif [[ "$(id -u)" != 0 ]] && ! command -v sudo >/dev/null; then
    log "shellcheck: missing; not root and no sudo to run apt-get"
  else
    log "shellcheck: installing Debian's package (apt-get)"
    apt_log="$(mktemp)"
    if ! { apt_get update -qq && apt_get install -y -qq --no-install-recommends shellcheck; } >"$apt_log" 2>&1; then
      log "shellcheck: apt-get failed:"
      cat "$apt_log" >&2
    fi
    rm -f "$apt_log"
  fi
fi
if command -v shellcheck >/dev/null; then
  log "shellcheck: $(shellcheck --version | awk '/^version:/ { print $2 }') ($(command -v shellcheck))"
  shellcheck_flag=(-shellcheck "$(command -v shellcheck)")
else
  log "WARNING: shellcheck is not installed and could not be installed; run: scripts are NOT checked"
  shellcheck_flag=(-shellcheck "")
fi

# --- lint --------------------------------------------------------------------
cd "$ROOT"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
shopt -u nullglob
if [[ ${#workflows[@]} -eq 0 ]]; then
  log "no workflows under .github/workflows"
  exit 1
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
{
  echo "config-variables:"
  printf '  - %s\n' "${CONFIG_VARIABLES[@]}"
} >"$scratch/actionlint.yaml"

status=0
log "actionlint ${workflows[*]}"
"$ACTIONLINT" -no-color -config-file "$scratch/actionlint.yaml" "${shellcheck_flag[@]}" -pyflakes "" "${workflows[@]}" || status=1

# actionlint validates a known action's inputs only when it is referenced by a
# major tag (actions/checkout@v4); the workflows pin full versions
# (@v4.2.2). Lint a copy with the refs cut to the major tag, same paths and
# line numbers, so a misspelt input (with: stak-name) is still caught.
mkdir -p "$scratch/.github/workflows"
for wf in "${workflows[@]}"; do
  sed -E 's#^([[:space:]-]*uses:[[:space:]]*[^@[:space:]]+@v[0-9]+)\.[0-9][0-9.]*#\1#' "$wf" >"$scratch/$wf"
done
# Only the [action] findings are reported from this pass; the rest were above.
log "actionlint (action inputs, refs cut to major tags)"
# A Go template for actionlint, not shell: the $ are meant literally (actionlint turns \n into a newline).
# shellcheck disable=SC2016
only_action='{{range $e := .}}{{if eq $e.Kind "action"}}{{$e.Filepath}}:{{$e.Line}}:{{$e.Column}}: {{$e.Message}} [action]\n{{end}}{{end}}'
findings="$(cd "$scratch" && "$ACTIONLINT" -config-file actionlint.yaml -shellcheck "" -pyflakes "" -format "$only_action" "${workflows[@]}" 2>&1)" || true
if [[ -n "$findings" ]]; then
  printf '%s\n' "$findings"
  status=1
fi

if command -v shellcheck >/dev/null; then
  present=()
  for s in "${WORKFLOW_SCRIPTS[@]}"; do [[ -f "$s" ]] && present+=("$s"); done
  if [[ ${#present[@]} -gt 0 ]]; then
    log "shellcheck ${present[*]}"
    shellcheck -x "${present[@]}" || status=1
  fi
fi

if [[ $status -eq 0 ]]; then
  log "clean"
else
  log "FAILED: findings above"
fi
exit "$status"
