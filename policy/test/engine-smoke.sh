#!/usr/bin/env bash
# The policy pack in the real engine, with no cluster: `pulumi preview` of a program with one
# Deployment and one Secret (test/engine-smoke/, its Kubernetes provider rendering YAML to a
# directory) passes while they comply, and fails with workload-probes' message once the
# Deployment's readinessProbe is gone.
#
# Needs: the Pulumi CLI, the Node.js language host and the kubernetes provider plugin (the local
# toolchain, found through scripts/env.sh when the repository has one), `npm ci` in policy/ and at
# the repository root (the program borrows the root's @pulumi/kubernetes). Starts nothing that
# listens beyond the engine's own plugins on loopback, and leaves nothing behind.
set -euo pipefail

policy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_dir="$(dirname "$policy_dir")"

die() {
  printf 'engine-smoke: %s\n' "$*" >&2
  exit 1
}

if [[ -f "$repo_dir/scripts/env.sh" ]]; then
  # shellcheck source=/dev/null
  source "$repo_dir/scripts/env.sh"
fi
command -v pulumi >/dev/null || die "no pulumi on PATH (build the toolchain: bash scripts/toolchain.sh)"
[[ -d "$policy_dir/node_modules/@pulumi/policy" ]] || die "run npm ci in $policy_dir first"
[[ -d "$repo_dir/node_modules/@pulumi/kubernetes" ]] || die "run npm ci in $repo_dir first"
plugins="${PULUMI_HOME:-$HOME/.pulumi}/plugins"
[[ -d "$plugins" ]] || die "no plugin directory at $plugins"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A Pulumi home of its own that shares only the installed plugins: no login, workspace or log of
# this run lands in the toolchain's home.
mkdir -p "$work/home" "$work/state" "$work/program"
ln -s "$plugins" "$work/home/plugins"
export PULUMI_HOME="$work/home" PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=smoke
export PULUMI_SKIP_UPDATE_CHECK=1 PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

cp "$policy_dir/test/engine-smoke/"{Pulumi.yaml,index.ts,package.json} "$work/program/"
ln -s "$repo_dir/node_modules" "$work/program/node_modules"
cd "$work/program"
pulumi stack init smoke --non-interactive >/dev/null

preview() {
  pulumi preview --non-interactive --color never \
    --policy-pack "$policy_dir/analyzer" --policy-pack-config "$policy_dir/config/other.json"
}

echo "=== pulumi $(pulumi version): preview of a compliant Deployment (must pass)"
if ! preview >"$work/pass.log" 2>&1; then
  cat "$work/pass.log"
grep -qF 'esteira@v0.1.0' "$work/pass.log" || die "the compliant preview does not show the esteira pack ran"
  die "the compliant preview failed"
fi
cat "$work/pass.log"

echo
echo "=== preview of the same Deployment without a readinessProbe (must fail on workload-probes)"
pulumi config set smoke:readinessProbe false
if preview >"$work/fail.log" 2>&1; then
  cat "$work/fail.log"
  die "the preview passed although the Deployment has no readinessProbe"
fi
cat "$work/fail.log"
for expected in '[mandatory]  workload-probes  (kubernetes:apps/v1:Deployment: web)' 'container "web" has no readinessProbe'; do
  grep -qF -- "$expected" "$work/fail.log" || die "the failed preview does not show: $expected"
done
echo
echo "engine-smoke: ok (compliant preview passed; the missing probe blocked the preview with workload-probes' message)"
