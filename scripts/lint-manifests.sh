#!/usr/bin/env bash
# scripts/lint-manifests.sh — render every stack file's Kubernetes objects (`npm run render`, the
# program under mocks) and lint them with two tools nobody on the project wrote:
#   kubeconform, strict (no unknown field), against the Kubernetes JSON schemas of the stack's
#     cluster version (its DOKS version, else the local cluster's), offline;
#   kube-score, every default check plus container-seccomp-profile and container-ports-check,
#     warnings included, less what lint/ignores.yaml accepts (each with its reason).
# Exits non-zero on any finding.
#
# kube-score and kubeconform are built by scripts/toolchain.sh (wrapper modules
# scripts/go/kube-score and scripts/go/kubeconform) and reused while the wrappers are unchanged.
# The schemas come from the kubernetes-validate package (PyPI), installed into a venv under
# $ESTEIRA_CACHE; its files name each other through an https `$id`, which kubeconform would try to
# fetch, so a copy with file-relative references is made once per package and Kubernetes version.
#
# Usage: scripts/lint-manifests.sh      (from anywhere, after the root's npm ci; CI=true and no stdin are fine)
# Env:   ESTEIRA_CACHE       cache root (default ~/.cache/esteira)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/toolchain.sh
source "$ROOT/scripts/toolchain.sh" # env.sh, lib.sh and the tool builds
LOG_PREFIX=lint-manifests

KUBERNETES_VALIDATE_VERSION=1.37.0
IGNORES="$ROOT/lint/ignores.yaml"
# Optional kube-score checks esteira's objects pass, so they are run too.
KUBE_SCORE_OPTIONAL=(container-seccomp-profile container-ports-check)
# The cluster version of a stack whose file names none (kubeconfig and shared clusters): the local one's.
DEFAULT_KUBE_MINOR="${ESTEIRA_KUBE_VERSION%.*}"

VENV="$ESTEIRA_CACHE/venv/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
SCHEMAS="$ESTEIRA_CACHE/kubernetes-schemas/$KUBERNETES_VALIDATE_VERSION"

# shellcheck disable=SC2317  # called by name from step()
install_kubernetes_validate() {
  if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
    step_note cached
    return 0
  fi
  command -v python3 >/dev/null || ensure_debian_packages python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || ensure_debian_packages python3-venv
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ||
    die "pip could not install kubernetes-validate $KUBERNETES_VALIDATE_VERSION" "check that this machine reaches the Python package index, then run this again"
}

# standalone_schemas MINOR — the strict schemas of Kubernetes MINOR (e.g. 1.36), with references
# made relative to the files; prints their directory's parent, as kubeconform's template needs it.
standalone_schemas() {
  local minor=$1 dir="$SCHEMAS/v$1.0-local-strict"
  if [[ ! -f "$dir/.done" ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    "$VENV/bin/python" - "$minor" "$dir" <<'PY' || die "kubernetes-validate $KUBERNETES_VALIDATE_VERSION has no schemas for Kubernetes $minor" "use a version it ships (see its kubernetes-json-schema directory)"
import json, os, sys
import kubernetes_validate
minor, dst = sys.argv[1:]
src = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema", f"v{minor}.0-local-strict")
if not os.path.isdir(src):
    sys.exit(1)
def standalone(node):
    if isinstance(node, dict):
        node.pop("$id", None)
        return {k: v.replace("/api/_definitions.json", "_definitions.json") if k == "$ref" and isinstance(v, str) else standalone(v) for k, v in node.items()}
    return [standalone(v) for v in node] if isinstance(node, list) else node
for name in os.listdir(src):
    if name.endswith(".json"):
        with open(os.path.join(src, name)) as f, open(os.path.join(dst, name), "w") as out:
            json.dump(standalone(json.load(f)), out)
PY
    touch "$dir/.done"
  fi
  printf '%s\n' "$SCHEMAS"
}

# plan STACK — what lint/ignores.yaml and the stack file say for STACK: the cluster's Kubernetes
# minor on the first line, then `kube-score <test>` or `kubeconform <kind>` per accepted finding.
plan() {
  (cd "$ROOT" && node - "$IGNORES" "$1" "$DEFAULT_KUBE_MINOR" <<'JS'
const fs = require("fs");
const { parse } = require("yaml");
const [file, stack, fallback] = process.argv.slice(2);
const fail = (message) => { console.error(`${file}: ${message}`); process.exit(1); };
const ignores = parse(fs.readFileSync(file, "utf8")) ?? {};
const clusterOf = (file) => (fs.existsSync(file) ? parse(fs.readFileSync(file, "utf8"))?.config?.["esteira:cluster"] : undefined);
const cluster = clusterOf(stack === "pr-42" ? "stacks/pr.template.yaml" : `Pulumi.${stack}.yaml`);
// A DOKS version slug, e.g. 1.33.1-do.0, names the cluster's minor.
const minor = cluster?.mode === "digitalocean" ? /^(\d+\.\d+)\./.exec(cluster.version)?.[1] : undefined;
console.log(minor ?? fallback);
for (const [tool, field] of [["kube-score", "test"], ["kubeconform", "kind"]]) {
  for (const [i, entry] of (ignores[tool] ?? []).entries()) {
    const extra = Object.keys(entry).filter((k) => ![field, "stacks", "reason"].includes(k));
    if (extra.length || typeof entry[field] !== "string" || typeof entry.reason !== "string" || !entry.reason.trim()) {
      fail(`${tool}[${i}] needs exactly ${field}, reason and optionally stacks`);
    }
    if (!entry.stacks || entry.stacks.includes(stack)) console.log(`${tool} ${entry[field]}`);
  }
}
JS
  )
}

steps_begin 3
toolchain_steps kube-score kubeconform
step kubernetes-validate "Kubernetes JSON schemas (kubernetes-validate $KUBERNETES_VALIDATE_VERSION)" install_kubernetes_validate
KUBE_SCORE="$ESTEIRA_BIN/kube-score-$ESTEIRA_KUBE_SCORE_VERSION/kube-score"
KUBECONFORM="$ESTEIRA_BIN/kubeconform-$ESTEIRA_KUBECONFORM_VERSION/kubeconform"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
log "rendering every stack file under mocks (npm run render)"
(cd "$ROOT" && npm run -s render -- -o "$scratch") >&2

known_tests="$("$KUBE_SCORE" list | cut -d, -f1)"
optional=()
for t in "${KUBE_SCORE_OPTIONAL[@]}"; do optional+=(--enable-optional-test "$t"); done

status=0
for dir in "$scratch"/*/; do
  stack="$(basename "$dir")"
  mapfile -t lines < <(plan "$stack") || die "lint/ignores.yaml cannot be read" "fix it as the message above says"
  [[ ${#lines[@]} -gt 0 ]] || die "no plan for $stack" "check lint/ignores.yaml and the stack file"
  minor="${lines[0]}"
  ignore=() accepted=() skip=()
  for line in "${lines[@]:1}"; do
    read -r tool what <<<"$line"
    if [[ $tool == kube-score ]]; then
      grep -qx -- "$what" <<<"$known_tests" || die "lint/ignores.yaml ignores \"$what\", which kube-score $ESTEIRA_KUBE_SCORE_VERSION does not have" "check the name against: $KUBE_SCORE list"
      ignore+=(--ignore-test "$what")
      accepted+=("$what")
    else
      skip+=("$what")
    fi
  done
  files=("$dir"*.yaml)

  log "$stack: kubeconform -strict, Kubernetes $minor (${#files[@]} objects)"
  schemas="$(standalone_schemas "$minor")"
  kubeconform_skip=()
  [[ ${#skip[@]} -eq 0 ]] || kubeconform_skip=(-skip "$(IFS=,; echo "${skip[*]}")")
  "$KUBECONFORM" -strict -summary -kubernetes-version "$minor.0" "${kubeconform_skip[@]}" \
    -schema-location "$schemas/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    "${files[@]}" || status=1

  log "$stack: kube-score${accepted[*]:+ (accepted: ${accepted[*]})}"
  if ! out="$("$KUBE_SCORE" score --output-format ci --exit-one-on-warning --kubernetes-version "v$minor" \
    "${optional[@]}" "${ignore[@]}" "${files[@]}")"; then
    status=1
  fi
  # Only what needs attention; every other check passed or was accepted.
  grep -vE '^\[(OK|SKIPPED)\]' <<<"$out" || true
done

if [[ $status -eq 0 ]]; then
  log "clean: every stack's objects pass kubeconform and kube-score (accepted findings: lint/ignores.yaml)"
else
  log "FAILED: findings above; fix them, or accept one in lint/ignores.yaml with its reason"
fi
exit "$status"
