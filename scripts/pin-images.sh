#!/usr/bin/env bash
# scripts/pin-images.sh — pin a stack's services to digest-pinned images for the next `pulumi up`
# (esteira:pins). Used for a rollback (scripts/rollback.sh), a manual deploy of a chosen verified
# digest (scripts/dispatch-deploy.sh) and prod's approved release (the digests its approvers saw).
#
# Usage: scripts/pin-images.sh <stack> <images.json>
#
# images.json maps service -> <repository>@sha256:<digest> (the form of the `images` output). Each
# becomes `pulumi config set --path esteira:pins.<service>` in this checkout's copy of the stack
# file; the pins are a run's choice and are never committed (npm test refuses a stack file that
# holds one). A reference not pinned by digest is refused; an empty map pins nothing.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"
[[ $# -eq 2 && "$1" != -* ]] || usage
require_tools pulumi jq
stack=$1 file=$2

LOG_PREFIX="pin $stack"

[[ -r "$file" ]] || die "cannot read $file" "pass a JSON file of service -> <repository>@sha256:<digest>"
jq -e 'type == "object"' "$file" >/dev/null 2>&1 || die "$file is not a JSON object" "pass a JSON file of service -> <repository>@sha256:<digest>"

while IFS=$'\t' read -r service ref; do
  [[ "$service" =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]] || die "not a service name: '$service'" "fix $file"
  [[ "$ref" =~ ^[^[:space:]@]+@sha256:[0-9a-f]{64}$ ]] || die "$service: '$ref' is not pinned by digest" "fix $file"
  pulumi config set --path "esteira:pins.$service" "$ref" -s "$stack"
  log "$service -> $ref"
done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' "$file")
