#!/usr/bin/env bash
# scripts/promotion-evidence.sh — what a stage may promote on, that nobody below it can forge: for an
# image digest and the full commit sha it was built from,
#   * provenance: dev's build binds digest to commit. On GitHub, actions/attest-build-provenance
#     (deploy.yml, dev's job) signs a SLSA provenance with the workflow's own OIDC identity; here
#     and wherever that is not available, a cosign attestation of the same SLSA v1 shape, signed
#     with the key only dev's environment holds.
#   * verification: a stage whose smoke test passed (homolog) signs the digest with cosign and
#     the key only that stage's environment holds, the commit and the stage as signed annotations.
#   * SBOM: what the image contains (its OS packages and npm dependencies, SPDX JSON written by
#     syft from the pushed image), attested with the same key as dev's provenance; prod-preview
#     scans the SBOM it verifies (scripts/vulnerability-gate.sh).
# Registry tags locate a digest at most; nothing trusts them.
#
#   promotion-evidence.sh provenance <repository@sha256:…> <commit>
#       Attests dev's provenance with EVIDENCE_SIGNING_KEY (a cosign private key; COSIGN_PASSWORD).
#   promotion-evidence.sh sign <stage> <repository@sha256:…> <commit>
#       Signs the digest as verified in <stage> with EVIDENCE_SIGNING_KEY (COSIGN_PASSWORD).
#   promotion-evidence.sh sbom <repository@sha256:…>
#       Writes the image's SBOM with syft and attests it with EVIDENCE_SIGNING_KEY (COSIGN_PASSWORD).
#   promotion-evidence.sh sbom-read <repository@sha256:…>
#       Prints the SBOM attested for that digest, verified with EVIDENCE_PROVENANCE_PUBLIC_KEY.
#   promotion-evidence.sh verify <stage> <repository@sha256:…> <commit>
#       Both checks, for the full 40-hex commit: the provenance (EVIDENCE_PROVENANCE_PUBLIC_KEY, or
#       on GitHub EVIDENCE_PROVENANCE=github: `gh attestation verify` bound to this repository and
#       deploy.yml) and <stage>'s signature (EVIDENCE_VERIFIED_PUBLIC_KEY). Fails naming what is
#       missing or forged.
#
# Keys are cosign key pairs (`cosign generate-key-pair`): the private ones are environment
# secrets of the signing stage, the public ones plain variables of the verifying one. No
# transparency log: the keys are the trust root, and private registries stay private. The
# registry is read and written with the Docker credentials in DOCKER_CONFIG (registry_login).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
source "$SCRIPTS/lib.sh"
answer_help "$@"

# The predicate type of dev's provenance: SLSA v1, as actions/attest-build-provenance writes it.
SLSA_V1=https://slsa.dev/provenance/v1

# evidence_key VARIABLE — writes the key in VARIABLE to a private file and prints its path.
evidence_key() {
  local variable=$1 file
  [[ -n "${!variable:-}" ]] || die "$variable is not set" "give the job the stage's cosign key in $variable (an environment secret or variable)"
  file="$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/esteira-key.XXXXXX")"
  chmod 600 "$file"
  printf '%s\n' "${!variable}" >"$file"
  printf '%s\n' "$file"
}

# digest_arg REF — checks a digest-pinned reference.
digest_arg() {
  [[ "$1" =~ ^[^[:space:]@]+@sha256:[0-9a-f]{64}$ ]] || die "\"$1\" is not pinned by digest" "give <repository>@sha256:<64 hex digits>"
}

# evidence_args REF COMMIT — checks a digest-pinned reference and a full commit sha.
evidence_args() {
  digest_arg "$1"
  [[ "$2" =~ ^[0-9a-f]{40}$ ]] || die "\"$2\" is not a full commit sha" "give all 40 hex digits: evidence binds the whole commit, never a prefix"
}

# provenance_predicate COMMIT — a SLSA v1 predicate naming the commit as its one source.
provenance_predicate() {
  jq -n --arg commit "$1" --arg repo "${GITHUB_REPOSITORY:-esteira-local}" --arg builder "${ESTEIRA_BUILDER_ID:-esteira-local}" '{
    buildDefinition: {
      buildType: "https://esteira.dev/build/v1",
      externalParameters: { repository: $repo },
      resolvedDependencies: [{ uri: ("git+" + $repo), digest: { gitCommit: $commit } }]
    },
    runDetails: { builder: { id: $builder } }
  }'
}

cmd_provenance() {
  local ref=$1 commit=$2 key predicate
  evidence_args "$ref" "$commit"
  key="$(evidence_key EVIDENCE_SIGNING_KEY)"
  predicate="$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/esteira-predicate.XXXXXX")"
  provenance_predicate "$commit" >"$predicate"
  cosign attest --yes --key "$key" --tlog-upload=false --type slsaprovenance1 --predicate "$predicate" "$ref" >&2 ||
    { rm -f "$key" "$predicate"; die "could not attest the provenance of $ref" "check the push credentials and EVIDENCE_SIGNING_KEY/COSIGN_PASSWORD"; }
  rm -f "$key" "$predicate"
  log "provenance: $ref built from commit $commit"
}

cmd_sign() {
  local stage=$1 ref=$2 commit=$3 key
  evidence_args "$ref" "$commit"
  key="$(evidence_key EVIDENCE_SIGNING_KEY)"
  cosign sign --yes --key "$key" --tlog-upload=false \
    -a "esteira.dev/commit=$commit" -a "esteira.dev/stage=$stage" "$ref" >&2 ||
    { rm -f "$key"; die "could not sign $ref as verified in $stage" "check the push credentials and EVIDENCE_SIGNING_KEY/COSIGN_PASSWORD"; }
  rm -f "$key"
  log "verified in $stage: $ref for commit $commit"
}

# The SBOM's format: SPDX JSON, the in-toto predicate cosign's `--type spdxjson` names.
SBOM_TYPE=spdxjson

cmd_sbom() {
  local ref=$1 key sbom
  digest_arg "$ref"
  command -v syft >/dev/null || die "syft is not on PATH" "source scripts/env.sh (local; scripts/toolchain.sh syft builds it) or install syft v$ESTEIRA_SYFT_VERSION"
  key="$(evidence_key EVIDENCE_SIGNING_KEY)"
  sbom="$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/esteira-sbom.XXXXXX")"
  # From the pushed image itself, with the registry credentials of DOCKER_CONFIG; no update check.
  SYFT_CHECK_FOR_APP_UPDATE=false syft scan "registry:$ref" --quiet --output "spdx-json=$sbom" ||
    { rm -f "$key" "$sbom"; die "syft could not read $ref to write its SBOM" "check the registry credentials in DOCKER_CONFIG"; }
  cosign attest --yes --key "$key" --tlog-upload=false --type "$SBOM_TYPE" --predicate "$sbom" "$ref" >&2 ||
    { rm -f "$key" "$sbom"; die "could not attest the SBOM of $ref" "check the push credentials and EVIDENCE_SIGNING_KEY/COSIGN_PASSWORD"; }
  log "SBOM: $ref, $(jq '.packages | length' "$sbom") packages, attested"
  rm -f "$key" "$sbom"
}

# attested_sbom REF — prints the SBOM attested for REF with dev's key (EVIDENCE_PROVENANCE_PUBLIC_KEY),
# the newest if there are several; fails, with cosign's reason, when there is none or another key signed it.
attested_sbom() {
  local ref=$1 key out
  key="$(evidence_key EVIDENCE_PROVENANCE_PUBLIC_KEY)"
  out="$(cosign verify-attestation --key "$key" --insecure-ignore-tlog=true --type "$SBOM_TYPE" "$ref" 2>&1)" || {
    rm -f "$key"
    printf '%s\n' "$out" >&2
    return 1
  }
  rm -f "$key"
  grep '^{' <<<"$out" | jq -c '.payload | @base64d | fromjson | .predicate' | tail -1
}

cmd_sbom_read() {
  digest_arg "$1"
  attested_sbom "$1" || die "$1 has no SBOM attested by dev's key (missing, or signed by another key: cosign's reason above)" \
    "deploy the commit through dev, whose job attests each image's SBOM (scripts/mark-verified.sh)"
}

# provenance_commits REF — the commits dev's verified provenance names for REF, one per line.
provenance_commits() {
  local ref=$1 key out
  if [[ "${EVIDENCE_PROVENANCE:-key}" == github ]]; then
    # Keyless, bound to this repository and to the workflow that builds on main.
    out="$(gh attestation verify "oci://$ref" --repo "$GITHUB_REPOSITORY" \
      --signer-workflow "$GITHUB_REPOSITORY/.github/workflows/deploy.yml" --predicate-type "$SLSA_V1" --format json 2>&1)" || {
      printf '%s\n' "$out" >&2
      return 1
    }
    jq -r '.[].verificationResult.statement.predicate.buildDefinition.resolvedDependencies[]?.digest.gitCommit // empty' <<<"$out"
    return 0
  fi
  key="$(evidence_key EVIDENCE_PROVENANCE_PUBLIC_KEY)"
  out="$(cosign verify-attestation --key "$key" --insecure-ignore-tlog=true --type slsaprovenance1 "$ref" 2>&1)" || {
    rm -f "$key"
    printf '%s\n' "$out" >&2
    return 1
  }
  rm -f "$key"
  # One DSSE envelope per line; its payload is the in-toto statement.
  grep '^{' <<<"$out" | jq -r '.payload | @base64d | fromjson | .predicate.buildDefinition.resolvedDependencies[]?.digest.gitCommit // empty'
}

# verify_promotion_evidence STAGE REF COMMIT — true when REF carries dev's provenance for COMMIT
# and STAGE's signature for COMMIT; otherwise says which is missing or forged, and fails.
verify_promotion_evidence() {
  local stage=$1 ref=$2 commit=$3 commits key
  evidence_args "$ref" "$commit"
  if ! commits="$(provenance_commits "$ref")"; then
    log "REFUSED: $ref has no provenance signed by dev's identity (missing, or signed by another key: cosign's reason above)"
    return 1
  fi
  if ! grep -qx "$commit" <<<"$commits"; then
    log "REFUSED: dev's provenance for $ref names commit(s) ${commits//$'\n'/ } and not $commit: this digest was not built from the release's commit"
    return 1
  fi
  key="$(evidence_key EVIDENCE_VERIFIED_PUBLIC_KEY)"
  if ! cosign verify --key "$key" --insecure-ignore-tlog=true \
    -a "esteira.dev/commit=$commit" -a "esteira.dev/stage=$stage" "$ref" >/dev/null; then
    rm -f "$key"
    log "REFUSED: $ref has no signature of $stage's key for commit $commit (missing, for another commit, or signed by another key: cosign's reason above)"
    return 1
  fi
  rm -f "$key"
  log "evidence: $ref built from $commit (dev's provenance) and verified in $stage (its signature)"
}

cmd_verify() {
  verify_promotion_evidence "$@" || die "the promotion evidence of $2 does not hold" "promote only digests dev built from commit $3 and $1 verified; deploy that commit through $1 first"
}

# Sourced (release-preview.sh), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  command -v cosign >/dev/null || die "cosign is not on PATH" "source scripts/env.sh (local; scripts/toolchain.sh cosign builds it) or install cosign v2"
  case "${1:-}" in
    provenance) [[ $# -eq 3 ]] || usage; cmd_provenance "$2" "$3" ;;
    sign) [[ $# -eq 4 ]] || usage; cmd_sign "$2" "$3" "$4" ;;
    sbom) [[ $# -eq 2 ]] || usage; cmd_sbom "$2" ;;
    sbom-read) [[ $# -eq 2 ]] || usage; cmd_sbom_read "$2" ;;
    verify) [[ $# -eq 4 ]] || usage; cmd_verify "$2" "$3" "$4" ;;
    *) usage ;;
  esac
fi
