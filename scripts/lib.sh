# shellcheck shell=bash
# scripts/lib.sh — what every script here shares: logging, failing with a fix, waiting, stopping
# what we started, and numbered setup steps with progress. Source it; it only defines functions.
#
#   LOG_PREFIX=my-script; source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# usage [STATUS] — the calling script's help: its header comment (the `#` lines from line 2),
# first line prefixed `usage: `. `usage 0` (help asked for) prints it on stdout and exits 0; plain
# `usage` (a usage error) on stderr, exit 2. Pure bash: it must work with nothing installed.
usage() {
  local status=${1:-2} line n=0 fd=1
  [[ $status -eq 0 ]] || fd=2
  while IFS= read -r line; do
    n=$((n + 1))
    ((n >= 2)) || continue
    [[ $line == '#'* ]] || break
    line=${line#\#}
    line=${line# }
    ((n > 2)) || line="usage: $line"
    printf '%s\n' "$line" >&"$fd"
  done <"$0"
  exit "$status"
}

# answer_help ARG… — when the arguments ask for help (-h or --help, before a bare --), prints the
# usage and exits 0, before anything is checked, built or started. Call it with "$@" right after
# sourcing this file; in a file that is itself being sourced it does nothing.
answer_help() {
  [[ "${BASH_SOURCE[1]}" == "$0" ]] || return 0
  local arg
  for arg in "$@"; do
    [[ $arg != -- ]] || return 0
    [[ $arg != -h && $arg != --help ]] || usage 0
  done
}

# install_hint TOOL — how to get a tool the delivery and local scripts run.
install_hint() {
  case $1 in
    pulumi) echo "install the Pulumi CLI 3.x (or, on the local line, run: source scripts/env.sh, which puts the one it built on PATH)" ;;
    docker) echo "install Docker with Buildx (Debian: apt-get install docker.io docker-buildx; or, on the local line: source scripts/env.sh)" ;;
    kubectl) echo "install kubectl for the cluster's version (or, on the local line: source scripts/env.sh)" ;;
    jq) echo "install jq (Debian: apt-get install jq)" ;;
    gh) echo "install the GitHub CLI, gh (Debian: apt-get install gh)" ;;
    curl) echo "install curl (Debian: apt-get install curl)" ;;
    *) echo "install $1 and put it on PATH" ;;
  esac
}

# require_tools TOOL… — fails, naming each tool missing from PATH and what to install, before the
# script starts anything (without this, a missing pulumi surfaced as a backend or credentials error).
require_tools() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  for tool in "${missing[@]}"; do
    log "FAILED: $tool is not on PATH"
    log "to fix: $(install_hint "$tool")"
  done
  exit 1
}

# log MESSAGE… — one line on stderr, prefixed with the calling script's name.
log() { printf '[%s] %s\n' "${LOG_PREFIX:-esteira}" "$*" >&2; }

# die WHAT FIX — says what failed and what to do about it, then exits 1.
die() {
  log "FAILED: $1"
  [[ -z "${2:-}" ]] || log "to fix: $2"
  exit 1
}

# wait_for SECONDS CMD… — polls CMD (quietly) every 0.2 s until it succeeds; false on timeout.
wait_for() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# without_inherited_fds CMD… — replaces the current process with CMD, holding none of its caller's
# descriptors above stderr. A daemon that kept one would hold it as long as it runs: the lock of a
# `flock` wrapped around setup (so the next waiter never gets it), or a CI step's output pipe (so
# the step never ends). It execs, so run it in a process of its own: `without_inherited_fds CMD &`
# (then $! is the daemon's pid, which its pidfile records) or `( without_inherited_fds CMD )`.
without_inherited_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    # 255 is the descriptor bash reads this script from.
    if ((fd > 2 && fd != 255)); then eval "exec $fd>&-"; fi
  done
  exec "$@"
}

# scratch_dir NAME — a private directory in $workdir (under RUNNER_TEMP in Actions), removed on
# exit together with the background processes recorded in $pids (port-forwards).
scratch_dir() {
  pids=()
  workdir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/esteira-$1.XXXXXX")"
  trap scratch_cleanup EXIT
}
scratch_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Gone before the script is: the caller may start the next one on the same port.
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}

# port_forward NAMESPACE TARGET PORT LOG — `kubectl port-forward` to TARGET (service/x, pod/y) on a
# local port kubectl picks, in the background (its pid in $pids, for scratch_dir's cleanup, and in
# FORWARDED_PID); sets FORWARDED_PORT to that port, or to "" when kubectl gave none within 30
# seconds (LOG says why). Not in a $(…): the pids must reach the caller's shell.
port_forward() {
  # The log exists before kubectl starts: the loop may read it before kubectl has opened it.
  : >"$4"
  kubectl -n "$1" port-forward --address 127.0.0.1 "$2" ":$3" >"$4" 2>&1 &
  FORWARDED_PID=$!
  pids+=("$FORWARDED_PID")
  FORWARDED_PORT=""
  for _ in $(seq 1 150); do
    FORWARDED_PORT="$(sed -nE 's/^Forwarding from 127\.0\.0\.1:([0-9]+) .*/\1/p' "$4" | head -n1 || true)"
    [[ -n "$FORWARDED_PORT" ]] && return 0
    kill -0 "$FORWARDED_PID" 2>/dev/null || return 0
    sleep 0.2
  done
}

# pid_alive PIDFILE — true when the pidfile names a live process.
pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME PIDFILE — TERM the one process we started, KILL it after 30 s.
stop_pid() {
  local name=$1 pidfile=$2 pid
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name: not running"
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for 30 not_alive "$pid"; then
    log "$name: still up after 30s, killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 not_alive "$pid" || true
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}
not_alive() { ! kill -0 "$1" 2>/dev/null; }

# unmount_under DIR... — lazily unmounts every mount on or below the given directories, deepest
# first: what a stopped daemon left mounted (pod volumes, snapshots, network namespaces).
unmount_under() {
  local pattern mnt
  pattern="^($(IFS='|'; echo "$*"))(/|$)"
  # (grep finds nothing once nothing is left: that is not a failure.)
  findmnt -rn -o TARGET | { grep -E "$pattern" || true; } | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
}

# ensure_port_free PORT WHAT — fails, naming who holds it, when something already listens on
# 127.0.0.1:PORT (or on every address); a stale process of an earlier run is the usual cause.
ensure_port_free() {
  local port=$1 what=$2 holder
  holder="$(ss -Hltnp "( sport = :$port )" 2>/dev/null | head -1)"
  [[ -z "$holder" ]] && return 0
  die "port $port, which $what needs, is already in use: $holder" \
    "stop that process (or a leftover of an earlier run: bash scripts/local-down.sh), then run this again"
}

# ensure_debian_packages PKG… — installs the Debian packages that are missing (root, or sudo -n).
ensure_debian_packages() {
  local need=() pkg out
  for pkg in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == *'install ok installed'* ]] || need+=("$pkg")
  done
  if [[ ${#need[@]} -eq 0 ]]; then
    step_note "already installed"
    return 0
  fi
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die "Debian packages missing: ${need[*]}" "install them as root: apt-get install ${need[*]}"
    sudo=(sudo -n)
  fi
  log "installing Debian packages: ${need[*]}"
  # Package scripts must not start system services behind our back (the images here ship a
  # policy-rc.d that forbids it); we start what we need ourselves.
  if ! out="$("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq 2>&1 </dev/null &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" 2>&1 </dev/null)"; then
    printf '%s\n' "$out" | tail -15 >&2
    die "apt-get could not install ${need[*]}" "check this machine's apt sources (/etc/apt) reach a Debian mirror, then run this again"
  fi
}

# ensure_secret FILE — a random secret, generated once into FILE (mode 600) and never echoed.
ensure_secret() {
  local file=$1
  [[ -s "$file" ]] && return 0
  mkdir -p "$(dirname "$file")"
  (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$file")
}

# --- numbered setup steps ----------------------------------------------------------------------
# steps_begin TOTAL — starts a numbered sequence of TOTAL steps.
# step KEY TITLE FUNCTION [ARG…] — runs FUNCTION as step n of TOTAL with its output in a log file,
# and shows which step it is, how long it has run and how long the last measured cold run of it
# took (scripts/setup-times.tsv): one updating line on a terminal, plain lines (with a heartbeat
# each minute) in CI or a pipe. A step that finds its work already done calls `step_note cached`.
# A failed step prints the end of its log and where the whole log is, and exits.
ESTEIRA_STEP_N=0
ESTEIRA_STEP_TOTAL=0
steps_begin() {
  ESTEIRA_STEP_N=0
  ESTEIRA_STEP_TOTAL=$1
}

# step_note TEXT — from inside a step: a word for its done line (e.g. "cached", "already running").
step_note() { [[ -z "${ESTEIRA_STEP_NOTE_FILE:-}" ]] || printf '%s' "$*" >"$ESTEIRA_STEP_NOTE_FILE"; }

fmt_duration() {
  local s=$1
  if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# The seconds the last measured cold run took for KEY, or nothing.
expected_seconds() {
  awk -F'\t' -v key="$1" '$1 == key { print $2; exit }' "$(dirname "${BASH_SOURCE[0]}")/setup-times.tsv" 2>/dev/null || true
}

progress_tty() { [[ -t 2 && "${CI:-}" != true ]]; }

# ticker PID LABEL START HINT — prints progress while PID (the script running the step) lives.
ticker() {
  local parent=$1 label=$2 start=$3 hint=$4 n=0
  while sleep 1 && kill -0 "$parent" 2>/dev/null; do
    n=$((n + 1))
    if progress_tty; then
      printf '\r\033[K%s … %s%s' "$label" "$(fmt_duration $((SECONDS - start)))" "$hint" >&2
    elif ((n % 60 == 0)); then
      printf '%s … still running, %s%s\n' "$label" "$(fmt_duration $((SECONDS - start)))" "$hint" >&2
    fi
  done
}

step() {
  local key=$1 title=$2
  shift 2
  ESTEIRA_STEP_N=$((ESTEIRA_STEP_N + 1))
  local label expected hint="" start=$SECONDS logdir="${ESTEIRA_CACHE:?}/logs" rc ticker_pid took note
  label="$(printf '[%*d/%d] %s' "${#ESTEIRA_STEP_TOTAL}" "$ESTEIRA_STEP_N" "$ESTEIRA_STEP_TOTAL" "$title")"
  expected="$(expected_seconds "$key")"
  [[ -z "$expected" ]] || hint=" (cold: ~$(fmt_duration "$expected"))"
  mkdir -p "$logdir"
  local logfile="$logdir/$key.log"
  : >"$logfile"
  ESTEIRA_STEP_NOTE_FILE="$(mktemp)"
  export ESTEIRA_STEP_NOTE_FILE
  progress_tty || printf '%s …%s\n' "$label" "$hint" >&2
  # The ticker watches this shell, so it never outlives it, however the step ends.
  ticker "$BASHPID" "$label" "$start" "$hint" &
  ticker_pid=$!
  set +e
  (
    set -e
    "$@"
  ) >>"$logfile" 2>&1
  rc=$?
  set -e
  kill "$ticker_pid" 2>/dev/null || true
  wait "$ticker_pid" 2>/dev/null || true
  took=$((SECONDS - start))
  note="$(cat "$ESTEIRA_STEP_NOTE_FILE")"
  rm -f "$ESTEIRA_STEP_NOTE_FILE"
  unset ESTEIRA_STEP_NOTE_FILE
  if progress_tty; then printf '\r\033[K' >&2; fi
  if [[ $rc -ne 0 ]]; then
    printf '%s: FAILED after %s; the end of its log (all of it: %s):\n' "$label" "$(fmt_duration "$took")" "$logfile" >&2
    tail -25 "$logfile" | sed 's/^/    /' >&2
    exit "$rc"
  fi
  printf '%s: %s in %s\n' "$label" "${note:-done}" "$(fmt_duration "$took")" >&2
  # What each step really cost on this machine, for the next update of setup-times.tsv.
  [[ -n "$note" ]] || printf '%s\t%s\t%s\n' "$key" "$took" "$(date -u +%FT%TZ)" >>"$ESTEIRA_CACHE/setup-times.log"
}

# Run rather than sourced, this file is only its own help.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  answer_help "$@"
  usage
fi
