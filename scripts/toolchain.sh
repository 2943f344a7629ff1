#!/usr/bin/env bash
# scripts/toolchain.sh — build and install the local toolchain from the Go
# module proxy (the only source of binaries on these machines):
#   Pulumi CLI + Node.js language host, the kubernetes and docker-build
#   resource providers, the docker-buildx CLI plugin (the provider's exec
#   mode), kube-apiserver/-controller-manager/-scheduler + kubectl,
#   kwok + kwokctl, etcd, cosign, syft, versitygw (the S3 stand-in).
#
# Each tool is built from a wrapper module under scripts/go/<name> whose
# committed go.mod/go.sum pin the whole dependency graph. Outputs go to
# $ESTEIRA_CACHE/bin/<tool>-<version>/ with a stamp of the wrapper's contents,
# so a warm run is a few stat calls and a changed wrapper rebuilds.
#
# Usage: scripts/toolchain.sh [tool ...]   (default: every tool of TOOLCHAIN_TOOLS)
# Each tool is one numbered step with progress (scripts/lib.sh); scripts/setup-local.sh sources
# this file and runs the same steps among its own. Afterwards: source scripts/env.sh
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$ESTEIRA_SCRIPTS_DIR/lib.sh"

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
# Keep Go's module and build caches with our other slow-build outputs.
export GOMODCACHE="$ESTEIRA_CACHE/go/mod"
export GOCACHE="$ESTEIRA_CACHE/go/build"
# Wrappers carry their go.sum; the checksum database is not reachable here.
export GOFLAGS="-mod=mod -buildvcs=false"
export GOSUMDB=off
export GOTOOLCHAIN=local
# Two cores: one build at a time, two compile jobs.
GO_P="${ESTEIRA_GO_P:-2}"

LOG_PREFIX=toolchain

# Manifest linters (scripts/lint-manifests.sh); each must match its wrapper's go.mod.
: "${ESTEIRA_KUBE_SCORE_VERSION:=1.20.0}" "${ESTEIRA_KUBECONFORM_VERSION:=0.7.0}"

# Every tool, in build order, with the title its step shows.
TOOLCHAIN_TOOLS=(pulumi pulumi-language-nodejs pulumi-resource-kubernetes pulumi-resource-docker-build buildx kubernetes kwok etcd containerd pause cosign syft versitygw)
# What no step of bringing the line up needs: cosign (the promotion evidence), syft (the SBOMs) and
# versitygw (the S3 stand-in). setup-local.sh builds them beside the others at idle priority, so
# they take only the CPU time the other builds' downloads and links, and later the end-to-end
# suite's waits, leave unused (cold, on 2 cores: 2¼, 8½ and 2½ minutes of their own), and waits
# for them at its end (--no-wait: where they are first needed, setup-local.sh --finish).
DEFERRED_TOOLS=(cosign syft versitygw)
DEFERRED_DIR="$ESTEIRA_LOCAL_DIR/deferred-tools"
DEFERRED_LOG="$ESTEIRA_CACHE/logs/deferred-tools.log"
declare -A TOOL_TITLE=(
  [pulumi]="Pulumi CLI $ESTEIRA_PULUMI_VERSION"
  [pulumi-language-nodejs]="Pulumi Node.js language host $ESTEIRA_PULUMI_NODEJS_HOST_VERSION"
  [pulumi-resource-kubernetes]="kubernetes provider $ESTEIRA_PROVIDER_KUBERNETES_VERSION"
  [pulumi-resource-docker-build]="docker-build provider $ESTEIRA_PROVIDER_DOCKER_BUILD_VERSION"
  [buildx]="docker-buildx $ESTEIRA_BUILDX_VERSION"
  [kubernetes]="Kubernetes $ESTEIRA_KUBE_VERSION control plane, node and kubectl"
  [kwok]="kwok $ESTEIRA_KWOK_VERSION"
  [etcd]="etcd $ESTEIRA_ETCD_VERSION"
  [containerd]="containerd $ESTEIRA_CONTAINERD_VERSION"
  [pause]="pause (sandbox) $ESTEIRA_PAUSE_VERSION"
  [cosign]="cosign $ESTEIRA_COSIGN_VERSION"
  [syft]="syft $ESTEIRA_SYFT_VERSION"
  [versitygw]="versitygw $ESTEIRA_VERSITYGW_VERSION (S3 stand-in)"
  [actionlint]="actionlint $ESTEIRA_ACTIONLINT_VERSION"
  [kube-score]="kube-score $ESTEIRA_KUBE_SCORE_VERSION"
  [kubeconform]="kubeconform $ESTEIRA_KUBECONFORM_VERSION"
)

# Hash of a wrapper dir's committed inputs (go.mod, go.sum, any Go files,
# stubs): a changed pin means a rebuild.
# The tool's build and postbuild functions are part of the key too: a changed recipe rebuilds.
wrapper_key() {
  {
    (cd "$ESTEIRA_SCRIPTS_DIR/go/$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    declare -f "build_${1//-/_}" "prebuild_${1//-/_}" "postbuild_${1//-/_}" || true
  } | sha256sum | cut -c1-16
}

# build NAME VERSION LDFLAGS PKG... — build PKGs from wrapper scripts/go/NAME
# into $ESTEIRA_BIN/NAME-VERSION unless its stamp matches the wrapper.
# An optional function "prebuild_NAME SRCDIR" runs in the scratch copy first,
# and "postbuild_NAME OUTDIR" in it after the build, to add files to OUTDIR.
build() {
  local name=$1 version=$2 ldflags=$3; shift 3
  local dest="$ESTEIRA_BIN/$name-$version" key
  key="$(wrapper_key "$name")"
  if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$key" ]]; then
    log "$name $version: cached ($dest)"
    step_note cached
    return 0
  fi
  # Build from a scratch copy so generated files and go.sum touch-ups never
  # dirty the repo.
  local src="$ESTEIRA_CACHE/src/$name-$version"
  rm -rf "$src" && mkdir -p "$src"
  cp -a "$ESTEIRA_SCRIPTS_DIR/go/$name/." "$src/"
  if declare -F "prebuild_${name//-/_}" >/dev/null; then
    (cd "$src" && "prebuild_${name//-/_}" "$src")
  fi
  local tmp="$dest.tmp.$$" start=$SECONDS errors="$src.stderr"
  # Drop output dirs of earlier interrupted or failed builds.
  rm -rf "$dest".tmp.* && mkdir -p "$tmp"
  log "$name $version: building $*"
  if ! (cd "$src" && "$GO" build -p "$GO_P" -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" "$@") 2>"$errors"; then
    cat "$errors" >&2
    rm -rf "$tmp"
    go_failure "$name" "$errors"
  fi
  cat "$errors" >&2
  if declare -F "postbuild_${name//-/_}" >/dev/null; then
    (cd "$src" && "postbuild_${name//-/_}" "$tmp")
  fi
  echo "$key" >"$tmp/.stamp"
  rm -rf "$dest" && mv "$tmp" "$dest"
  log "$name $version: built in $((SECONDS - start))s -> $dest"
}

# go_failure NAME STDERR — explains a failed build: a module the proxy refused, or a compile error.
go_failure() {
  local name=$1 errors=$2 refused
  # e.g. "go: example.com/m@v1.2.3: reading https://…/@v/v1.2.3.zip: 404 Not Found"
  refused="$(grep -oE '[^ :]+@v[^ :]+: (reading|verifying|unrecognized|invalid version)[^"]*' "$errors" | head -3 || true)"
  if [[ -n "$refused" ]]; then
    die "the Go module proxy refused a module $name needs: ${refused//$'\n'/; }" \
      "pin a version the proxy serves in scripts/go/$name/go.mod (then go mod tidy there) and run this again"
  fi
  die "go build of $name failed (compiler output above)" "fix the wrapper in scripts/go/$name, or the version pins in scripts/env.sh"
}

# module_dir MODULE — the source dir of MODULE at the version the current
# wrapper's go.mod requires, downloading it first: `go list -m` prints an
# empty Dir (and exits 0) for a module not yet in the module cache.
module_dir() {
  local mod=$1 version dir
  version="$("$GO" list -m -f '{{.Version}}' "$mod")" || die "$mod is not required by $(pwd)/go.mod" "add it to the wrapper's go.mod"
  [[ -n "$version" ]] || die "$mod has no version in $(pwd)/go.mod" "pin it in the wrapper's go.mod"
  "$GO" mod download "$mod" || die "the Go module proxy refused $mod@$version" "pin a version the proxy serves in the wrapper's go.mod"
  dir="$("$GO" list -m -f '{{.Dir}}' "$mod")"
  [[ -n "$dir" && -d "$dir" ]] || die "$mod@$version: its source is still missing from $GOMODCACHE after go mod download" "remove $GOMODCACHE/cache/download/$mod and run this again"
  printf '%s\n' "$dir"
}

# The Node.js plugins the SDK ships as scripts beside the language host, laid out as the CLI's own
# release bundles them: pulumi-resource-pulumi-nodejs runs dynamic providers (the engine looks for
# it on PATH), pulumi-analyzer-policy runs a policy pack for a CLI that finds no Node.js host (this
# CLI asks the host instead, which is why policy/analyzer launches the pack itself).
NODEJS_PLUGIN_SCRIPTS=(pulumi-resource-pulumi-nodejs pulumi-analyzer-policy)
# shellcheck disable=SC2317  # called by name from build()
postbuild_pulumi_language_nodejs() {
  local dir script
  dir="$(module_dir github.com/pulumi/pulumi/sdk/v3)"
  for script in "${NODEJS_PLUGIN_SCRIPTS[@]}"; do
    install -m 755 "$dir/nodejs/dist/$script" "$1/$script"
  done
}

# The provider's main embeds a schema carrying its version and a minified
# terraform mapping; upstream generates both at build time (go generate), so
# do the same from the module's checked-in JSON.
prebuild_pulumi_resource_kubernetes() {
  local dir
  dir="$(module_dir github.com/pulumi/pulumi-kubernetes/provider/v4)"
  node -e '
    const fs = require("fs");
    const [dir, version] = process.argv.slice(1);
    const schema = JSON.parse(fs.readFileSync(dir + "/cmd/pulumi-resource-kubernetes/schema.json"));
    schema.version = version;
    fs.writeFileSync("schema-embed.json", JSON.stringify(schema));
    const mapping = JSON.parse(fs.readFileSync(dir + "/cmd/pulumi-resource-kubernetes/terraform-mapping.json"));
    fs.writeFileSync("terraform-mapping-embed.json", JSON.stringify(mapping));
  ' "$dir" "$ESTEIRA_PROVIDER_KUBERNETES_VERSION"
}

build_pulumi() {
  build pulumi "$ESTEIRA_PULUMI_VERSION" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$ESTEIRA_PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_pulumi_language_nodejs() {
  build pulumi-language-nodejs "$ESTEIRA_PULUMI_NODEJS_HOST_VERSION" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$ESTEIRA_PULUMI_NODEJS_HOST_VERSION" \
    github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
}

build_pulumi_resource_kubernetes() {
  build pulumi-resource-kubernetes "$ESTEIRA_PROVIDER_KUBERNETES_VERSION" \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$ESTEIRA_PROVIDER_KUBERNETES_VERSION" \
    .  # `go build .` names the binary after the wrapper module: pulumi-resource-kubernetes
}

build_pulumi_resource_docker_build() {
  build pulumi-resource-docker-build "$ESTEIRA_PROVIDER_DOCKER_BUILD_VERSION" \
    "-X github.com/pulumi/pulumi-docker-build/provider.Version=$ESTEIRA_PROVIDER_DOCKER_BUILD_VERSION" \
    github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build
}

build_buildx() {
  build buildx "$ESTEIRA_BUILDX_VERSION" \
    "-X github.com/docker/buildx/version.Version=v$ESTEIRA_BUILDX_VERSION -X github.com/docker/buildx/version.Revision=esteira" \
    github.com/docker/buildx/cmd/buildx
}

build_kubernetes() {
  local v=$ESTEIRA_KUBE_VERSION minor ld="" k
  minor=$(cut -d. -f2 <<<"$v")
  # The same version stamps upstream's hack/lib/version.sh sets; kwokctl and
  # kubectl read the server's version, and the default v0.0.0-master breaks
  # version-dependent flag choices.
  for k in "gitVersion=v$v" gitMajor=1 "gitMinor=$minor" gitTreeState=clean buildDate=1970-01-01T00:00:00Z; do
    ld+=" -X k8s.io/client-go/pkg/version.$k -X k8s.io/component-base/version.$k"
  done
  # One build for all: they share most packages, and the build cache compiles each once.
  build kubernetes "$v" "$ld" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy
}

build_kwok() {
  build kwok "$ESTEIRA_KWOK_VERSION" \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=$ESTEIRA_KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$ESTEIRA_KUBE_VERSION" \
    sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
}

build_etcd() {
  build etcd "$ESTEIRA_ETCD_VERSION" "" .  # binary: etcd
}

# Static, and without the storage drivers the node never uses.
build_containerd() {
  local ld="-X github.com/containerd/containerd/v2/version.Version=v$ESTEIRA_CONTAINERD_VERSION"
  CGO_ENABLED=0 build containerd "$ESTEIRA_CONTAINERD_VERSION" "$ld" \
    -tags "no_btrfs no_devmapper no_zfs no_aufs" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr
}

build_pause() {
  CGO_ENABLED=0 build pause "$ESTEIRA_PAUSE_VERSION" "" .  # binary: pause
}

# Signs and verifies the promotion evidence; the version stamp is what `cosign version` prints.
build_cosign() {
  build cosign "$ESTEIRA_COSIGN_VERSION" "-X sigs.k8s.io/release-utils/version.gitVersion=v$ESTEIRA_COSIGN_VERSION" \
    github.com/sigstore/cosign/v2/cmd/cosign
}

# Writes the SBOM of each built image (scripts/promotion-evidence.sh sbom); the version stamp is what `syft version` prints.
build_syft() {
  build syft "$ESTEIRA_SYFT_VERSION" "-X main.version=$ESTEIRA_SYFT_VERSION -X main.gitCommit=esteira" \
    github.com/anchore/syft/cmd/syft
}

# The S3-compatible stand-in for Spaces that the database dumps are written to (scripts/local-services.sh).
build_versitygw() {
  build versitygw "$ESTEIRA_VERSITYGW_VERSION" "-X main.Version=v$ESTEIRA_VERSITYGW_VERSION -X main.Build=esteira" \
    github.com/versity/versitygw/cmd/versitygw
}

build_actionlint() {
  build actionlint "$ESTEIRA_ACTIONLINT_VERSION" "-X github.com/rhysd/actionlint.version=v$ESTEIRA_ACTIONLINT_VERSION" \
    github.com/rhysd/actionlint/cmd/actionlint
}

build_kube_score() {
  build kube-score "$ESTEIRA_KUBE_SCORE_VERSION" "-X main.version=v$ESTEIRA_KUBE_SCORE_VERSION -X main.commit=esteira" \
    github.com/zegl/kube-score/cmd/kube-score
}

build_kubeconform() {
  build kubeconform "$ESTEIRA_KUBECONFORM_VERSION" "-X main.version=v$ESTEIRA_KUBECONFORM_VERSION" \
    github.com/yannh/kubeconform/cmd/kubeconform
}

# Make the binaries findable the way the Pulumi engine looks for them.
install_pulumi_layout() {
  # Language hosts are found next to the pulumi binary (or on PATH).
  local f
  for f in pulumi-language-nodejs "${NODEJS_PLUGIN_SCRIPTS[@]}"; do
    ln -sfn "$ESTEIRA_BIN/pulumi-language-nodejs-$ESTEIRA_PULUMI_NODEJS_HOST_VERSION/$f" "$ESTEIRA_PULUMI_BIN_DIR/$f"
  done
  # Resource providers: $PULUMI_HOME/plugins/resource-<name>-v<version>/pulumi-resource-<name>,
  # which is what `pulumi plugin install` would lay down.
  local name version bin dir
  for spec in "kubernetes:$ESTEIRA_PROVIDER_KUBERNETES_VERSION:pulumi-resource-kubernetes/pulumi-resource-kubernetes" \
              "docker-build:$ESTEIRA_PROVIDER_DOCKER_BUILD_VERSION:pulumi-resource-docker-build/pulumi-resource-docker-build"; do
    IFS=: read -r name version bin <<<"$spec"
    dir="$ESTEIRA_PULUMI_PLUGIN_DIR/resource-$name-v$version"
    local from="$ESTEIRA_BIN/${bin%%/*}-$version/${bin##*/}"
    if [[ ! -x "$dir/pulumi-resource-$name" ]] || ! cmp -s "$from" "$dir/pulumi-resource-$name"; then
      mkdir -p "$dir"
      cp "$from" "$dir/pulumi-resource-$name.tmp"
      mv "$dir/pulumi-resource-$name.tmp" "$dir/pulumi-resource-$name"
      rm -f "$dir.partial"
    fi
  done
}

# The docker-build provider's exec mode (and `docker buildx`) finds the
# plugin in $DOCKER_CONFIG/cli-plugins, the client config dir env.sh exports.
install_buildx_plugin() {
  local from="$ESTEIRA_BIN/buildx-$ESTEIRA_BUILDX_VERSION/buildx" to="$DOCKER_CONFIG/cli-plugins/docker-buildx"
  [[ -x "$from" ]] || return 0
  if [[ ! -x "$to" ]] || ! cmp -s "$from" "$to"; then
    mkdir -p "$(dirname "$to")"
    cp "$from" "$to.tmp" && chmod 755 "$to.tmp" && mv "$to.tmp" "$to"
  fi
}

# toolchain_preflight — what every build needs before the first one starts.
toolchain_preflight() {
  command -v "$GO" >/dev/null || die "go not found" "install Go >= 1.26 (its module proxy is where every tool comes from)"
  command -v node >/dev/null || die "node not found" "run bash scripts/node.sh (it prepares the kubernetes provider's schema)"
  mkdir -p "$ESTEIRA_BIN" "$ESTEIRA_PULUMI_PLUGIN_DIR" "$ESTEIRA_SHIM_DIR"
}

# toolchain_install — lays the built binaries out where the engine and docker look for them.
toolchain_install() {
  if [[ -x "$ESTEIRA_PULUMI_BIN_DIR/pulumi" && -x "$ESTEIRA_BIN/pulumi-language-nodejs-$ESTEIRA_PULUMI_NODEJS_HOST_VERSION/pulumi-language-nodejs" \
        && -x "$ESTEIRA_BIN/pulumi-resource-kubernetes-$ESTEIRA_PROVIDER_KUBERNETES_VERSION/pulumi-resource-kubernetes" \
        && -x "$ESTEIRA_BIN/pulumi-resource-docker-build-$ESTEIRA_PROVIDER_DOCKER_BUILD_VERSION/pulumi-resource-docker-build" ]]; then
    install_pulumi_layout
  fi
  install_buildx_plugin
}

# toolchain_steps TOOL… — one numbered step per tool (the caller has called steps_begin).
toolchain_steps() {
  local t
  toolchain_preflight
  for t in "$@"; do
    [[ -n "${TOOL_TITLE[$t]:-}" ]] || die "unknown tool \"$t\"" "use one of: ${TOOLCHAIN_TOOLS[*]} actionlint kube-score kubeconform"
    step "tool-$t" "${TOOL_TITLE[$t]}" "build_${t//-/_}"
  done
  toolchain_install
}

# line_tools — TOOLCHAIN_TOOLS but the deferred ones, in build order.
line_tools() {
  local t d
  for t in "${TOOLCHAIN_TOOLS[@]}"; do
    for d in "${DEFERRED_TOOLS[@]}"; do [[ "$t" != "$d" ]] || continue 2; done
    printf '%s\n' "$t"
  done
}

# deferred_tools_start — starts building DEFERRED_TOOLS in the background, in a session of its own at
# SCHED_IDLE and nice 19 (a cached tool takes a second); its status file says how it ended.
deferred_tools_start() {
  mkdir -p "$DEFERRED_DIR" "$(dirname "$DEFERRED_LOG")"
  if pid_alive "$DEFERRED_DIR/pid"; then
    step_note "already building"
    return 0
  fi
  rm -f "$DEFERRED_DIR/status"
  (
    # shellcheck disable=SC2016 # $1 and $2 are the inner bash's arguments
    without_inherited_fds setsid chrt --idle 0 nice -n 19 bash -c 'bash "$1" --deferred; echo $? >"$2"' _ \
      "$ESTEIRA_SCRIPTS_DIR/toolchain.sh" "$DEFERRED_DIR/status" >"$DEFERRED_LOG" 2>&1 </dev/null
  ) &
  echo $! >"$DEFERRED_DIR/pid"
  log "building ${DEFERRED_TOOLS[*]} in the background at idle priority (log $DEFERRED_LOG)"
}

# deferred_tools_wait — until the background build has ended; fails, with its log, unless it built them all.
# With none running it starts one, which finds what is built already and stamped current in seconds.
deferred_tools_wait() {
  pid_alive "$DEFERRED_DIR/pid" || deferred_tools_start
  while pid_alive "$DEFERRED_DIR/pid"; do sleep 1; done
  local status
  status="$(cat "$DEFERRED_DIR/status" 2>/dev/null || echo "none: it was stopped")"
  if [[ "$status" != 0 ]]; then
    tail -25 "$DEFERRED_LOG" >&2
    die "the background build of ${DEFERRED_TOOLS[*]} failed (exit status $status; its log above, all of it in $DEFERRED_LOG)" \
      "fix what the log names, then run bash scripts/setup-local.sh again"
  fi
}

# deferred_tools_stop — ends a background build still running, with every compiler it started.
deferred_tools_stop() {
  local pid
  if ! pid_alive "$DEFERRED_DIR/pid"; then
    rm -f "$DEFERRED_DIR/pid"
    return 0
  fi
  pid="$(cat "$DEFERRED_DIR/pid")"
  log "stopping the background build of ${DEFERRED_TOOLS[*]} (session $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait_for 10 not_alive "$pid" || kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$DEFERRED_DIR/pid"
}

main() {
  if [[ "${1:-}" == --deferred ]]; then
    # The background build deferred_tools_start runs: the tools only, laid out by their own builds.
    steps_begin "${#DEFERRED_TOOLS[@]}"
    toolchain_preflight
    local t
    for t in "${DEFERRED_TOOLS[@]}"; do step "tool-$t" "${TOOL_TITLE[$t]}" "build_${t//-/_}"; done
    return 0
  fi
  local tools=("$@")
  [[ ${#tools[@]} -gt 0 ]] || tools=("${TOOLCHAIN_TOOLS[@]}")
  steps_begin "${#tools[@]}"
  toolchain_steps "${tools[@]}"
}

# Run as a script; sourced (setup-local.sh), it only defines the steps.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
