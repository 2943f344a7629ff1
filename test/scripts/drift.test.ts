/**
 * scripts/drift.sh against a stand-in for `pulumi` that answers from files: what a preview's JSON
 * says becomes the drift report, the digests running are pinned first, and `pulumi up` runs only
 * where the stack file asks for remediation. The real engine's side is e2e/operations.e2e.ts's.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runScript } from "../support/scripts";

const REF = `registry.example/esteira/sample@sha256:${"a".repeat(64)}`;
const URN = "urn:pulumi:dev::esteira::esteira:service:WebService$kubernetes:apps/v1:Deployment::sample";

/** `pulumi` as drift.sh calls it; `preview` prints $STUB/preview.json, `up` succeeds, config from $STUB/drift.json. */
const PULUMI = `#!/usr/bin/env bash
echo "pulumi $*" >>"$STUB/calls"
case "$1 $2" in
  "stack output") cat "$STUB/images.json" ;;
  "config get") [[ "$3" == esteira:drift && -f "$STUB/drift.json" ]] && cat "$STUB/drift.json" || exit 1 ;;
  "config set") ;;
  *) case "$1" in preview) cat "$STUB/preview.json" ;; up) ;; *) exit 3 ;; esac ;;
esac
`;

describe("scripts/drift.sh", function () {
    this.timeout(20_000);
    let dir: string;
    let stub: string;
    let pack: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-drift-"));
        stub = path.join(dir, "stub");
        pack = path.join(dir, "policy");
        fs.mkdirSync(path.join(stub, "bin"), { recursive: true });
        fs.mkdirSync(path.join(pack, "node_modules"), { recursive: true });
        fs.writeFileSync(path.join(pack, "analyzer"), "#!/bin/sh\n", { mode: 0o755 });
        fs.writeFileSync(path.join(stub, "bin", "pulumi"), PULUMI, { mode: 0o755 });
        fs.writeFileSync(path.join(stub, "images.json"), JSON.stringify({ sample: REF }));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const drift = (args: string[]) => {
        const result = runScript("drift.sh", args, {
            cwd: dir,
            stub,
            env: { ESTEIRA_POLICY_PACK: pack, GITHUB_ACTIONS: "", GITHUB_OUTPUT: path.join(dir, "output") },
        });
        const calls = fs.existsSync(path.join(stub, "calls")) ? fs.readFileSync(path.join(stub, "calls"), "utf8").trim().split("\n") : [];
        const output = fs.existsSync(path.join(dir, "output")) ? fs.readFileSync(path.join(dir, "output"), "utf8") : "";
        return { code: result.status, log: result.stderr, calls, output };
    };
    const preview = (steps: unknown[]) => fs.writeFileSync(path.join(stub, "preview.json"), JSON.stringify({ steps }));

    it("no change but the stack's own reads is no drift: exit 0, pinned to what runs, previewed with the policy pack and a refresh", () => {
        // A workload run from a plain reference has nothing to pin.
        fs.writeFileSync(path.join(stub, "images.json"), JSON.stringify({ sample: REF, cache: "redis:7" }));
        preview([
            { op: "same", urn: URN },
            { op: "read", urn: "urn:pulumi:dev::esteira::pulumi:pulumi:StackReference::dev-self" },
        ]);
        const { code, log, calls, output } = drift(["dev"]);
        assert.strictEqual(code, 0, log);
        assert.match(log, /no drift/);
        assert.match(output, /drifted=false/);
        assert.ok(calls.includes(`pulumi config set --path esteira:pins.sample ${REF} -s dev`), calls.join("\n"));
        assert.ok(!calls.some((c) => c.includes("esteira:pins.cache")), calls.join("\n"));
        const run = calls.find((c) => c.startsWith("pulumi preview"))!;
        assert.match(run, /--refresh/);
        assert.ok(run.includes(`--policy-pack ${pack}/analyzer`), run);
    });

    it("drift is listed by resource and field, fails the check, and nothing is changed", () => {
        preview([
            { op: "update", urn: URN, detailedDiff: { "spec.replicas": { kind: "update" }, "spec.template.spec.containers[0].env": { kind: "update" } } },
            { op: "create", urn: "urn:pulumi:dev::esteira::esteira:service:WebService$kubernetes:core/v1:Service::sample" },
            // The build a pin replaces goes from the program: the pin's doing, not drift.
            { op: "delete", urn: "urn:pulumi:dev::esteira::esteira:image:Image::sample" },
            { op: "delete", urn: "urn:pulumi:dev::esteira::esteira:image:Image$docker-build:index:Image::sample-image" },
        ]);
        const { code, log, calls, output } = drift(["dev"]);
        assert.strictEqual(code, 1, log);
        assert.match(log, /DRIFT: 2 resource\(s\) differ/);
        assert.match(log, /update kubernetes:apps\/v1:Deployment sample \(spec\.replicas, spec\.template\.spec\.containers\[0\]\.env\)/);
        assert.match(log, /create kubernetes:core\/v1:Service sample/);
        assert.match(output, /drifted=true/);
        assert.match(output, /remediate=false/);
        assert.ok(!calls.some((c) => c.startsWith("pulumi up")), "a check changes nothing");
    });

    it("--remediate runs pulumi up only where the stack file sets drift.remediate", () => {
        preview([{ op: "update", urn: URN }]);
        const reported = drift(["--remediate", "dev"]);
        assert.strictEqual(reported.code, 1, reported.log);
        assert.match(reported.log, /does not set esteira:drift.remediate: reported, not remediated/);
        assert.ok(!reported.calls.some((c) => c.startsWith("pulumi up")));

        fs.writeFileSync(path.join(stub, "drift.json"), JSON.stringify({ remediate: true }));
        const remediated = drift(["--remediate", "dev"]);
        const up = remediated.calls.find((c) => c.startsWith("pulumi up"));
        assert.ok(up, remediated.log);
        assert.match(up!, /--refresh/);
        assert.ok(up!.includes(`--policy-pack ${pack}/analyzer`), up);
    });
});
