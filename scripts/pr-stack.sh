#!/usr/bin/env bash
# scripts/pr-stack.sh — the life of an ephemeral pull-request stack, the same on GitHub
# (.github/workflows/review.yml) and on this machine (the e2e suite):
#
#   pr-stack.sh up <number> [--template FILE] [-- pulumi up flags…]
#       Lays out Pulumi.pr-<number>.yaml from the template (stacks/pr.template.yaml by default),
#       creates or selects stack pr-<number>, sets its registry tokens from REGISTRY_TOKEN and
#       REGISTRY_PUSH_TOKEN (read on stdin by pulumi, never on a command line), runs `pulumi up`
#       with the policy pack (policy_args, scripts/delivery-lib.sh): a mandatory violation fails it.
#   pr-stack.sh preview <number> [--template FILE] [-- pulumi preview flags…]
#       The same layout, then `pulumi preview --diff` with the policy pack: the pull request's
#       check (review.yml), failing on a mandatory violation.
#   pr-stack.sh destroy <number>
#       `pulumi destroy`, then `pulumi stack rm`. When the destroy fails because the base stack (the
#       one its state reads through StackReferences) is gone, its cluster and database server went with
#       it, and so did everything the PR stack made there: the stack's state is removed, and the
#       script says so. Only the backend saying so counts as gone (the base not listed, or listed
#       without outputs); a base whose outputs cannot be read (credentials, network) fails loudly,
#       state kept, as does any other failure.
#       A stack the backend does not list is nothing to destroy; a backend that cannot be listed
#       (expired credentials, unreachable) fails, never taken for "no stack".
#   pr-stack.sh list [--base STACK]
#       The pr-<number> stacks of this backend (only those built on STACK with --base).
#   pr-stack.sh destroy-base STACK [--with-pr-stacks]
#       `pulumi destroy` of a base stack (review on GitHub, local here), refused while pull-request
#       stacks are built on it (it names them); --with-pr-stacks destroys those first.
#   pr-stack.sh sweep [--dry-run]
#       Destroys (as `destroy` does) every pr-<number> stack whose pull request is closed, asking
#       the GitHub API (gh, with GH_TOKEN; GITHUB_REPOSITORY=<owner>/<repository>); an open pull
#       request's stack is kept. A pull request the API cannot answer for, or a destroy that fails,
#       is reported and fails the run after the others were handled. --dry-run only lists.
#
# Runs in the project directory (where Pulumi.yaml is), with the backend and secrets provider in
# the environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or PULUMI_ACCESS_TOKEN). Every
# subcommand works from the stacks' state, so destroy, list and sweep need no pull request's code.
set -euo pipefail
# A failure inside $(…) fails the caller too: an unreadable backend is never an empty list.
shopt -s inherit_errexit

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"
# shellcheck source=scripts/delivery-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/delivery-lib.sh"
LOG_PREFIX=pr-stack

[[ -f Pulumi.yaml ]] || die "no Pulumi.yaml in $(pwd)" "run this from the project directory"
require_tools pulumi

# read_backend WHAT ARGS… — the output of `pulumi ARGS…`; when the backend cannot be read
# (expired credentials, unreachable), fails with pulumi's own message: never taken for "nothing there".
read_backend() {
  local what=$1 errors out
  shift
  errors="$(mktemp)"
  if ! out="$(pulumi "$@" 2>"$errors")"; then
    log "$(cat "$errors")"
    rm -f "$errors"
    die "cannot read $what" "check the backend credentials and PULUMI_BACKEND_URL"
  fi
  rm -f "$errors"
  printf '%s\n' "$out"
}

# base_of STACK — the stacks STACK reads through StackReferences (its base), from its state, so
# it works from a fresh checkout too; one per line, bare stack names.
base_of() {
  local state
  state="$(read_backend "the state of stack $1" stack export -s "$1")"
  node -e '
    const resources = JSON.parse(require("fs").readFileSync(0, "utf8")).deployment?.resources ?? [];
    const names = resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name.split("/").pop());
    if (names.length > 0) console.log([...new Set(names)].join("\n"));' <<<"$state"
}

# stack_names — every stack in this backend, bare names, one per line.
stack_names() {
  local stacks
  stacks="$(read_backend "the list of stacks in the backend" stack ls --all --json)"
  node -e 'for (const { name } of JSON.parse(require("fs").readFileSync(0, "utf8"))) console.log(name.split("/").pop());' <<<"$stacks"
}

# pr_stacks — every pr-<number> stack in this backend, one per line.
pr_stacks() {
  local names
  names="$(stack_names)"
  grep -E '^pr-[0-9]+$' <<<"$names" || true
}

# cmd_up up|preview NUMBER [--template FILE] [-- flags…]
cmd_up() {
  local command=$1 number=$2 template=stacks/pr.template.yaml
  shift 2
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --template) template=$2; shift 2 ;;
      --) shift; break ;;
      *) usage ;;
    esac
  done
  local stack="pr-$number"
  [[ -f "$template" ]] || die "template $template not found" "pass --template with a path relative to $(pwd)"
  [[ -n "${REGISTRY_TOKEN:-}" ]] || die "REGISTRY_TOKEN is not set" "export the registry token with pull rights (push rights: REGISTRY_PUSH_TOKEN)"
  # The template holds no secret and no encryption salt; the stack's own settings are added below.
  cp "$template" "Pulumi.$stack.yaml"
  pulumi stack select --create "$stack" >/dev/null
  printf '%s' "$REGISTRY_TOKEN" | pulumi config set --secret esteira:registryToken -s "$stack"
  if [[ -n "${REGISTRY_PUSH_TOKEN:-}" ]]; then
    printf '%s' "$REGISTRY_PUSH_TOKEN" | pulumi config set --secret esteira:registryPushToken -s "$stack"
  fi
  policy_args "$stack"
  if [[ "$command" == preview ]]; then
    log "$stack: pulumi preview (policy pack)"
    pulumi preview --diff --color never -s "$stack" "${POLICY_ARGS[@]}" "$@"
    return
  fi
  log "$stack: pulumi up (policy pack)"
  pulumi up --yes --skip-preview -s "$stack" "${POLICY_ARGS[@]}" "$@"
}

# base_gone BASE NAMES — true when the backend says the base is gone: not among NAMES (just listed),
# or listed without outputs (destroyed). An output that cannot be read for another reason
# (credentials, network) is an error, never "gone": the pull request's state must not be dropped.
base_gone() {
  local base=$1 names=$2 out
  grep -qx "$base" <<<"$names" || return 0
  if out="$(pulumi stack output -s "$base" clusterId 2>&1)"; then return 1; fi
  if grep -qiE "no stack named|stack .* not found|does not have output|no output named|has no outputs" <<<"$out"; then return 0; fi
  log "$out"
  die "cannot read the outputs of the base stack $base, so it cannot be told whether it is gone; the state of the pull request's stack is kept" \
    "check the backend credentials, then run this again"
}

cmd_destroy() {
  local stack="pr-$1" names base errors
  names="$(stack_names)"
  if ! grep -qx "$stack" <<<"$names"; then
    log "$stack: no such stack; nothing to destroy"
    return 0
  fi
  base="$(base_of "$stack")"
  base="${base%%$'\n'*}"
  errors="$(mktemp)"
  if pulumi destroy --yes --skip-preview -s "$stack" 2> >(tee "$errors" >&2); then
    pulumi stack rm --yes -s "$stack"
    rm -f "$errors" "Pulumi.$stack.yaml"
    log "$stack: destroyed and removed"
    return 0
  fi
  # A destroy can fail because the base is gone (no longer in the backend, which was just listed,
  # or destroyed and without outputs): its cluster and database server, and everything this stack
  # made in them, went with it. Anything else must not lose the state.
  if [[ -n "$base" ]] && base_gone "$base" "$names"; then
    log "$stack: its base stack \"$base\" is gone, and with it the cluster and database server this stack's namespace, database and role were in: nothing of $stack is left to delete; removing its state"
    pulumi stack rm --yes --force -s "$stack"
    rm -f "$errors" "Pulumi.$stack.yaml"
    return 0
  fi
  if grep -q "locked by" "$errors"; then
    rm -f "$errors"
    die "$stack is locked by another update (a push still deploying it)" "wait for it to finish, then run this again; if it was cancelled, \`pulumi cancel -s $stack\`"
  fi
  rm -f "$errors"
  die "pulumi destroy of $stack failed (its output above); the stack and its state are kept" "fix the cause and run this again"
}

cmd_list() {
  local base="" stacks stack bases
  if [[ "${1:-}" == --base ]]; then base=$2; fi
  stacks="$(pr_stacks)"
  for stack in $stacks; do
    if [[ -n "$base" ]]; then
      bases="$(base_of "$stack")"
      grep -qx "$base" <<<"$bases" || continue
    fi
    echo "$stack"
  done
}

cmd_destroy_base() {
  local base=$1 with_pr_stacks=$2 dependents=() listed stack
  listed="$(cmd_list --base "$base")"
  [[ -z "$listed" ]] || mapfile -t dependents <<<"$listed"
  if [[ ${#dependents[@]} -gt 0 ]]; then
    [[ "$with_pr_stacks" == 1 ]] ||
      die "stack $base is the base of ${dependents[*]}: destroying it would strand them on a cluster and database server that no longer exist" \
        "destroy them first (bash scripts/pr-stack.sh destroy <number>), or pass --with-pr-stacks to take them down with it"
    log "$base: destroying the pull-request stacks built on it first: ${dependents[*]}"
    for stack in "${dependents[@]}"; do cmd_destroy "${stack#pr-}"; done
  fi
  pulumi destroy --yes --skip-preview -s "$base"
}

# pr_state NUMBER — the pull request's state as the GitHub API says it (open, closed).
pr_state() { gh api "repos/$GITHUB_REPOSITORY/pulls/$1" --jq .state; }

cmd_sweep() {
  local dry_run=$1 stacks stack number state failed=0 swept=0
  [[ -n "${GITHUB_REPOSITORY:-}" ]] || die "GITHUB_REPOSITORY is not set" "set it to <owner>/<repository>"
  command -v gh >/dev/null || die "gh is not on PATH" "install the GitHub CLI, with GH_TOKEN set"
  stacks="$(pr_stacks)"
  log "$(wc -w <<<"$stacks") pull-request stack(s) in the backend"
  for stack in $stacks; do
    number=${stack#pr-}
    if ! state="$(pr_state "$number" 2>&1)"; then
      log "ERROR: $stack: the GitHub API did not say whether pull request #$number is open: $state"
      failed=1
      continue
    fi
    if [[ "$state" != closed ]]; then
      log "$stack: pull request #$number is $state, kept"
      continue
    fi
    if [[ "$dry_run" == 1 ]]; then
      log "$stack: pull request #$number is closed: would destroy"
      continue
    fi
    log "$stack: pull request #$number is closed: destroying"
    # A run of its own, so that one stack's failure is reported and the others are still handled.
    if bash "${BASH_SOURCE[0]}" destroy "$number"; then swept=$((swept + 1)); else
      log "ERROR: $stack: destroy failed"
      failed=1
    fi
  done
  log "swept $swept stack(s)"
  return "$failed"
}

case "${1:-}" in
  up | preview) [[ $# -ge 2 ]] || usage; cmd_up "$@" ;;
  destroy) [[ $# -eq 2 ]] || usage; cmd_destroy "$2" ;;
  list) shift; cmd_list "$@" ;;
  destroy-base)
    [[ $# -eq 2 || ( $# -eq 3 && "$3" == --with-pr-stacks ) ]] || usage
    cmd_destroy_base "$2" "$([[ "${3:-}" == --with-pr-stacks ]] && echo 1 || echo 0)"
    ;;
  sweep)
    [[ $# -eq 1 || ( $# -eq 2 && "$2" == --dry-run ) ]] || usage
    cmd_sweep "$([[ "${2:-}" == --dry-run ]] && echo 1 || echo 0)"
    ;;
  *) usage ;;
esac
