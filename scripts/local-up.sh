#!/usr/bin/env bash
# scripts/local-up.sh [--destroy [--with-pr-stacks]] [pulumi up flags…] — the main job on this
# machine: `pulumi up` of the `local` stack against the local stand-ins, building and starting
# whatever is missing first (about 17 minutes on a fresh machine, seconds when warm; Linux, root:
# see docs/local-line.md). State lives in a file backend under the cache; secrets come from the
# stand-ins' password files and are never printed.
#   bash scripts/local-up.sh --yes                     # deploy
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

destroy=false
for arg in "$@"; do [[ $arg != --destroy ]] || destroy=true; done

# shellcheck source=scripts/env.sh
source "$repo/scripts/env.sh"
# Nothing to tear down means nothing to build or start for it either.
if $destroy && ! compgen -G "$ESTEIRA_LOCAL_DIR/state/.pulumi/stacks/*/local.json*" >/dev/null; then
  log "no local stack in $ESTEIRA_LOCAL_DIR/state: nothing to destroy"
  exit 0
fi

bash "$repo/scripts/setup-local.sh"

work="$ESTEIRA_LOCAL_DIR/project"
bash "$repo/scripts/local-workdir.sh" "$work"
mkdir -p "$ESTEIRA_LOCAL_DIR/state"
export PULUMI_BACKEND_URL="file://$ESTEIRA_LOCAL_DIR/state"
# Guards only local stand-ins' passwords; override it to taste.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-esteira-local}"

cd "$work"
pulumi stack select --create local >/dev/null
# Secrets go in on stdin, so they never appear in a process list. The kubeconfig is flattened
# (certificates inline): the stack exports it to the pull-request stacks that run on this cluster.
"$ESTEIRA_KUBE_BIN_DIR/kubectl" --kubeconfig "$ESTEIRA_KUBECONFIG" config view --raw --flatten |
  pulumi config set --secret esteira:kubeconfig -s local
pulumi config set --secret esteira:registryToken -s local <"$ESTEIRA_REGISTRY_PASSWORD_FILE"
esteira_database_url | pulumi config set --secret esteira:databaseUrl -s local
# Exported as databaseAdminUrl: pull-request stacks make their own database and role with it.
esteira_database_admin_url | pulumi config set --secret esteira:databaseAdminUrl -s local

if $destroy; then
  # Refused while pull-request stacks are built on it, unless --with-pr-stacks takes them down too.
  with=()
  [[ " $* " != *" --with-pr-stacks "* ]] || with=(--with-pr-stacks)
  exec bash "$repo/scripts/pr-stack.sh" destroy-base local "${with[@]}"
fi
exec pulumi up -s local "$@"
