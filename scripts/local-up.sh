#!/usr/bin/env bash
# scripts/local-up.sh [pulumi up flags…] — the main job on this machine: `pulumi up` of the
# `local` stack against the local stand-ins, building and starting whatever is missing first
# (about 30 minutes on a fresh machine, seconds when warm). State lives in a file backend under
# the cache; secrets come from the stand-ins' password files and are never printed.
#   bash scripts/local-up.sh --yes           # deploy
#   bash scripts/local-up.sh --yes --destroy # (not a pulumi flag) tear the local stack down
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bash "$repo/scripts/setup-local.sh"
# shellcheck source=scripts/env.sh
source "$repo/scripts/env.sh"

work="$ESTEIRA_LOCAL_DIR/project"
bash "$repo/scripts/local-workdir.sh" "$work"
mkdir -p "$ESTEIRA_LOCAL_DIR/state"
export PULUMI_BACKEND_URL="file://$ESTEIRA_LOCAL_DIR/state"
# Guards only local stand-ins' passwords; override it to taste.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-esteira-local}"

cd "$work"
pulumi stack select --create local >/dev/null
pulumi config set --path 'esteira:cluster.kubeconfigPath' "$ESTEIRA_KUBECONFIG" -s local
# Read from stdin, so the values never appear in a process list.
pulumi config set --secret esteira:registryToken -s local <"$ESTEIRA_REGISTRY_PASSWORD_FILE"
esteira_database_url | pulumi config set --secret esteira:databaseUrl -s local

if [[ " $* " == *" --destroy "* ]]; then
  args=()
  for arg in "$@"; do [[ "$arg" == --destroy ]] || args+=("$arg"); done
  exec pulumi destroy -s local "${args[@]}"
fi
exec pulumi up -s local "$@"
