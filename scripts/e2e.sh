#!/usr/bin/env bash
# npm run test:e2e — brings up the local toolchain, stand-ins and cluster (idempotent, seconds when
# warm), then runs the end-to-end suite against the `local` stack with the real Pulumi engine.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The suite's data stays apart from the user's own local line on the same machine: its stacks use
# throwaway working copies and backends, and their application data a database of its own.
export ESTEIRA_PG_DB=esteira_e2e
# cosign, syft and versitygw keep building in the background at idle priority while the first suites run:
# .mocharc.e2e.json runs the suites that need them last, and each waits for them first
# (e2e/harness.ts, finishSetup).
bash scripts/setup-local.sh --no-wait
# The suite previews with the policy pack, which runs from its own dependencies.
[[ -d policy/node_modules ]] || npm --prefix policy ci --no-audit --no-fund
# shellcheck source=scripts/env.sh
source scripts/env.sh
exec npx mocha --config .mocharc.e2e.json "$@"
