#!/usr/bin/env bash
# scripts/notify.sh — post what happened to a stack to the Slack incoming webhook the stack names
# (the secret esteira:slackWebhookUrl, the same one DigitalOcean's alerts post with): the stack,
# the event and its result, the commit, the digests it runs, a message, and a link to the run.
#
# Usage: scripts/notify.sh [--webhook-of STACK] <stack> <event> <result> [message]
#
#   event     what happened: deploy, promotion, rollback, watch, drift, expired (any word is taken)
#   result    how it ended: succeeded, failed, rolled-back, drifted, remediated, destroyed, …
#   message   one more line, e.g. what drifted or why the watch rolled back (Slack mrkdwn)
#   --webhook-of STACK   read the webhook from another stack's config (e.g. a pull request's
#                        stack, whose own file names none, posts with its base's)
#
# A notification never fails its caller: this script exits 0 whatever happens to the post, and
# says so when it did not go out ("the <event>'s result stands"). A stack that sets no webhook is
# told nothing (a line says so). The URL is read with `pulumi config get` into this shell and handed
# to curl on its standard input, so it is never printed nor on a command line.
#
# Env: ESTEIRA_COMMIT (else GITHUB_SHA, else HEAD): the commit; NOTIFY_IMAGES: JSON service ->
#      digest reference (default: the stack's `images` output); GITHUB_SERVER_URL,
#      GITHUB_REPOSITORY, GITHUB_RUN_ID: the run's link (NOTIFY_RUN_URL overrides it);
#      NOTIFY_TIMEOUT_SECONDS (default 10).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"

webhook_stack=""
if [[ "${1:-}" == --webhook-of ]]; then
  [[ $# -ge 2 ]] || usage
  webhook_stack=$2
  shift 2
fi
[[ $# -ge 3 && $# -le 4 && "$1" != -* ]] || usage
require_tools pulumi jq curl
stack=$1 event=$2 result=$3 message=${4:-}
webhook_stack=${webhook_stack:-$stack}

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="notify $stack"

# A failure here is reported, never passed on.
warn() {
  if [[ "${GITHUB_ACTIONS:-}" == true ]]; then printf '::warning title=%s::%s\n' "notification ($stack $event)" "$*"; fi
  log "$*"
}

url="$(pulumi config get esteira:slackWebhookUrl -s "$webhook_stack" 2>/dev/null)" || url=""
if [[ -z "$url" ]]; then
  if pulumi config get esteira:alertSlackWebhookUrl -s "$webhook_stack" >/dev/null 2>&1; then
    warn "stack $webhook_stack sets the old key esteira:alertSlackWebhookUrl, renamed esteira:slackWebhookUrl: nothing sent; move it (docs/operations.md#notifications)"
  else
    log "stack $webhook_stack sets no esteira:slackWebhookUrl: nothing sent ($event $result)"
  fi
  exit 0
fi

commit="$(ESTEIRA_COMMIT="${ESTEIRA_COMMIT:-}" commit_sha 2>/dev/null)" || commit="unknown"
if [[ -n "${NOTIFY_IMAGES:-}" ]]; then
  images="$NOTIFY_IMAGES"
else
  images="$( (stack_images "$stack") 2>/dev/null)" || images='{}'
fi
jq -e 'type == "object"' <<<"$images" >/dev/null 2>&1 || images='{}'
run_url="${NOTIFY_RUN_URL:-}"
if [[ -z "$run_url" && -n "${GITHUB_SERVER_URL:-}" && -n "${GITHUB_REPOSITORY:-}" && -n "${GITHUB_RUN_ID:-}" ]]; then
  run_url="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"
fi

# Slack's incoming-webhook format: `text` for notifications and clients without blocks, `blocks` for the rest.
payload="$(jq -cn --arg stack "$stack" --arg event "$event" --arg result "$result" --arg commit "$commit" \
  --arg message "$message" --arg run "$run_url" --argjson images "$images" '
  ($images | to_entries | map("\(.key): \(.value)") | join("\n")) as $digests
  | ($result | test("^(succeeded|remediated|verified|no-drift)$")) as $good
  | {
      text: "\(if $good then ":white_check_mark:" else ":warning:" end) \($event) of \($stack): \($result) (commit \($commit[0:12]))\(if $message != "" then " — \($message)" else "" end)",
      blocks: ([
        {type: "section", text: {type: "mrkdwn", text: "*\($event)* of `\($stack)`: *\($result)*\(if $message != "" then "\n\($message)" else "" end)"}},
        {type: "section", fields: [
          {type: "mrkdwn", text: "*stack*\n`\($stack)`"},
          {type: "mrkdwn", text: "*commit*\n`\($commit)`"}
        ]}
      ]
      + (if $digests != "" then [{type: "section", text: {type: "mrkdwn", text: "*digests*\n```\($digests)```"}}] else [] end)
      + [{type: "context", elements: [{type: "mrkdwn", text: (if $run != "" then "<\($run)|the run>" else "run by hand, outside Actions" end)}]}])
    }')"

scratch_dir notify
printf '%s' "$payload" >"$workdir/payload.json"
# curl's config on its stdin: the URL appears in no argument list and in none of curl's messages.
escaped=${url//\\/\\\\}
escaped=${escaped//\"/\\\"}
status=0
code="$(printf 'url = "%s"\n' "$escaped" | curl --config - -sS --max-time "${NOTIFY_TIMEOUT_SECONDS:-10}" --retry 2 \
  -H 'Content-Type: application/json' --data-binary "@$workdir/payload.json" -o "$workdir/answer" -w '%{http_code}' 2>"$workdir/error")" || status=$?
if [[ $status -ne 0 ]]; then
  warn "the notification was not sent ($(head -c 300 "$workdir/error" | tr '\n' ' ')): the $event's result stands ($result)"
elif [[ "$code" != 2* ]]; then
  warn "the webhook answered HTTP $code ($(head -c 200 "$workdir/answer" | tr '\n' ' ')): the notification was not accepted; the $event's result stands ($result)"
else
  log "posted: $event $result"
fi
exit 0
