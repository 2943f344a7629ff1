#!/usr/bin/env bash
# scripts/recover.sh — recovery after a `pulumi up` that was cancelled, timed out or lost its
# runner: the stack's lock, and operations the state lists as pending. Run by operations.yml
# (in the stack's environment and concurrency group, so never beside a running deploy) or by hand.
#
# Usage: scripts/recover.sh <stack> <operation>
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
[[ $# -eq 2 && "$1" != -* ]] || usage
require_tools pulumi
stack=$1 operation=$2

LOG_PREFIX="recover $stack"

case "$operation" in
  cancel)
    pulumi cancel --yes -s "$stack"
    ;;
  refresh)
    pulumi refresh --yes --skip-preview -s "$stack"
    ;;
  clear-pending-creates)
    pulumi refresh --yes --skip-preview --clear-pending-creates -s "$stack"
    ;;
  import-pending-creates)
    args=()
    while read -r urn id; do
      [[ -z "$urn" ]] && continue
      [[ "$urn" == urn:pulumi:* && -n "$id" ]] || die "not a '<urn> <id>' pair: '$urn $id'" "one pair per line in PENDING_CREATES"
      args+=(--import-pending-creates "$urn" "$id")
    done <<<"${PENDING_CREATES:-}"
    [[ ${#args[@]} -gt 0 ]] || die "PENDING_CREATES is empty" "list each pending create as '<urn> <id>'"
    pulumi refresh --yes --skip-preview "${args[@]}" -s "$stack"
    ;;
  *)
    die "unknown operation '$operation'" "one of: cancel, refresh, clear-pending-creates, import-pending-creates"
    ;;
esac
log "$operation done; deploy again, or check with: pulumi preview --diff -s $stack"
