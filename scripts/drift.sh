#!/usr/bin/env bash
# scripts/drift.sh — find what changed in a stack behind Pulumi's back (a `kubectl scale`, a
# `kubectl set env`, a deleted Service, a setting changed in a cloud console), report it, and put
# it back where the stack file asks for it (esteira:drift.remediate). Run by drift.yml on a
# schedule, in the stack's own environment; runs the same way from a laptop.
#
# Usage: scripts/drift.sh [--save-plan DIR] <stack>          check and report
#        scripts/drift.sh --remediate [--plan FILE] <stack>  check, and on drift `pulumi up`
#
#   check       every service, worker and job is pinned to the digest it runs now (the `images`
#               output, esteira:pins in this checkout's copy of the stack file, never committed), so
#               neither a new build nor a newer verified digest counts as drift; then
#               `pulumi preview --refresh` with the policy pack reads every resource back and lists
#               what the program would change. Nothing is written to the state. Drift: the job
#               summary lists each resource and the fields that differ, the stack's webhook is told
#               (scripts/notify.sh, event `drift`), and the exit status is 1.
#               --save-plan DIR keeps that preview's update plan (DIR/plan.json) and the pins
#               (DIR/images.json), for prod, whose remediation applies exactly what was approved.
#   --remediate only where the stack file sets esteira:drift.remediate: true (otherwise it reports,
#               as the check does): `pulumi up --refresh` with the policy pack, pinned the same way
#               (with --plan FILE: exactly that update plan, or it fails), then the smoke test and a
#               second check; the webhook is told `remediated`, or `failed`. Exit 0 once the stack is
#               back and healthy.
#
# The program is this checkout's: a change merged but not deployed yet shows as drift too (prod
# between releases); the summary says which resources, and deploying is the remedy for those.
#
# Env: GITHUB_OUTPUT, when set, gets drifted=true|false and remediate=true|false (drift.yml).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"

remediate=false save_dir="" plan=()
while [[ $# -gt 1 ]]; do
  case "$1" in
    --remediate) remediate=true; shift ;;
    --save-plan) save_dir=$2; shift 2 ;;
    --plan) plan=(--plan "$2"); shift 2 ;;
    *) usage ;;
  esac
done
[[ $# -eq 1 && "$1" != -* ]] || usage
[[ -z "$save_dir" || $remediate == false ]] || usage
require_tools pulumi kubectl jq curl
stack=$1

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="drift $stack"

scratch_dir drift

asks_remediation="$(config_json "$stack" esteira:drift | jq -r '.remediate // false')"
output() { if [[ -n "${GITHUB_OUTPUT:-}" ]]; then printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; fi; }
output remediate "$asks_remediation"

# Pin what runs now, so that only changes behind Pulumi's back remain to be found.
if [[ ${#plan[@]} -gt 0 ]]; then
  [[ -s "${plan[1]}" ]] || die "no update plan at ${plan[1]}" "pass the plan drift.sh --save-plan saved"
  images="$(dirname "${plan[1]}")/images.json"
  [[ -s "$images" ]] || die "no images.json beside ${plan[1]}" "pass the directory drift.sh --save-plan wrote, whole"
else
  images="$workdir/images.json"
  # A workload run from a plain reference (image: <ref>) runs what its stack file says: nothing to pin.
  stack_images "$stack" | jq 'with_entries(select(.value | test("@sha256:[0-9a-f]{64}$")))' >"$images"
fi
"$SCRIPTS/pin-images.sh" "$stack" "$images"
policy_args "$stack"

# check — `pulumi preview --refresh` as JSON; sets DRIFT to one line per resource that would change.
check() {
  local save=() out="$workdir/preview.json"
  if [[ -n "$save_dir" ]]; then
    mkdir -p "$save_dir"
    cp "$images" "$save_dir/images.json"
    save=(--save-plan "$save_dir/plan.json")
  fi
  if ! pulumi preview --refresh --json --color never "${save[@]}" -s "$stack" "${POLICY_ARGS[@]}" >"$out" 2>"$workdir/preview.err"; then
    cat "$workdir/preview.err" >&2
    jq -r '.diagnostics // [] | .[] | select(.severity == "error") | .message' "$out" 2>/dev/null >&2 || true
    die "the drift check of $stack could not run (see above)" "check the stack's credentials and that it deploys"
  fi
  # Everything but `same` (and the reads a refresh does) is a change the program would make; but
  # the image build a pin replaces (esteira:image:Image and its children) is the pin's doing.
  DRIFT="$(jq -r '.steps // [] | .[] | select(.op != "same" and .op != "read" and .op != "refresh")
    | select(.urn | test("(::|\\$)esteira:image:Image(\\$|::)") | not)
    | "\(.op) \(.urn | split("::") | .[2] | split("$") | last) \(.urn | split("::") | last)"
      + (((.detailedDiff // {}) | keys) as $fields | if ($fields | length) > 0 then " (" + ($fields | join(", ")) + ")" else "" end)' "$out")"
}

check
if [[ -z "$DRIFT" ]]; then
  output drifted false
  log "no drift: the cluster and the cloud are as the stack's state and program say"
  exit 0
fi
output drifted true
count="$(wc -l <<<"$DRIFT" | tr -d ' ')"
log "DRIFT: $count resource(s) differ from what the stack deploys:"
printf '%s\n' "$DRIFT" | sed 's/^/  /' >&2
summary "### Drift in $stack: $count resource(s)" "" '```' "$DRIFT" '```'
message="$(printf '%s\n' "$DRIFT" | head -n 10)"

if ! $remediate || [[ "$asks_remediation" != true ]]; then
  if $remediate; then log "the stack file does not set esteira:drift.remediate: reported, not remediated"; fi
  "$SCRIPTS/notify.sh" "$stack" drift drifted "$message"
  if [[ "${GITHUB_ACTIONS:-}" == true ]]; then printf '::error title=drift (%s)::%s\n' "$stack" "$count resource(s) differ from what the stack deploys; see the job summary"; fi
  exit 1
fi

log "remediating: pulumi up puts back what the stack deploys"
if ! pulumi up --yes --skip-preview --refresh --diff "${plan[@]}" -s "$stack" "${POLICY_ARGS[@]}" || ! "$SCRIPTS/smoke-test.sh" "$stack"; then
  "$SCRIPTS/notify.sh" "$stack" drift failed "the remediation failed; what drifted: $message"
  die "the remediation of $stack failed" "see above; the operations workflow and docs/operations.md recover a stack"
fi
save_dir="" check
if [[ -n "$DRIFT" ]]; then
  "$SCRIPTS/notify.sh" "$stack" drift failed "still drifted after pulumi up: $DRIFT"
  die "$stack still differs after the remediation: $DRIFT" "something keeps changing it (a controller, a person): find it before remediating again"
fi
summary "Remediated: \`pulumi up\` put it back; the smoke test passes."
"$SCRIPTS/notify.sh" "$stack" drift remediated "$message"
log "remediated; no drift left"
