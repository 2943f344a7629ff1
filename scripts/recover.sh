#!/usr/bin/env bash
# scripts/recover.sh — recovery after a `pulumi up` that was cancelled, timed out or lost its
# runner: the stack's lock, and operations the state lists as pending. Run by operations.yml
# (in the stack's environment and concurrency group, so never beside a running deploy) or by hand.
#
# Usage: scripts/recover.sh [--preview] <stack> <operation>
#   --preview                what the operation would do, for its approvers (operations.yml's
#                            inspect-prod): the last updates, the pending operations, and for a
#                            refresh `pulumi refresh --preview-only --diff`; changes nothing
#   cancel                   remove the stack's lock (`pulumi cancel`): only when no update runs
#   refresh                  read every resource back (`pulumi refresh`): resolves pending updates
#                            and deletes; stops at pending creates, listing them
#   clear-pending-creates    refresh, dropping pending creates from the state: for Kubernetes
#                            objects (the next up adopts them by name); a cloud resource that was
#                            created would be left behind, so import those instead
#   import-pending-creates   refresh, importing pending creates: PENDING_CREATES holds
#                            "<urn> <id>" pairs, one per line (e.g. a database cluster's id)
#
# Then run the deploy again; `pulumi preview -s <stack> --diff` should show only what the
# interrupted update meant to do.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"
preview=false
if [[ "${1:-}" == --preview ]]; then
  preview=true
  shift
fi
[[ $# -eq 2 && "$1" != -* ]] || usage
require_tools pulumi
stack=$1 operation=$2

# shellcheck source=scripts/delivery-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/delivery-lib.sh"
LOG_PREFIX="recover $stack"

# pending_args — the refresh flags of the operation (import-pending-creates: from PENDING_CREATES).
pending_args() {
  local urn id
  case "$operation" in
    cancel | refresh) ;;
    clear-pending-creates) echo --clear-pending-creates ;;
    import-pending-creates)
      while read -r urn id; do
        [[ -z "$urn" ]] && continue
        [[ "$urn" == urn:pulumi:* && -n "$id" ]] || die "not a '<urn> <id>' pair: '$urn $id'" "one pair per line in PENDING_CREATES"
        printf '%s\n' --import-pending-creates "$urn" "$id"
      done <<<"${PENDING_CREATES:-}"
      ;;
    *) die "unknown operation '$operation'" "one of: cancel, refresh, clear-pending-creates, import-pending-creates" ;;
  esac
}

# In this shell first: its die must stop the script, which it cannot from inside < <(…).
pending_args >/dev/null
if $preview; then
  mapfile -t args < <(pending_args)
  [[ "$operation" != import-pending-creates || ${#args[@]} -gt 0 ]] || die "PENDING_CREATES is empty" "list each pending create as '<urn> <id>'"
  state="$(pulumi stack export -s "$stack")"
  pending="$(jq -r '.deployment.pending_operations // [] | .[] | "\(.type) \(.resource.urn)"' <<<"$state")"
  history="$(pulumi stack history -s "$stack" --page-size 3 2>&1 || true)"
  diff=""
  if [[ "$operation" != cancel ]]; then
    diff="$(pulumi refresh --preview-only --diff --color never "${args[@]}" -s "$stack" 2>&1)" || diff+=$'\n(the refresh preview FAILED)'
  fi
  summary "## $operation of $stack: what it would do" "" "Pending operations:" '```' "${pending:-none}" '```' \
    "Last updates (a lock with no running update is what \`cancel\` removes):" '```' "$history" '```' \
    "${diff:+<details open><summary>pulumi refresh --preview-only</summary>}" "" '```' "${diff:-cancel changes no resource}" '```' "${diff:+</details>}"
  log "previewed $operation; nothing changed"
  exit 0
fi

mapfile -t args < <(pending_args)
case "$operation" in
  cancel) pulumi cancel --yes -s "$stack" ;;
  import-pending-creates)
    [[ ${#args[@]} -gt 0 ]] || die "PENDING_CREATES is empty" "list each pending create as '<urn> <id>'"
    pulumi refresh --yes --skip-preview "${args[@]}" -s "$stack"
    ;;
  *) pulumi refresh --yes --skip-preview "${args[@]}" -s "$stack" ;;
esac
log "$operation done; deploy again, or check with: pulumi preview --diff -s $stack"
