#!/usr/bin/env bash
# scripts/local-workdir.sh DIR — lays out a working copy of the program in DIR for the `local`
# stack (and the pull-request stacks built on it): the code, Pulumi.yaml, Pulumi.local.yaml, the
# PR templates and app/ are copied fresh, node_modules is linked. Pulumi writes the stack's encryption salt and secrets into the working copy's
# Pulumi.local.yaml, so the repository's file is never modified. Used by local-up.sh and the e2e suite.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:?usage: local-workdir.sh DIR}"

mkdir -p "$dir"
for file in Pulumi.yaml Pulumi.local.yaml package.json tsconfig.json tsconfig.pulumi.json index.ts; do
  cp "$repo/$file" "$dir/$file"
done
for sub in vocabulary config components stacks images; do
  rm -rf "${dir:?}/$sub"
  cp -r "$repo/$sub" "$dir/$sub"
done
rm -rf "$dir/app"
# The build context: everything but what .dockerignore leaves out anyway.
mkdir -p "$dir/app"
tar -C "$repo/app" --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$dir/app" -xf -
# The build context's hash includes permission bits: the same bits on every machine (0644/0755).
npm --prefix "$repo" run -s context-modes -- "$dir/app"
ln -sfn "$repo/node_modules" "$dir/node_modules"
