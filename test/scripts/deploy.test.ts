/**
 * scripts/deploy.sh and scripts/rollback.sh against a stand-in for `pulumi` that answers from files:
 * the order of a deploy (read the cluster back, then record what runs, then `up` with the policy
 * pack) and what a rollback comes back to. The real engine's side is e2e/delivery.e2e.ts's.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runScript } from "../support/scripts";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const REPOSITORY = "registry.example/esteira/sample";

/** `pulumi` as the scripts call it: the state after a read-back runs `live`, the outputs name `recorded`; every `up` fails. */
const PULUMI = `#!/usr/bin/env bash
echo "pulumi $*" >>"$STUB/calls"
case "$1 $2" in
  "stack export") cat "$STUB/export.json" ;;
  "stack output") cat "$STUB/images.json" ;;
  "config get") exit 1 ;;
  "config set") ;;
  "refresh --yes") ;;
  *) [[ "$1" == up ]] && { echo "error: the update failed" >&2; exit 255; } ;;
esac
`;

describe("scripts/deploy.sh", function () {
    this.timeout(20_000);

    it("reads the cluster back before it records what to roll back to: after a kubectl rollout undo, the release it restored", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-deploy-"));
        try {
            const stub = path.join(dir, "stub");
            const bin = path.join(stub, "bin");
            const pack = path.join(dir, "policy");
            fs.mkdirSync(bin, { recursive: true });
            fs.mkdirSync(path.join(pack, "node_modules"), { recursive: true });
            fs.writeFileSync(path.join(pack, "analyzer"), "#!/bin/sh\n", { mode: 0o755 });
            fs.writeFileSync(path.join(bin, "pulumi"), PULUMI, { mode: 0o755 });
            // The outputs name the bad release; the Deployment, read back, runs the one `rollout undo` restored.
            fs.writeFileSync(path.join(stub, "images.json"), JSON.stringify({ sample: `${REPOSITORY}@${digest("b")}` }));
            const deployment = {
                type: "kubernetes:apps/v1:Deployment",
                urn: "urn:pulumi:dev::esteira::kubernetes:apps/v1:Deployment::sample",
                outputs: { spec: { template: { spec: { containers: [{ name: "sample", image: `${REPOSITORY}@${digest("a")}` }] } } } },
            };
            fs.writeFileSync(path.join(stub, "export.json"), JSON.stringify({ deployment: { resources: [deployment] } }));
            const result = runScript("deploy.sh", ["dev"], {
                cwd: dir,
                stub,
                env: { ESTEIRA_COMMIT: "0123456789abcdef0123456789abcdef01234567", ESTEIRA_POLICY_PACK: pack, ROLLBACK_STATE_DIR: dir },
            });
            assert.strictEqual(result.status, 1, result.stderr);
            const recorded = JSON.parse(fs.readFileSync(path.join(dir, "esteira-images-dev.json"), "utf8"));
            assert.deepStrictEqual(recorded, { sample: `${REPOSITORY}@${digest("a")}` }, "the rollback target is what the cluster ran");
            const calls = fs.readFileSync(path.join(stub, "calls"), "utf8").trim().split("\n");
            const firstRefresh = calls.findIndex((c) => c.startsWith("pulumi refresh"));
            const firstRecord = calls.findIndex((c) => c.startsWith("pulumi stack output images"));
            assert.ok(firstRefresh >= 0 && firstRefresh < firstRecord, `read back, then record: ${calls.join(" | ")}`);
            const up = calls.find((c) => c.startsWith("pulumi up"))!;
            assert.ok(up.includes(`--policy-pack ${pack}/analyzer --policy-pack-config ${pack}/config/other.json`), up);
            assert.ok(
                calls.includes(`pulumi config set --path esteira:pins.sample ${REPOSITORY}@${digest("a")} -s dev`),
                "the rollback pins the release that ran",
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
