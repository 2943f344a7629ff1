#!/usr/bin/env bash
# scripts/lint-workflows.sh — lint .github/workflows/*.yml with actionlint,
# with shellcheck checking every `run:` script, and shellcheck every script of
# the repository (scripts/*.sh, .ci/run, app/scripts/*.sh, images/backup/esteira-*). Exits non-zero on
# any finding.
#
# actionlint is built by scripts/toolchain.sh (wrapper module scripts/go/actionlint)
# and reused while the wrapper is unchanged. shellcheck comes from Debian
# (apt-get) when it is missing.
#
# Usage: scripts/lint-workflows.sh          (from anywhere; CI=true and no stdin are fine)
# Env:   ESTEIRA_CACHE       cache root (default ~/.cache/esteira)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchain.sh
source "$ROOT/scripts/toolchain.sh"
LOG_PREFIX=lint-workflows

# Repository/environment variables the workflows may read as vars.<NAME>; any
# other name is reported as a typo.
CONFIG_VARIABLES=(PULUMI_BACKEND_URL EVIDENCE_PROVENANCE_PUBLIC_KEY EVIDENCE_VERIFIED_PUBLIC_KEY)

# --- actionlint --------------------------------------------------------------
steps_begin 1
toolchain_steps actionlint
ACTIONLINT="$ESTEIRA_BIN/actionlint-$ESTEIRA_ACTIONLINT_VERSION/actionlint"

# --- shellcheck ----------------------------------------------------------------
command -v shellcheck >/dev/null || ensure_debian_packages shellcheck
if command -v shellcheck >/dev/null; then
  log "shellcheck: $(shellcheck --version | awk '/^version:/ { print $2 }') ($(command -v shellcheck))"
  shellcheck_flag=(-shellcheck "$(command -v shellcheck)")
else
  die "shellcheck is not installed" "apt-get install shellcheck"
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
# major tag (actions/checkout@v4); the workflows pin commit SHAs with the
# version in a comment (@<40 hex> # v4.2.2). Lint a copy with each ref replaced
# by its major tag, same paths and line numbers, so a misspelt input
# (with: stak-name) is still caught. The local composite action is copied too,
# so its inputs are checked where it is used.
mkdir -p "$scratch/.github/workflows"
for wf in "${workflows[@]}"; do
  sed -E 's#^([[:space:]-]*uses:[[:space:]]*[^@[:space:]]+)@[0-9a-f]{40}[[:space:]]*\#[[:space:]]*(v[0-9]+)[.0-9]*.*$#\1@\2#' "$wf" >"$scratch/$wf"
done
if [[ -d .github/actions ]]; then cp -r .github/actions "$scratch/.github/"; fi
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

scripts=(scripts/*.sh .ci/run app/scripts/*.sh images/backup/esteira-*)
log "shellcheck ${scripts[*]}"
shellcheck -x "${scripts[@]}" || status=1

if [[ $status -eq 0 ]]; then
  log "clean"
else
  log "FAILED: findings above"
fi
exit "$status"
