# shellcheck shell=bash
# scripts/delivery-lib.sh — what the delivery scripts (deploy, rollback, promotion, review
# environments, recovery) share: the commit being deployed, a stack's services and images, the
# registry login, and digests. Source it after scripts/lib.sh; it only defines functions.
#
# Every function reads the stack through the Pulumi CLI, so the caller is logged in to the
# stack's backend (PULUMI_BACKEND_URL / PULUMI_ACCESS_TOKEN) and holds its passphrase. No
# function prints a secret: tokens go from `pulumi config get` straight into `docker login`.

# Run rather than sourced, this file is only its own help.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  # shellcheck source=scripts/lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
  answer_help "$@"
  usage
fi

# commit_sha — the commit being deployed: ESTEIRA_COMMIT, else GITHUB_SHA, else the checkout's HEAD.
commit_sha() {
  local sha="${ESTEIRA_COMMIT:-${GITHUB_SHA:-}}"
  [[ -n "$sha" ]] || sha="$(git rev-parse HEAD 2>/dev/null)" || die "no commit to deploy" "set ESTEIRA_COMMIT, or run from a git checkout"
  [[ "$sha" =~ ^[0-9a-f]{12,40}$ ]] || die "the commit to deploy is not a commit sha: '$sha'" "set ESTEIRA_COMMIT to a full commit sha"
  printf '%s\n' "$sha"
}

# update_message WHAT — the message of a `pulumi up` (deploy, rollback), which the stack's history
# keeps and scripts/releases.sh reads back: what ran, the commit, and the run (the Actions run's
# address, or "local"). A message, not an output: an output that names the run would differ in
# every preview and drift check.
update_message() {
  local run=local
  if [[ -n "${GITHUB_RUN_ID:-}" ]]; then run="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"; fi
  printf 'esteira %s: commit %s, run %s\n' "$1" "$(commit_sha)" "$run"
}

# verified_tag STAGE SHA — the tag a stage's passing smoke test puts on what it ran
# (the program's verifiedTag in components/promoted-image.ts).
verified_tag() { printf 'verified-%s-%s\n' "$1" "${2:0:12}"; }

# stack_images STACK — the stack's `images` output (service → <repository>@sha256:…), `{}` before its first deploy.
stack_images() {
  local out
  if ! out="$(pulumi stack output images --json -s "$1" 2>&1)"; then
    # A stack that never deployed has no outputs; anything else (credentials, backend) is an error.
    if grep -qiE 'no output named|has no outputs|current stack does not have' <<<"$out"; then
      echo '{}'
      return 0
    fi
    die "cannot read the images output of stack $1: $out" "check the backend credentials and that the stack exists"
  fi
  if [[ -z "$out" || "$out" == null ]]; then echo '{}'; else printf '%s\n' "$out"; fi
}

# running_images STACK — the `images` output with each digest replaced by the one the stack's
# Deployments run in its state (service → <repository>@sha256:…): after scripts/converge.sh read
# them back, what the cluster runs, e.g. the release an emergency `kubectl rollout undo` restored,
# where the output still names the one it replaced. A job or a service no Deployment runs keeps its output.
running_images() {
  local images state
  images="$(stack_images "$1")"
  state="$(pulumi stack export -s "$1" 2>&1)" || die "cannot read the state of stack $1: $state" "check the backend credentials and that the stack exists"
  jq -c --argjson images "$images" '
    [.deployment.resources // [] | .[] | select(.type == "kubernetes:apps/v1:Deployment")
      | .outputs.spec.template.spec.containers // [] | .[] | .image | strings] as $live
    | $images | with_entries((.value | split("@")[0]) as $repository
      | .value = ([$live[] | select(startswith($repository + "@"))][0] // .value))' <<<"$state"
}

# config_json STACK KEY — a plain (non-secret) config value of the stack file as JSON, `null` when unset.
config_json() {
  local out
  if ! out="$(pulumi config get "$2" -s "$1" 2>/dev/null)"; then
    echo null
    return 0
  fi
  # Structured values print as JSON; a plain string does not parse and is quoted.
  jq -c . <<<"$out" 2>/dev/null || jq -cn --arg v "$out" '$v'
}

# deploy_event STACK — what a deploy of the stack is called in notifications: `promotion` when a
# workload takes its image from another stage (image.verifiedIn or image.promoteFrom), else `deploy`.
deploy_event() {
  local kind workloads='{}'
  for kind in services workers jobs; do
    workloads="$(jq -c --argjson more "$(config_json "$1" "esteira:$kind")" '. + ($more // {})' <<<"$workloads")"
  done
  if jq -e 'any(.[]; (.image | type) == "object" and (.image.verifiedIn != null or .image.promoteFrom != null))' <<<"$workloads" >/dev/null; then
    echo promotion
  else
    echo deploy
  fi
}

# promotable_services STACK — "<name> <repository>" for each service, worker and job, and the
# backups' image (as `backup`), whose image is built or promoted by verification (references and
# promoteFrom are left alone).
promotable_services() {
  local services workers jobs backups images
  services="$(config_json "$1" esteira:services)"
  workers="$(config_json "$1" esteira:workers)"
  jobs="$(config_json "$1" esteira:jobs)"
  backups="$(config_json "$1" esteira:backups)"
  images="$(config_json "$1" esteira:images)"
  jq -rn --argjson images "$images" --argjson services "$services" --argjson workers "$workers" --argjson jobs "$jobs" \
    --argjson backups "$backups" '
    [$services, $workers, $jobs, (if $backups then {backup: $backups} else {} end)] | map(. // {}) | add | to_entries[]
    | select((.value.image | type) == "object" and (.value.image.build != null or .value.image.verifiedIn != null))
    | "\(.key) \($images.repository // error("esteira:images.repository is not set"))/\(.key)"'
}

# promotion_stage STACK — the stage whose verification of a commit STACK deploys, from its stack
# file: STACK itself when its workloads build their images (a redeploy of an earlier build), else
# the one stage their image.verifiedIn names (dev for homolog, homolog for prod; tools/stacks.ts,
# promotionStage, is the workflows' side of the same rule). Dies when there is no single one.
promotion_stage() {
  local stack=$1 services workers jobs stage
  services="$(config_json "$stack" esteira:services)"
  workers="$(config_json "$stack" esteira:workers)"
  jobs="$(config_json "$stack" esteira:jobs)"
  stage="$(jq -rn --arg stack "$stack" --argjson services "$services" --argjson workers "$workers" --argjson jobs "$jobs" '
    [[$services, $workers, $jobs] | map(. // {}) | add | .[] | .image | objects] as $images
    | ([$images[] | select(.build != null)] | length > 0) as $builds
    | ([$images[] | .verifiedIn | strings] | unique) as $stages
    | if $builds and ($stages | length) == 0 then $stack
      elif ($builds | not) and ($stages | length) == 1 then $stages[0]
      else empty end')"
  [[ -n "$stage" ]] || die "stack $stack deploys no single stage's verified digests (its images are built and promoted, or promoted from several stages)" \
    "build every image in Pulumi.$stack.yaml, or set the same image.verifiedIn on each"
  printf '%s\n' "$stage"
}

# registry_login STACK pull|push — logs Docker in to the stack's registry with its pull or push
# token (esteira:registryToken / esteira:registryPushToken), in a private DOCKER_CONFIG that
# registry_logout removes (call it from an EXIT trap set after this), so no credential outlives
# the script. The CLI plugins of the config it replaces (buildx) stay reachable.
registry_login() {
  local stack=$1 kind=$2 registry server username key previous="${DOCKER_CONFIG:-$HOME/.docker}"
  registry="$(config_json "$stack" esteira:registry)"
  server="$(jq -r '.server // empty' <<<"$registry")"
  username="$(jq -r '.username // empty' <<<"$registry")"
  [[ -n "$server" && -n "$username" ]] || die "stack $stack has no esteira:registry.server/username" "set them in Pulumi.$stack.yaml"
  key=esteira:registryToken
  if [[ "$kind" == push ]] && pulumi config get esteira:registryPushToken -s "$stack" >/dev/null 2>&1; then key=esteira:registryPushToken; fi
  ESTEIRA_PRIVATE_DOCKER_CONFIG="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/esteira-docker.XXXXXX")"
  if [[ -d "$previous/cli-plugins" ]]; then ln -s "$previous/cli-plugins" "$ESTEIRA_PRIVATE_DOCKER_CONFIG/cli-plugins"; fi
  DOCKER_CONFIG="$ESTEIRA_PRIVATE_DOCKER_CONFIG"
  export DOCKER_CONFIG
  pulumi config get "$key" -s "$stack" | docker login "$server" --username "$username" --password-stdin >/dev/null ||
    die "docker login to $server as $username failed" "check $key of stack $stack (a $kind token)"
}

# registry_logout — removes the private DOCKER_CONFIG registry_login made, and nothing else.
registry_logout() {
  if [[ -n "${ESTEIRA_PRIVATE_DOCKER_CONFIG:-}" ]]; then rm -rf "$ESTEIRA_PRIVATE_DOCKER_CONFIG"; fi
}

# digest_of REF — the manifest digest (sha256:…) the registry holds for REF, without pulling it.
digest_of() {
  local manifest
  # A reference that does not exist prints nothing (and is no error: callers test for the empty string).
  manifest="$(docker buildx imagetools inspect "$1" --format '{{json .Manifest}}' 2>/dev/null)" || return 0
  jq -r '.digest // empty' <<<"$manifest"
}

# on_main SHA — true when SHA is on the remote default branch (needs a checkout with its history).
on_main() {
  local branch="${ESTEIRA_MAIN_BRANCH:-main}"
  # A checkout with fetch-depth: 0 has it already; fetching needs no credential on a public repository only.
  git rev-parse --verify --quiet "refs/remotes/origin/$branch" >/dev/null ||
    git fetch --quiet --no-tags origin "+refs/heads/$branch:refs/remotes/origin/$branch" ||
    die "cannot read origin/$branch" "check out with fetch-depth: 0"
  git merge-base --is-ancestor "$1" "origin/$branch"
}

# summary MARKDOWN… — appends lines to the job summary in Actions, prints them otherwise.
summary() {
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then printf '%s\n' "$@" >>"$GITHUB_STEP_SUMMARY"; else printf '%s\n' "$@" >&2; fi
}

# kubernetes_parallel — the engine's --parallel for a pull request's stack (scripts/pr-stack.sh up), which
# holds Kubernetes objects and images only and runs without per-step checkpoints: its operations
# wait on the API server and on rollouts, not on the runner's CPUs (docs/performance.md measures it:
# 50 services, first up 76 s → 42 s, destroy 60 s → 14 s). 32 leaves the API server's default
# in-flight limits (400 reads, 200 writes) to the other pull requests on the same base. Not for a
# stack that writes its state after every step: there those writes, one at a time, are the queue,
# and more parallelism measured slower. DigitalOcean's API limits a token's requests a minute too.
kubernetes_parallel() { echo 32; }

# policy_args STACK — sets POLICY_ARGS to the flags every `pulumi preview` and `pulumi up` of the
# delivery line passes ("${POLICY_ARGS[@]}"; an array set here, not printed, so that a failure
# stops the caller instead of leaving it without the pack): the policy pack of the scripts' own checkout (policy/, started
# through policy/analyzer) and its config for the stack's kind: prod when the stack file sets
# esteira:production, pr for a pull request's pr-<number> stack, other otherwise. A mandatory
# violation fails the command. ESTEIRA_POLICY_PACK names another pack directory.
policy_args() {
  local stack=$1 pack kind=other
  pack="${ESTEIRA_POLICY_PACK:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../policy" && pwd)}"
  [[ -x "$pack/analyzer" && -d "$pack/node_modules" ]] ||
    die "the policy pack at $pack is not installed" "run: npm --prefix $pack ci --no-audit --no-fund --ignore-scripts"
  if [[ "$stack" =~ ^pr-[0-9]+$ ]]; then
    kind="pr"
  elif [[ "$(config_json "$stack" esteira:production)" == true ]]; then
    kind=prod
  fi
  # shellcheck disable=SC2034 # read by the caller
  POLICY_ARGS=(--policy-pack "$pack/analyzer" --policy-pack-config "$pack/config/$kind.json")
}
