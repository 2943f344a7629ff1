#!/usr/bin/env bash
# scripts/releases.sh — what runs where, and what an environment can go back to, from the stacks'
# outputs (`images`), their update history (`pulumi stack history`: scripts/deploy.sh and
# scripts/rollback.sh write what ran, the commit and the run into each update's message) and the
# registry (the verified-<stage>-<sha12> and sha-<sha12> tags on each digest): no file kept by hand.
#
#   releases.sh [show] [--json] [stack…]
#       For each stack (default: every Pulumi.<stack>.yaml here but pull requests'): each service's
#       digest, the commit it was built from and the stages that verified it; the stack's last
#       update: when, a deploy or a rollback, of which commit, by which run. A table (in Actions
#       also in the job summary; deploy.sh adds it to every deploy's), or JSON with --json. A stack
#       these credentials cannot read is said so, and the others are still shown.
#   releases.sh verified [--json] <stack> [--last N]
#       What the stack can be rolled back (or forward) to: of the last N commits of main (default
#       20), newest first, those whose every service the stack's stage verified (the stage its
#       image.verifiedIn names, or its own when it builds), with their release tags.
#   releases.sh rollback <stack> <commit|tag>
#       Deploys that verified release with scripts/dispatch-deploy.sh: its digests pinned, pulumi up,
#       smoke test, and the automatic rollback of any deploy. A stack deployed by releases
#       (esteira:github.deployOn: release, i.e. prod) is not changed here: it says how, deploy.yml's
#       "Run workflow" with environment prod and that release's tag, which takes the same check,
#       preview and two approvals as any release.
#
# Reads each stack with the backend credentials of the environment and its esteira:registryToken.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"

command=show
case "${1:-}" in
  show | verified | rollback) command=$1; shift ;;
esac
json=false
if [[ "${1:-}" == --json ]]; then json=true; shift; fi
require_tools pulumi docker jq

# shellcheck source=scripts/delivery-lib.sh
source "$SCRIPTS/delivery-lib.sh"
LOG_PREFIX="releases"

# line_stacks — the stacks of the stack files here, pull requests' aside: the stages a digest may
# have been verified in.
line_stacks() {
  local file stack
  for file in Pulumi.*.yaml; do
    [[ -e "$file" ]] || continue
    stack=${file#Pulumi.}
    stack=${stack%.yaml}
    [[ "$stack" =~ ^pr-[0-9]+$ ]] || printf '%s\n' "$stack"
  done
}

# last_updates STACK — the stack's succeeded updates, newest first, as JSON
# [{at, what, commit, run}] (what, commit, run from the message deploy.sh and rollback.sh write).
last_updates() {
  local history
  history="$(pulumi stack history --json --page-size 50 -s "$1" 2>&1)" || die "cannot read the history of stack $1: $history" "check the backend credentials"
  jq -c '[.[] | select(.kind == "update" and .result == "succeeded")] | sort_by(.version // 0) | reverse
    | map({ at: (.endTime // .startTime),
            what: ((.message // "") | capture("^esteira (?<w>[a-z]+): ").w // "update"),
            commit: ((.message // "") | capture("commit (?<c>[0-9a-f]{12,40})").c // null),
            run: ((.message // "") | capture("run (?<r>[^ ]+)$").r // null) })' <<<"$history"
}

# verified_in REPOSITORY DIGEST COMMIT STAGE… — "<stage>" per stage whose verified tag of COMMIT is
# on DIGEST, and "built" when the commit's build tag is.
verified_in() {
  local repository=$1 digest=$2 commit=$3 stage
  shift 3
  for stage in "$@"; do
    [[ "$(digest_of "$repository:$(verified_tag "$stage" "$commit")")" != "$digest" ]] || printf '%s\n' "$stage"
  done
  [[ "$(digest_of "$repository:sha-${commit:0:12}")" != "$digest" ]] || printf 'built\n'
}

# service_release REF UPDATES_JSON STAGE… — {image, commit, verifiedIn} of one digest-pinned image:
# the first commit of the stack's updates whose tags are on the digest (null when none is).
service_release() {
  local ref=$1 updates=$2 commit found=()
  shift 2
  if [[ "$ref" =~ ^([^[:space:]@]+)@(sha256:[0-9a-f]{64})$ ]]; then
    while read -r commit; do
      mapfile -t found < <(verified_in "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "$commit" "$@")
      if [[ ${#found[@]} -gt 0 ]]; then
        jq -cn --arg image "$ref" --arg commit "$commit" '{image: $image, commit: $commit, verifiedIn: ($ARGS.positional - ["built"]), built: ($ARGS.positional | index("built") != null)}' --args "${found[@]}"
        return 0
      fi
    done < <(jq -r '[.[].commit | strings] | reduce .[] as $c ([]; if any(.[]; .[0:12] == $c[0:12]) then . else . + [$c] end) | .[0:10][]' <<<"$updates")
  fi
  jq -cn --arg image "$ref" '{image: $image, commit: null, verifiedIn: [], built: false}'
}

# stack_releases STACK — {stack, updated, services} of one stack, read with these credentials.
stack_releases() {
  local stack=$1 images updates services='{}' service ref stages
  images="$(stack_images "$stack")"
  updates="$(last_updates "$stack")"
  mapfile -t stages < <(line_stacks)
  if [[ "$(jq 'length' <<<"$images")" -gt 0 ]]; then
    trap registry_logout EXIT
    registry_login "$stack" pull
    while IFS=$'\t' read -r service ref; do
      services="$(jq -c --arg s "$service" --argjson r "$(service_release "$ref" "$updates" "${stages[@]}")" '. + {($s): $r}' <<<"$services")"
    done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' <<<"$images")
  fi
  jq -cn --arg stack "$stack" --argjson updates "$updates" --argjson services "$services" '{stack: $stack, updated: ($updates[0] // null), services: $services}'
}

# markdown RELEASES_JSON — one table per stack.
markdown() {
  jq -r '.[] | "### What runs in \(.stack)", "",
    (if .error then "Not readable with these credentials: \(.error)"
     else (if .updated then "Last update \(.updated.at): \(.updated.what)\(if .updated.commit then " of commit `\(.updated.commit[0:12])`" else "" end), run \(.updated.run // "unknown")." else "Never updated." end),
       "", "| service | digest | commit | verified in |", "| --- | --- | --- | --- |",
       (.services | to_entries[] | "| \(.key) | `\(.value.image | split("@")[1] // .)` | \(if .value.commit then "`\(.value.commit[0:12])`" else "unknown" end)\(if .value.built then " (built)" else "" end) | \(.value.verifiedIn | join(", ") | if . == "" then "none" else . end) |")
     end), ""' <<<"$1"
}

cmd_show() {
  local stack all='[]' one err
  local stacks=("$@")
  [[ ${#stacks[@]} -gt 0 ]] || mapfile -t stacks < <(line_stacks)
  [[ ${#stacks[@]} -gt 0 ]] || die "no stack file here (Pulumi.<stack>.yaml)" "run it from the program's directory, or name the stacks"
  for stack in "${stacks[@]}"; do
    err="$(mktemp)"
    if one="$(stack_releases "$stack" 2>"$err")"; then
      all="$(jq -c --argjson one "$one" '. + [$one]' <<<"$all")"
    else
      # The script's own FAILED line, else the last thing the failing command said.
      all="$(jq -c --arg s "$stack" --arg e "$({ grep -m1 'FAILED: ' "$err" || tail -n1 "$err"; } | sed 's/.*FAILED: //')" '. + [{stack: $s, error: $e}]' <<<"$all")"
    fi
    rm -f "$err"
  done
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then markdown "$all" >>"$GITHUB_STEP_SUMMARY"; fi
  if $json; then jq . <<<"$all"; else markdown "$all"; fi
}

# main_commits N — the last N commits of main, newest first.
main_commits() {
  local branch="${ESTEIRA_MAIN_BRANCH:-main}"
  git rev-parse --verify --quiet "refs/remotes/origin/$branch" >/dev/null ||
    git fetch --quiet --no-tags origin "+refs/heads/$branch:refs/remotes/origin/$branch" ||
    die "cannot read origin/$branch" "check out with fetch-depth: 0"
  git log --format=%H -n "$1" "origin/$branch"
}

cmd_verified() {
  local stack=${1:-} last=20 stage commit service repository digest rows='[]' images missing tags
  [[ -n "$stack" && "$stack" != -* ]] || usage
  if [[ "${2:-}" == --last ]]; then last=${3:-}; fi
  [[ "$last" =~ ^[1-9][0-9]*$ ]] || die "--last takes a number of commits; received '$last'" "e.g. --last 50"
  stage="$(promotion_stage "$stack")"
  mapfile -t services < <(promotable_services "$stack")
  trap registry_logout EXIT
  registry_login "$stack" pull
  while read -r commit; do
    images='{}' missing=0
    for service in "${services[@]}"; do
      read -r service repository <<<"$service"
      digest="$(digest_of "$repository:$(verified_tag "$stage" "$commit")")"
      if [[ -z "$digest" ]]; then missing=1; break; fi
      images="$(jq -c --arg s "$service" --arg r "$repository@$digest" '. + {($s): $r}' <<<"$images")"
    done
    [[ $missing -eq 0 ]] || continue
    mapfile -t tags < <(git tag --points-at "$commit")
    rows="$(jq -c --arg c "$commit" --argjson i "$images" '. + [{commit: $c, tags: $ARGS.positional, images: $i}]' --args "${tags[@]}" <<<"$rows")"
  done < <(main_commits "$last")
  if $json; then
    jq . <<<"$rows"
  else
    jq -r --arg stack "$stack" --arg stage "$stage" '"### What \($stack) can go back to: commits of main \($stage) verified", "",
      "| commit | release tags | images |", "| --- | --- | --- |",
      (.[] | "| `\(.commit)` | \(.tags | join(", ")) | \(.images | to_entries | map("\(.key) `\(.value | split("@")[1] | .[0:19])`") | join(", ")) |")' <<<"$rows"
  fi
}

cmd_rollback() {
  local stack=${1:-} target=${2:-} commit tags
  [[ $# -eq 2 && "$stack" != -* ]] || usage
  commit="$(git rev-parse --verify --quiet "$target^{commit}")" || die "no commit or tag '$target' here" "give a commit of main or a release tag (releases.sh verified $stack lists them)"
  if [[ "$(config_json "$stack" esteira:github | jq -r '.deployOn? // "push"')" == release ]]; then
    tags="$(git tag --points-at "$commit" | tr '\n' ' ')"
    die "$stack is deployed by release runs only: its rollback takes the same check, preview and two approvals as any release" \
      "run deploy.yml's \"Run workflow\" on main with environment $stack and release ${tags:-<the tag of commit ${commit:0:12}>}"
  fi
  log "rolling $stack to commit ${commit:0:12}, as verified in $(promotion_stage "$stack")"
  exec "$SCRIPTS/dispatch-deploy.sh" "$stack" "$commit"
}

case "$command" in
  show) cmd_show "$@" ;;
  verified) cmd_verified "$@" ;;
  rollback) cmd_rollback "$@" ;;
esac
