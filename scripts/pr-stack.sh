#!/usr/bin/env bash
# scripts/pr-stack.sh — the life of an ephemeral pull-request stack, the same on GitHub
# (.github/workflows/review.yml, review-grant.yml) and on this machine (the e2e suite). Two sides:
# the base's (grant, destroy, destroy-base, sweep: the base's tenant issuer kubeconfig as KUBECONFIG,
# never pull-request code) and the pull request's (up: its own short-lived kubeconfig only).
#
#   pr-stack.sh grant <number> [--minutes N]
#       Base side. Creates the pull request's namespace <project>-pr-<number> with the fixed Pod
#       Security labels, its ServiceAccount esteira-deployer and the RoleBinding that grants it the
#       ClusterRole esteira-pr-deployer in that namespace only, then prints a kubeconfig for that
#       ServiceAccount with a token of N minutes (default 120), nothing else. The API server's
#       admission policy (components/tenant-policy.ts) lets the issuer do this for pull-request
#       namespaces only.
#   pr-stack.sh up <number> [--template FILE] [--recover] [-- pulumi up flags…]
#       Pull-request side. Lays out Pulumi.pr-<number>.yaml from the template (stacks/pr.template.yaml
#       by default), creates or selects stack pr-<number>, sets its kubeconfig from TENANT_KUBECONFIG
#       (grant's output) and its registry tokens from REGISTRY_TOKEN and REGISTRY_PUSH_TOKEN (each
#       read on stdin by pulumi, never on a command line), runs `pulumi up` with the policy pack
#       (policy_args, scripts/delivery-lib.sh): a mandatory violation fails it. Kubernetes objects
#       only, so with `--parallel $(kubernetes_parallel)` and without per-step checkpoints
#       (PULUMI_SKIP_CHECKPOINTS): the state is written once, at the end. An up killed midway
#       (a timeout, a lost runner) leaves the stack locked and records nothing of what it did;
#       --recover takes that back: it removes the lock (`pulumi cancel`) and runs the up with
#       `--refresh --run-program`, which reads back what the state holds with this run's
#       credentials and adopts by name what the killed run created (the provider's server-side
#       apply). Only where nothing else can be updating the stack (review.yml: the pull request's
#       concurrency group). What a killed run left that no up adopts (a Job under a generated name)
#       stays in the namespace, which `destroy` deletes whole.
#   pr-stack.sh preview <number> [--template FILE] [-- pulumi preview flags…]
#       The same layout, then `pulumi preview --diff` with the policy pack: the pull request's
#       check (review.yml), failing on a mandatory violation.
#   pr-stack.sh destroy <number> [--cluster-gone]
#       Base side. Clears the stack's state through its lock (`pulumi state delete --all`: a push
#       still deploying makes it fail fast), deletes the pull request's namespace (and with it
#       everything the stack made: workloads, Secrets, its PostgreSQL and data) and waits until it is
#       gone, then removes the stack: no `pulumi destroy`, so no code of the pull request's state (its
#       dynamic providers, its plugins) runs with the base's credentials. A namespace or stack that
#       does not exist is nothing to delete; a backend that cannot be listed fails, never taken for
#       "no stack". A cluster that does not answer (refused, unknown host, timed out) fails it before
#       anything changes: it may be down for a while with the namespace and its data still in it.
#       --cluster-gone says the base's cluster is gone for good: then a cluster that does not answer
#       is taken to have taken the namespace with it, and the state is cleared and the stack removed
#       (a cluster that answers has the namespace deleted as usual).
#   pr-stack.sh list
#       The pr-<number> stacks of this backend.
#   pr-stack.sh destroy-base STACK [--with-pr-stacks]
#       `pulumi destroy` of a base stack (review on GitHub, local here), refused while pull-request
#       namespaces exist in its cluster (it names them); --with-pr-stacks destroys those first.
#   pr-stack.sh sweep [--dry-run] [--template FILE]
#       Destroys (as `destroy` does) every pull request's namespace and stack whose pull request is
#       closed, asking the GitHub API for its state and labels (gh, with GH_TOKEN;
#       GITHUB_REPOSITORY=<owner>/<repository>). An open pull request's stack is kept, unless the
#       template (stacks/pr.template.yaml by default) sets esteira:expiry and the stack has had no
#       update for expiry.idleHours: then it is destroyed too, unless the pull request carries
#       expiry.keepLabel. The expired ones' numbers go to the step output `expired` (a JSON array;
#       GITHUB_OUTPUT), for sweep.yml to tell each pull request, with `idle_hours` and `keep_label`. A pull request
#       the API cannot answer for, or a destroy that fails, is reported and fails the run after the
#       others were handled. --dry-run only lists.
#
# Runs in the project directory (where Pulumi.yaml is), with the backend and secrets provider of
# the pull-request stacks in the environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or
# PULUMI_ACCESS_TOKEN); grant and destroy-base need no backend of the pull requests.
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

# The Pod Security labels every namespace carries (components/environment-namespace.ts,
# POD_SECURITY_LABELS): the admission policy refuses a pull-request namespace without exactly these.
POD_SECURITY_LABELS=(
  pod-security.kubernetes.io/enforce=restricted
  pod-security.kubernetes.io/enforce-version=v1.33
  pod-security.kubernetes.io/warn=restricted
  pod-security.kubernetes.io/warn-version=latest
  pod-security.kubernetes.io/audit=restricted
  pod-security.kubernetes.io/audit-version=latest
)
# The label grant puts on each pull request's namespace: how destroy-base finds them.
PR_LABEL=esteira.dev/pull-request
DEPLOYER=esteira-deployer
DEPLOYER_ROLE=esteira-pr-deployer
PROJECT="$(sed -nE 's/^name: *([^ #]+).*/\1/p' Pulumi.yaml)"
namespace_of() { echo "$PROJECT-pr-$1"; }

# api_unreachable — when the API server of the KUBECONFIG in use does not answer at all (connection
# refused, unknown host, timed out), prints kubectl's reason and succeeds. Any answer, an error
# included (an expired token's Unauthorized), means the cluster is there: it fails.
api_unreachable() {
  local out
  out="$(kubectl get --raw /version --request-timeout=20s 2>&1)" && return 1
  grep -qiE "refused|unable to connect|no such host|i/o timeout|deadline exceeded|Client\.Timeout|no route to host|connection reset" <<<"$out" ||
    return 1
  head -n 1 <<<"$out"
}

require_kubectl() {
  local unreachable
  command -v kubectl >/dev/null || die "kubectl is not on PATH" "install kubectl (source scripts/env.sh locally)"
  if unreachable="$(api_unreachable)"; then
    die "the cluster of the KUBECONFIG in use does not answer: $unreachable" "check KUBECONFIG and the cluster, and run this again"
  fi
  kubectl auth can-i create namespaces >/dev/null 2>&1 ||
    die "the KUBECONFIG in use may not create namespaces: this side runs with the base's tenant issuer" \
      "export KUBECONFIG=<(pulumi stack output tenantKubeconfig --show-secrets -s <base>) with the base's credentials"
}

cmd_grant() {
  local number=$1 minutes=120 namespace token server ca labels
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --minutes) minutes=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ "$number" =~ ^[0-9]+$ ]] || die "pull request number \"$number\" is not a number" "pass the pull request's number"
  require_kubectl
  namespace="$(namespace_of "$number")"
  labels="$(printf '    %s\n' "${POD_SECURITY_LABELS[@]/=/: }" "$PR_LABEL: \"$number\"")"
  kubectl apply --server-side --field-manager=esteira-grant -f - >&2 <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels:
$labels
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: $DEPLOYER
  namespace: $namespace
automountServiceAccountToken: false
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: $DEPLOYER
  namespace: $namespace
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: $DEPLOYER_ROLE
subjects:
  - kind: ServiceAccount
    name: $DEPLOYER
    namespace: $namespace
YAML
  # A bound token the API server stops honouring after N minutes, or when the ServiceAccount goes with its namespace.
  token="$(kubectl create token "$DEPLOYER" -n "$namespace" --duration "${minutes}m")"
  server="$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')"
  ca="$(kubectl config view --minify --raw --flatten -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
  log "pr-$number: namespace $namespace, ServiceAccount $DEPLOYER, a token for ${minutes} minutes"
  node -e '
    const [name, server, ca, namespace, token] = process.argv.slice(1);
    console.log(JSON.stringify({
      apiVersion: "v1", kind: "Config",
      clusters: [{ name, cluster: { server, "certificate-authority-data": ca } }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: name, user: name, namespace } }],
      "current-context": name,
    }));' "$namespace" "$server" "$ca" "$namespace" "$token"
}

# cmd_up up|preview NUMBER [--template FILE] [--recover] [-- flags…]
cmd_up() {
  local command=$1 number=$2 template=stacks/pr.template.yaml recover=false parallel
  shift 2
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --template) template=$2; shift 2 ;;
      --recover) [[ "$command" == up ]] || usage; recover=true; shift ;;
      --) shift; break ;;
      *) usage ;;
    esac
  done
  local stack="pr-$number"
  [[ -f "$template" ]] || die "template $template not found" "pass --template with a path relative to $(pwd)"
  [[ -n "${TENANT_KUBECONFIG:-}" ]] || die "TENANT_KUBECONFIG is not set" "export the kubeconfig \`pr-stack.sh grant $number\` printed for this pull request"
  [[ -n "${REGISTRY_TOKEN:-}" ]] || die "REGISTRY_TOKEN is not set" "export the registry token with pull rights (push rights: REGISTRY_PUSH_TOKEN)"
  # The template holds no secret and no encryption salt; the stack's own settings are added below.
  cp "$template" "Pulumi.$stack.yaml"
  pulumi stack select --create "$stack" >/dev/null
  printf '%s' "$TENANT_KUBECONFIG" | pulumi config set --secret esteira:kubeconfig -s "$stack"
  printf '%s' "$REGISTRY_TOKEN" | pulumi config set --secret esteira:registryToken -s "$stack"
  if [[ -n "${REGISTRY_PUSH_TOKEN:-}" ]]; then
    printf '%s' "$REGISTRY_PUSH_TOKEN" | pulumi config set --secret esteira:registryPushToken -s "$stack"
  fi
  policy_args "$stack"
  parallel="$(kubernetes_parallel)"
  if [[ "$command" == preview ]]; then
    log "$stack: pulumi preview (policy pack)"
    pulumi preview --diff --color never --parallel "$parallel" -s "$stack" "${POLICY_ARGS[@]}" "$@"
    return
  fi
  local refresh=()
  if $recover; then
    log "$stack: --recover: removing the lock of an interrupted update, then reading back what the state holds"
    pulumi cancel --yes -s "$stack" >&2
    refresh=(--refresh --run-program)
  fi
  log "$stack: pulumi up (policy pack, --parallel $parallel, no per-step checkpoints)"
  # The state is written once, at the end: the namespace, not the state, is what destroy deletes.
  PULUMI_SKIP_CHECKPOINTS=true pulumi up --yes --skip-preview --parallel "$parallel" "${refresh[@]}" -s "$stack" "${POLICY_ARGS[@]}" "$@"
}

# cmd_destroy NUMBER CLUSTER_GONE(0|1)
cmd_destroy() {
  local number=$1 cluster_gone=$2 stack="pr-$1" names namespace errors unreachable found answers=1
  namespace="$(namespace_of "$number")"
  command -v kubectl >/dev/null || die "kubectl is not on PATH" "install kubectl (source scripts/env.sh locally)"
  # Before anything changes: a cluster down for a while still holds the namespace and the pull
  # request's data, and a stack removed now would leave them with no record; only the operator
  # knows the cluster is gone for good.
  if unreachable="$(api_unreachable)"; then
    [[ "$cluster_gone" == 1 ]] ||
      die "the cluster of the KUBECONFIG in use does not answer ($unreachable); nothing was changed" \
        "if it is down for a while, run this again once it answers (namespace $namespace and the pull request's database would otherwise outlive the stack); if the base's cluster is gone for good, run \`pr-stack.sh destroy $number --cluster-gone\`"
    log "$stack: the cluster does not answer ($unreachable); --cluster-gone: namespace $namespace went with it"
    answers=0
  else
    require_kubectl
  fi
  names="$(stack_names)"
  if grep -qx "$stack" <<<"$names"; then
    # The state first, through the lock: a push still deploying keeps it, and this fails fast
    # before anything is deleted. Only the state is edited: no plugin, no provider, no code of it runs.
    errors="$(mktemp)"
    if ! pulumi state delete --all --yes -s "$stack" >/dev/null 2>"$errors"; then
      cat "$errors" >&2
      if grep -q "locked by" "$errors"; then
        rm -f "$errors"
        die "$stack is locked by another update (a push still deploying it)" "wait for it to finish, then run this again; if it was cancelled, \`pulumi cancel -s $stack\`"
      fi
      rm -f "$errors"
      die "could not clear the state of $stack (pulumi's output above); nothing was deleted" "fix the cause and run this again"
    fi
    rm -f "$errors"
  else
    log "$stack: no such stack"
  fi
  # Then everything it made, all of it in its namespace: workloads, Secrets, its PostgreSQL and data.
  if [[ $answers == 0 ]]; then
    :
  elif found="$(kubectl get namespace "$namespace" 2>&1)"; then
    log "$stack: deleting namespace $namespace and everything in it"
    # The issuer may get and delete a namespace but not watch one, which `kubectl delete --wait`
    # needs: it would wait out its whole timeout. So delete, then poll until the namespace is gone.
    kubectl delete namespace "$namespace" --wait=false >&2 ||
      die "namespace $namespace was not deleted (kubectl's output above)" "run this again; the stack is kept until its namespace is gone"
    wait_for 600 namespace_gone "$namespace" ||
      die "namespace $namespace is still there after 10 minutes" "see \`kubectl get namespace $namespace -o yaml\` (finalizers); run this again once it is gone"
  elif [[ "$found" == *NotFound* ]]; then
    log "$stack: no namespace $namespace"
  else
    # Neither there nor known absent: the stack (its state cleared) is kept, to be destroyed again.
    log "$found"
    die "could not tell whether namespace $namespace exists (kubectl's output above); the stack is kept" "run this again once the cluster answers"
  fi
  if grep -qx "$stack" <<<"$names"; then
    pulumi stack rm --yes -s "$stack" >&2
    log "$stack: destroyed and removed"
  fi
  rm -f "Pulumi.$stack.yaml"
}

# namespace_gone NAME — true once the API server answers NotFound for the namespace.
namespace_gone() {
  local out
  out="$(kubectl get namespace "$1" 2>&1)" && return 1
  [[ "$out" == *NotFound* ]]
}

cmd_list() {
  pr_stacks
}

# pr_namespaces — the pull requests' namespaces in the cluster of the KUBECONFIG in use, one per line.
pr_namespaces() {
  kubectl get namespaces -l "$PR_LABEL" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
}

cmd_destroy_base() {
  local base=$1 with_pr_stacks=$2 dependents=() listed namespace
  require_kubectl
  listed="$(pr_namespaces)"
  [[ -z "$listed" ]] || mapfile -t dependents <<<"$listed"
  if [[ ${#dependents[@]} -gt 0 ]]; then
    [[ "$with_pr_stacks" == 1 ]] ||
      die "stack $base is the base of ${dependents[*]}: destroying it would strand them on a cluster that no longer exists" \
        "destroy them first (bash scripts/pr-stack.sh destroy <number>), or pass --with-pr-stacks to take them down with it"
    log "$base: destroying the pull requests' namespaces and stacks built on it first: ${dependents[*]}"
    for namespace in "${dependents[@]}"; do cmd_destroy "${namespace##*-pr-}" 0; done
  fi
  pulumi destroy --yes --skip-preview -s "$base"
}

# pr_state NUMBER — "<state> <label,label…>" of the pull request, as the GitHub API says it.
pr_state() { gh api "repos/$GITHUB_REPOSITORY/pulls/$1" --jq '.state + " " + ([.labels[]?.name] | join(","))'; }

# expiry_of TEMPLATE — "<idleHours> <keepLabel>" of the template's esteira:expiry (validated with the
# rest of its config by npm test), nothing when it sets none.
expiry_of() {
  # shellcheck disable=SC2016 # JavaScript's template literal, not the shell's
  node -e '
    const [file, project] = process.argv.slice(1);
    const { parse } = require(require.resolve("yaml", { paths: [project] }));
    const expiry = parse(require("fs").readFileSync(file, "utf8"), { merge: true })?.config?.["esteira:expiry"];
    if (expiry) console.log(`${expiry.idleHours} ${expiry.keepLabel}`);' "$1" "$(dirname "${BASH_SOURCE[0]}")/.."
}

# idle_hours STACK — hours since the stack's last update ended, one decimal; nothing when it never had one.
idle_hours() {
  local history
  history="$(read_backend "the history of $1" stack history --json --page-size 1 -s "$1")"
  node -e '
    const [last] = JSON.parse(require("fs").readFileSync(0, "utf8")) ?? [];
    const at = last && Date.parse(last.endTime ?? last.startTime);
    if (at) console.log(((Date.now() - at) / 3600e3).toFixed(3));' <<<"$history"
}

# sweep_reason STACK NUMBER ANSWER IDLE_LIMIT KEEP_LABEL — why the stack goes ("closed", or
# "expired <hours>"), or nothing when it stays (said in the log).
sweep_reason() {
  local stack=$1 number=$2 state labels idle
  read -r state labels <<<"$3"
  if [[ "$state" == closed ]]; then echo closed; return; fi
  if [[ -z "$4" ]]; then log "$stack: pull request #$number is $state, kept"; return; fi
  if [[ ",$labels," == *",$5,"* ]]; then log "$stack: pull request #$number is $state and labelled $5, kept"; return; fi
  idle="$(idle_hours "$stack")"
  if [[ -z "$idle" ]]; then log "$stack: pull request #$number is $state, its stack never deployed, kept"; return; fi
  if node -e 'process.exit(Number(process.argv[1]) > Number(process.argv[2]) ? 0 : 1)' "$idle" "$4"; then
    echo "expired $idle"
  else
    log "$stack: pull request #$number is $state, idle ${idle} h of ${4}, kept"
  fi
}

cmd_sweep() {
  local dry_run=0 template=stacks/pr.template.yaml stacks stack number answer reason what failed=0 swept=0 expiry idle_limit="" keep_label="" expired=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dry-run) dry_run=1; shift ;;
      --template) [[ $# -ge 2 ]] || usage; template=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ -n "${GITHUB_REPOSITORY:-}" ]] || die "GITHUB_REPOSITORY is not set" "set it to <owner>/<repository>"
  command -v gh >/dev/null || die "gh is not on PATH" "install the GitHub CLI, with GH_TOKEN set"
  [[ -f "$template" ]] || die "template $template not found" "pass --template with a path relative to $(pwd)"
  expiry="$(expiry_of "$template")"
  if [[ -n "$expiry" ]]; then
    read -r idle_limit keep_label <<<"$expiry"
    [[ "$idle_limit" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$template: esteira:expiry.idleHours is not a number of hours: '$idle_limit'" "run npm test, which validates it"
    log "open pull requests' stacks expire after $idle_limit h without a deploy (label $keep_label keeps one)"
  fi
  stacks="$(pr_stacks)"
  log "$(wc -w <<<"$stacks") pull-request stack(s) in the backend"
  for stack in $stacks; do
    number=${stack#pr-}
    if ! answer="$(pr_state "$number" 2>&1)"; then
      log "ERROR: $stack: the GitHub API did not say whether pull request #$number is open: $answer"
      failed=1
      continue
    fi
    if ! reason="$(sweep_reason "$stack" "$number" "$answer" "$idle_limit" "$keep_label")"; then
      log "ERROR: $stack: could not tell how long it has been idle (above)"
      failed=1
      continue
    fi
    case "$reason" in
      closed) what="pull request #$number is closed" ;;
      expired*) what="pull request #$number is open, but its stack has had no deploy for ${reason#expired } h (esteira:expiry.idleHours: $idle_limit)" ;;
      *) continue ;;
    esac
    if [[ "$dry_run" == 1 ]]; then
      log "$stack: $what: would destroy"
      continue
    fi
    log "$stack: $what: destroying"
    # A run of its own, so that one stack's failure is reported and the others are still handled.
    if bash "${BASH_SOURCE[0]}" destroy "$number"; then
      swept=$((swept + 1))
      [[ "$reason" == closed ]] || expired+=("$number")
    else
      log "ERROR: $stack: destroy failed"
      failed=1
    fi
  done
  log "swept $swept stack(s)${expired[*]:+, expired: ${expired[*]}}"
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    local IFS=,
    printf 'expired=[%s]\nidle_hours=%s\nkeep_label=%s\n' "${expired[*]}" "$idle_limit" "$keep_label" >>"$GITHUB_OUTPUT"
  fi
  return "$failed"
}

case "${1:-}" in
  grant) [[ $# -ge 2 ]] || usage; shift; cmd_grant "$@" ;;
  up | preview) [[ $# -ge 2 ]] || usage; cmd_up "$@" ;;
  destroy)
    [[ $# -eq 2 || ( $# -eq 3 && "$3" == --cluster-gone ) ]] || usage
    cmd_destroy "$2" "$([[ "${3:-}" == --cluster-gone ]] && echo 1 || echo 0)"
    ;;
  list) shift; cmd_list "$@" ;;
  destroy-base)
    [[ $# -eq 2 || ( $# -eq 3 && "$3" == --with-pr-stacks ) ]] || usage
    cmd_destroy_base "$2" "$([[ "${3:-}" == --with-pr-stacks ]] && echo 1 || echo 0)"
    ;;
  sweep) shift; cmd_sweep "$@" ;;
  *) usage ;;
esac
