#!/usr/bin/env bash
# scripts/zizmor.sh — audit .github/ (workflows, the composite action, Dependabot) with zizmor,
# the GitHub Actions static analyser from PyPI. Exits non-zero on any finding that is not ignored
# inline with its reason (`# zizmor: ignore[<audit>]`) or in .github/zizmor.yml.
#
# zizmor is installed with pip into a virtualenv under the cache, keyed by version, and reused.
# With GH_TOKEN (or GITHUB_TOKEN) set, the online audits run too (impostor commits, known
# vulnerable actions, ref confusion); without one, offline audits only.
#
# Usage: scripts/zizmor.sh
# Env:   ESTEIRA_CACHE  cache root (default ~/.cache/esteira)
set -euo pipefail

ZIZMOR_VERSION=1.32.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
answer_help "$@"
LOG_PREFIX=zizmor

venv="${ESTEIRA_CACHE:-$HOME/.cache/esteira}/zizmor-$ZIZMOR_VERSION"
if [[ ! -f "$venv/.complete" ]]; then
  command -v python3 >/dev/null || die "python3 is required" "apt-get install python3 python3-venv"
  log "installing zizmor $ZIZMOR_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed" "apt-get install python3-venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "zizmor==$ZIZMOR_VERSION" ||
    die "pip could not install zizmor $ZIZMOR_VERSION" "check that PyPI (or your index, PIP_INDEX_URL) is reachable"
  touch "$venv/.complete"
fi

network=(--offline)
if [[ -n "${GH_TOKEN:-${GITHUB_TOKEN:-}}" ]]; then network=(); fi
log "zizmor $("$venv/bin/zizmor" --version | awk '{ print $2 }') ${network[*]:-with online audits} on .github/"
cd "$ROOT"
"$venv/bin/zizmor" "${network[@]}" --no-progress --config .github/zizmor.yml .github/
