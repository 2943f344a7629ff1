#!/usr/bin/env bash
# scripts/pr-stack.sh — the life of an ephemeral pull-request stack, the same on GitHub
# (.github/workflows/review.yml) and on this machine (the e2e suite):
#
#   pr-stack.sh up <number> [--template FILE] [-- pulumi up flags…]
#       Lays out Pulumi.pr-<number>.yaml from the template (stacks/pr.template.yaml by default),
#       creates or selects stack pr-<number>, sets its registry tokens from REGISTRY_TOKEN and
#       REGISTRY_PUSH_TOKEN (read on stdin by pulumi, never on a command line), runs `pulumi up`.
#   pr-stack.sh destroy <number>
#       `pulumi destroy`, then `pulumi stack rm`. When the destroy fails because the base stack (the
#       one its state reads through StackReferences) is gone, its cluster and database server went with
#       it, and so did everything the PR stack made there: the stack's state is removed, and the
#       script says so. Any other failure fails loudly, state kept.
#   pr-stack.sh list [--base STACK]
#       The pr-<number> stacks of this backend (only those built on STACK with --base).
#   pr-stack.sh destroy-base STACK [--with-pr-stacks]
#       `pulumi destroy` of a base stack (review on GitHub, local here), refused while pull-request
#       stacks are built on it (it names them); --with-pr-stacks destroys those first.
#
# Runs in the project directory (where Pulumi.yaml is), with the backend and secrets provider in
# the environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or PULUMI_ACCESS_TOKEN).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_PREFIX=pr-stack

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

[[ -f Pulumi.yaml ]] || die "no Pulumi.yaml in $(pwd)" "run this from the project directory"
command -v pulumi >/dev/null || die "pulumi is not on PATH" "source scripts/env.sh (local) or install the Pulumi CLI"

# base_of STACK — the stacks STACK reads through StackReferences (its base), from its state, so
# it works from a fresh checkout too; one per line, bare stack names.
base_of() {
  pulumi stack export -s "$1" 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const resources = s ? JSON.parse(s).deployment?.resources ?? [] : [];
      const names = resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name.split("/").pop());
      console.log([...new Set(names)].join("\n"));
    });'
}

# pr_stacks — every pr-<number> stack in this backend, one per line.
pr_stacks() {
  pulumi stack ls --all --json | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const { name } of JSON.parse(s)) {
        const stack = name.split("/").pop();
        if (/^pr-[0-9]+$/.test(stack)) console.log(stack);
      }
    });'
}

cmd_up() {
  local number=$1 template=stacks/pr.template.yaml
  shift
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
  log "$stack: pulumi up"
  pulumi up --yes --skip-preview -s "$stack" "$@"
}

cmd_destroy() {
  local stack="pr-$1" base errors
  if ! pulumi stack ls --all --json | grep -q "\"name\": *\"\([^\"]*/\)\?$stack\""; then
    log "$stack: no such stack; nothing to destroy"
    return 0
  fi
  base="$(base_of "$stack" | head -1)"
  errors="$(mktemp)"
  if pulumi destroy --yes --skip-preview -s "$stack" 2> >(tee "$errors" >&2); then
    pulumi stack rm --yes -s "$stack"
    rm -f "$errors" "Pulumi.$stack.yaml"
    log "$stack: destroyed and removed"
    return 0
  fi
  # A destroy can fail because the base is gone: its cluster and database server, and everything
  # this stack made in them, went with it. Anything else must not lose the state.
  if [[ -n "$base" ]] && ! pulumi stack output -s "$base" clusterId >/dev/null 2>&1; then
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
  local base="" stack
  if [[ "${1:-}" == --base ]]; then base=$2; fi
  for stack in $(pr_stacks); do
    if [[ -z "$base" ]] || base_of "$stack" | grep -qx "$base"; then echo "$stack"; fi
  done
}

cmd_destroy_base() {
  local base=$1 with_pr_stacks=$2 dependents=() stack
  mapfile -t dependents < <(cmd_list --base "$base")
  if [[ ${#dependents[@]} -gt 0 ]]; then
    [[ "$with_pr_stacks" == 1 ]] ||
      die "stack $base is the base of ${dependents[*]}: destroying it would strand them on a cluster and database server that no longer exist" \
        "destroy them first (bash scripts/pr-stack.sh destroy <number>), or pass --with-pr-stacks to take them down with it"
    log "$base: destroying the pull-request stacks built on it first: ${dependents[*]}"
    for stack in "${dependents[@]}"; do cmd_destroy "${stack#pr-}"; done
  fi
  pulumi destroy --yes --skip-preview -s "$base"
}

case "${1:-}" in
  up) [[ $# -ge 2 ]] || usage; shift; cmd_up "$@" ;;
  destroy) [[ $# -eq 2 ]] || usage; cmd_destroy "$2" ;;
  list) shift; cmd_list "$@" ;;
  destroy-base)
    [[ $# -eq 2 || ( $# -eq 3 && "$3" == --with-pr-stacks ) ]] || usage
    cmd_destroy_base "$2" "$([[ "${3:-}" == --with-pr-stacks ]] && echo 1 || echo 0)"
    ;;
  *) usage ;;
esac
