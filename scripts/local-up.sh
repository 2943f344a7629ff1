#!/usr/bin/env bash
# scripts/local-up.sh [--use-existing] [--destroy [--with-pr-stacks]] [pulumi up flags…] — the main
# job on this machine: `pulumi up` of the `local` stack against the local stand-ins, building and
# starting whatever is missing first (about 17 minutes on a fresh machine, seconds when warm; Linux,
# root: see docs/local-line.md). State lives in a file backend under the cache; secrets come from
# the stand-ins' password files and are never printed. It ends by showing the sample answering.
#   bash scripts/local-up.sh --yes                     # deploy
#   bash scripts/local-up.sh --use-existing --yes      # the fast path: your `pulumi` on PATH and the
#                                                      # cluster your kubeconfig reaches; only the
#                                                      # registry, PostgreSQL and Docker stand-ins start
#                                                      # (or ESTEIRA_USE_EXISTING=1; docs/local-line.md)
#   bash scripts/local-up.sh --destroy                 # tear the local stack down; refused while
#                                                      # pr-<n> stacks are built on it
#   bash scripts/local-up.sh --destroy --with-pr-stacks  # take those down too
#   bash scripts/local-up.sh --help                    # this, with nothing built or started
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_PREFIX=local-up

destroy=false existing=false with=() up_args=()
[[ "${ESTEIRA_USE_EXISTING:-}" != 1 ]] || existing=true
for arg in "$@"; do
  case $arg in
    --destroy) destroy=true ;;
    --with-pr-stacks) with=(--with-pr-stacks) ;;
    --use-existing) existing=true ;;
    *) up_args+=("$arg") ;;
  esac
done

if $existing; then
  # The user's tools, found before env.sh puts the line's own first on PATH.
  require_tools pulumi kubectl
  user_pulumi_dir="$(dirname "$(command -v pulumi)")"
  user_kubectl="$(command -v kubectl)"
  user_pulumi_home="${PULUMI_HOME:-}"
  user_no_plugin_download="${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-}"
  # kubectl's own choice of kubeconfig: $KUBECONFIG (one file or several), else ~/.kube/config.
  "$user_kubectl" --request-timeout=10s get --raw /readyz >/dev/null 2>&1 ||
    die "no cluster answers through ${KUBECONFIG:-~/.kube/config} (context: $("$user_kubectl" config current-context 2>/dev/null || echo none))" \
      "start your cluster (kind, k3d, minikube, Docker Desktop) or point KUBECONFIG at one; or run without --use-existing to build the local line"
fi

# shellcheck source=scripts/env.sh
source "$repo/scripts/env.sh"
# The fast path keeps its state apart from the from-source line's: the two deploy to different clusters.
state="$ESTEIRA_LOCAL_DIR/state"
! $existing || state="$ESTEIRA_LOCAL_DIR/state-existing-cluster"
# Nothing to tear down means nothing to build or start for it either.
if $destroy && ! compgen -G "$state/.pulumi/stacks/*/local.json*" >/dev/null; then
  log "no local stack in $state: nothing to destroy"
  exit 0
fi

if $existing; then
  log "using pulumi from $user_pulumi_dir and kubectl's current context, $("$user_kubectl" config current-context); starting only the stand-ins"
  bash "$repo/scripts/setup-local.sh" --stand-ins-only
  # A released CLI finds its plugins in its own PULUMI_HOME and downloads what is missing; the
  # line's settings (its own plugin directory, no downloads) would stop it doing either.
  if [[ -n "$user_pulumi_home" ]]; then export PULUMI_HOME="$user_pulumi_home"; else unset PULUMI_HOME; fi
  if [[ -n "$user_no_plugin_download" ]]; then export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="$user_no_plugin_download"; else unset PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION; fi
  PATH="$user_pulumi_dir:$PATH"
  kubectl=("$user_kubectl") shown_kubectl="kubectl"
  log "pulumi $(pulumi version)"
else
  bash "$repo/scripts/setup-local.sh"
  kubectl=("$ESTEIRA_KUBE_BIN_DIR/kubectl" --kubeconfig "$ESTEIRA_KUBECONFIG")
  shown_kubectl="source scripts/env.sh; kubectl --kubeconfig $ESTEIRA_KUBECONFIG"
fi

work="$ESTEIRA_LOCAL_DIR/project"
bash "$repo/scripts/local-workdir.sh" "$work"
mkdir -p "$state"
export PULUMI_BACKEND_URL="file://$state"
# Guards only local stand-ins' passwords; override it to taste.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-esteira-local}"

cd "$work"
pulumi stack select --create local >/dev/null
# Secrets go in on stdin, so they never appear in a process list. The kubeconfig is flattened
# (certificates inline) and minified to its current context: the tenant issuer's kubeconfig, which
# the stack exports for pr-stack.sh grant, takes the API server and CA from it.
"${kubectl[@]}" config view --raw --flatten --minify |
  pulumi config set --secret esteira:kubeconfig -s local
pulumi config set --secret esteira:registryToken -s local <"$ESTEIRA_REGISTRY_PASSWORD_FILE"
esteira_database_url | pulumi config set --secret esteira:databaseUrl -s local

if $destroy; then
  # Refused while pull-request stacks are built on it, unless --with-pr-stacks takes them down too.
  exec bash "$repo/scripts/pr-stack.sh" destroy-base local "${with[@]}"
fi
# With the policy pack, as every up of the delivery line (policy_args, scripts/delivery-lib.sh).
[[ -d "$repo/policy/node_modules" ]] || npm --prefix "$repo/policy" ci --no-audit --no-fund --ignore-scripts
# shellcheck source=scripts/delivery-lib.sh
source "$repo/scripts/delivery-lib.sh"
policy_args local
pulumi up -s local "${POLICY_ARGS[@]}" "${up_args[@]}"

# The endpoint output names the Service inside the cluster, which nothing on the host resolves:
# show the sample answering through a port-forward, and how to open one.
namespace="$(pulumi stack output namespace -s local)"
hint="$shown_kubectl -n $namespace port-forward svc/sample 8080:80, then http://127.0.0.1:8080/"
command -v curl >/dev/null || {
  log "reach the sample: $hint"
  exit 0
}
"${kubectl[@]}" -n "$namespace" port-forward svc/sample 18080:80 >/dev/null 2>&1 &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
wait_for 30 curl -fsS http://127.0.0.1:18080/readyz ||
  die "the sample did not answer on its readiness path through a port-forward" \
    "$shown_kubectl -n $namespace get pods,events"
log "the sample answers: GET /readyz -> $(curl -fsS http://127.0.0.1:18080/readyz)"
log "reach it yourself: $hint"
