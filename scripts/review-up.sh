#!/usr/bin/env bash
# scripts/review-up.sh — a pull request's environment: stack pr-<number> from stacks/pr.template.yaml,
# deployed into the review base (Pulumi.review.yaml) and smoke-tested.
#
# Usage: scripts/review-up.sh pr-<number>
#
# The stack file is never committed: each run copies the template (so a change to it reaches open
# pull requests on their next push) and sets the stack's registry tokens from the environment:
# REGISTRY_TOKEN (pull, for the namespace's pull secret) and REGISTRY_PUSH_TOKEN (push, limited to
# the pull requests' image path). No rollback: a broken review environment stays as it is for
# debugging, and the next push deploys over it.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[[ $# -eq 1 && "$1" =~ ^pr-[0-9]+$ ]] || usage
stack=$1

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPTS/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
LOG_PREFIX="review $stack"

for variable in REGISTRY_TOKEN REGISTRY_PUSH_TOKEN; do
  [[ -n "${!variable:-}" ]] || die "$variable is not set" "give the job the review environment's $variable"
done

cp "$ROOT/stacks/pr.template.yaml" "$ROOT/Pulumi.$stack.yaml"
pulumi stack select --create "$stack"
# From stdin, never on a command line.
printf '%s' "$REGISTRY_TOKEN" | pulumi config set --secret esteira:registryToken -s "$stack"
printf '%s' "$REGISTRY_PUSH_TOKEN" | pulumi config set --secret esteira:registryPushToken -s "$stack"
pulumi up --yes --skip-preview --diff -s "$stack"
"$SCRIPTS/smoke-test.sh" "$stack"
