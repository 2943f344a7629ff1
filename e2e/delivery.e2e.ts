/**
 * Delivery you can trust, end to end on the local stack with real pods and the same scripts the
 * workflows run: the stack's own cluster identity (a ServiceAccount limited to its namespaces) and
 * the tenant issuer it hands to the review zone; the smoke test; a bad release rolled back
 * through Pulumi (deploy.sh → rollback.sh), after which state, outputs and cluster agree; an
 * emergency `kubectl rollout undo` taken back by the next deploy without a field conflict; and
 * promotion of a verified digest through the registry's own API; the release scripts (the verified
 * digests of a commit, the preview that saves the update plan prod applies, recovery's preview).
 */
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    changes,
    FINISH_SETUP_TIMEOUT_MS,
    finishSetup,
    flushTimings,
    kube,
    local,
    localStack,
    LocalStack,
    openStack,
    REPO_ROOT,
    timed,
    WorkDir,
    workDir,
} from "./harness";

const NAMESPACE = "esteira-local";
const SERVICE = "sample";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const KUBECTL = path.join(process.env.ESTEIRA_KUBE_BIN_DIR ?? "", "kubectl");

describe("delivery on the local stack, end to end", function () {
    this.timeout(20 * 60 * 1000);

    let work: WorkDir;
    let local_: LocalStack;
    const { apps } = kube();
    const image = async () =>
        (await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE })).spec!.template.spec!.containers[0].image!;
    const exported = async () => ((await local_.stack.outputs()).images.value as Record<string, string>)[SERVICE];
    /** Runs one of scripts/ in the working copy, as a workflow step would (traced with E2E_XTRACE=1). */
    const script = (name: string, args: string[], env: Record<string, string> = {}) => {
        const result = spawnSync("bash", [...(process.env.E2E_XTRACE ? ["-x"] : []), path.join(REPO_ROOT, "scripts", name), ...args], {
            cwd: work.dir,
            env: { ...process.env, ...work.env, ESTEIRA_COMMIT: COMMIT, ROLLBACK_STATE_DIR: path.join(work.dir, ".rollback"), ...env },
            encoding: "utf8",
        });
        return { code: result.status, output: `${result.stdout}${result.stderr}` };
    };
    /** A kubeconfig output of the stack, in a private file. */
    const kubeconfigFile = async (output: string) => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "esteira-kc-")), "kubeconfig");
        fs.writeFileSync(file, (await local_.stack.outputs())[output].value as string, { mode: 0o600 });
        return file;
    };
    const canI = (kubeconfig: string, ...args: string[]) =>
        spawnSync(KUBECTL, ["--kubeconfig", kubeconfig, "auth", "can-i", ...args], { encoding: "utf8" }).stdout.trim();

    // cosign and syft (the evidence and the SBOM the release preview checks) build in the background while the suites before this one run.
    before(function () {
        this.timeout(FINISH_SETUP_TIMEOUT_MS);
        finishSetup();
    });

    before(async () => {
        work = workDir("delivery");
        local_ = await localStack("local", { work });
        assert.strictEqual((await timed("up (delivery)", () => local_.stack.up({ color: "never" }))).summary.result, "succeeded");
    });

    after(async () => {
        flushTimings();
        await local_?.stack.destroy({ color: "never" }).catch(() => undefined);
        const promo = await openStack("promo", work).catch(() => undefined);
        await promo?.stack.destroy({ color: "never" }).catch(() => undefined);
        local_?.dispose();
    });

    it("the stack's own identity may do what the smoke test needs in its namespace, and nothing more", async () => {
        const own = await kubeconfigFile("kubeconfig");
        for (const allowed of [
            ["get", "deployments"],
            ["list", "pods"],
            ["watch", "services"],
            // `can-i VERB pods/log` asks about a pod named "log": subresources go in --subresource.
            ["get", "pods", "--subresource=log"],
            ["create", "pods", "--subresource=portforward"],
        ]) {
            assert.strictEqual(canI(own, ...allowed, "-n", NAMESPACE), "yes", `may ${allowed.join(" ")}`);
        }
        for (const refused of [
            ["get", "secrets", "-n", NAMESPACE],
            ["patch", "deployments", "-n", NAMESPACE],
            ["delete", "pods", "-n", NAMESPACE],
            ["get", "pods", "-n", "kube-system"],
            ["create", "namespaces"],
        ]) {
            assert.strictEqual(canI(own, ...refused), "no", `may not ${refused.join(" ")}`);
        }
    });

    it("the tenant issuer it hands to the review zone makes pull requests' namespaces and identities, and deploys nothing itself", async () => {
        // The authorizer's answer; admission (components/tenant-policy.ts) narrows it further to
        // esteira-pr-<n> namespaces, which e2e/ephemeral.e2e.ts proves with real denials.
        const tenant = await kubeconfigFile("tenantKubeconfig");
        for (const allowed of [
            ["create", "namespaces"],
            ["create", "serviceaccounts", "-n", "esteira-pr-1"],
            ["create", "serviceaccounts/token", "-n", "esteira-pr-1"],
            ["create", "rolebindings", "-n", "esteira-pr-1"],
        ]) {
            assert.strictEqual(canI(tenant, ...allowed), "yes", `may ${allowed.join(" ")}`);
        }
        for (const refused of [
            ["create", "deployments", "-n", "esteira-pr-1"],
            ["get", "secrets", "-n", "esteira-pr-1"],
            ["create", "roles", "-n", "esteira-pr-1"],
            ["create", "clusterroles"],
            ["create", "clusterrolebindings"],
            ["get", "nodes"],
            ["create", "pods", "--subresource=exec", "-n", "esteira-pr-1"],
        ]) {
            assert.strictEqual(canI(tenant, ...refused), "no", `may not ${refused.join(" ")}`);
        }
    });

    it("the smoke test passes on a good release, with the stack's own identity", () => {
        const { code, output } = script("smoke-test.sh", ["local"]);
        assert.strictEqual(code, 0, output.slice(-3000));
        assert.match(output, /healthy/);
    });

    it("a bad release fails deploy.sh, which rolls back through Pulumi: state, outputs and cluster agree", async () => {
        const good = await exported();
        // A release whose server exits at start: its pods never become ready.
        const server = path.join(work.dir, "app", "src", "server.ts");
        const original = fs.readFileSync(server, "utf8");
        fs.writeFileSync(server, `process.exit(3);\n${original}`);
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].rolloutTimeoutSeconds = 40;
        });
        try {
            const { code, output } = await timed("deploy.sh (bad release, rolled back)", async () => script("deploy.sh", ["local"]));
            assert.strictEqual(code, 1, output.slice(-3000));
            assert.match(output, /rolling back through Pulumi/);
            assert.doesNotMatch(output, /conflict/i, "no server-side-apply field conflict");
            assert.strictEqual(await image(), good, "the cluster runs the recorded digest again");
            assert.strictEqual(await exported(), good, "and the stack's output says so");
            const preview = await local_.stack.preview({ color: "never" });
            assert.deepStrictEqual(changes(preview.changeSummary), [], "nothing is left to change: state and cluster agree");
        } finally {
            fs.writeFileSync(server, original);
            await local_.stack.removeConfig(`esteira:pins.${SERVICE}`, true).catch(() => undefined);
            local_.editConfig((config) => {
                delete config["esteira:services"][SERVICE].rolloutTimeoutSeconds;
            });
        }
        const next = await timed("up (after the rollback)", () => local_.stack.up({ color: "never" }));
        assert.strictEqual(next.summary.result, "succeeded", "the next up converges");
    });

    it("an emergency kubectl rollout undo is taken back by the next deploy, with no field conflict", async () => {
        for (const release of ["1", "2"]) {
            local_.editConfig((config) => {
                config["esteira:services"][SERVICE].env.RELEASE = release;
            });
            await local_.stack.up({ color: "never" });
        }
        execFileSync(KUBECTL, ["--kubeconfig", local.kubeconfigPath, "-n", NAMESPACE, "rollout", "undo", `deployment/${SERVICE}`]);
        execFileSync(KUBECTL, [
            "--kubeconfig",
            local.kubeconfigPath,
            "-n",
            NAMESPACE,
            "rollout",
            "status",
            `deployment/${SERVICE}`,
            "--timeout=120s",
        ]);
        const release = async () =>
            (await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE })).spec!.template.spec!.containers[0].env!.find(
                (e) => e.name === "RELEASE",
            )?.value;
        assert.strictEqual(await release(), "1", "kubectl put the previous revision back");

        const converged = script("converge.sh", ["local"]);
        assert.strictEqual(converged.code, 0, converged.output.slice(-2000));
        const preview = await local_.stack.preview({ color: "never" });
        assert.deepStrictEqual(changes(preview.changeSummary), [["update", 1]], "the drift shows as one update");
        const up = await timed("up (after rollout undo)", () => local_.stack.up({ color: "never" }));
        assert.strictEqual(up.summary.result, "succeeded");
        assert.strictEqual(await release(), "2", "Pulumi's desired state is back");
        const live = await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE });
        assert.strictEqual(live.metadata?.annotations?.["pulumi.com/patchForce"], "true");
    });

    it("promotion takes the verified digest of a commit from the registry, and refuses a commit never verified", async () => {
        const marked = script("mark-verified.sh", ["local"]);
        assert.strictEqual(marked.code, 0, marked.output.slice(-2000));
        const digestRef = await exported();
        // A second stack of the same program promoting what local verified.
        const file = fs.readFileSync(path.join(work.dir, "Pulumi.local.yaml"), "utf8");
        fs.writeFileSync(path.join(work.dir, "Pulumi.promo.yaml"), file);
        const promo = await openStack("promo", work);
        await promo.stack.setConfig("esteira:registryToken", { value: local.registryPassword, secret: true });
        await promo.stack.setConfig("esteira:databaseUrl", {
            value: (await local_.stack.getConfig("esteira:databaseUrl")).value,
            secret: true,
        });
        promo.editConfig((config) => {
            config["esteira:namespace"] = "esteira-promo";
            delete config["esteira:tenants"];
            const sample = config["esteira:services"][SERVICE];
            sample.image = { verifiedIn: "local" };
            delete sample.migrate;
            delete sample.seed;
        });
        process.env.ESTEIRA_COMMIT = COMMIT;
        try {
            await timed("up (promoted)", () => promo.stack.up({ color: "never" }));
            const promoted = (await apps.readNamespacedDeployment({ name: SERVICE, namespace: "esteira-promo" })).spec!.template.spec!
                .containers[0].image;
            assert.strictEqual(promoted, digestRef, "exactly the bytes local verified");
            process.env.ESTEIRA_COMMIT = "f".repeat(40);
            await assert.rejects(promo.stack.preview({ color: "never", refresh: false }), (err: Error) => {
                assert.match(err.message, /no image verified in local for commit ffffffffffff/);
                assert.ok(!err.message.includes(local.registryPassword), "no credential is shown");
                return true;
            });
        } finally {
            delete process.env.ESTEIRA_COMMIT;
            await promo.stack.destroy({ color: "never" });
            await promo.stack.workspace.removeStack("promo");
        }
    });

    it("releases.sh shows what runs: the digest, the commit its verified tag names, the stage that verified it, the last update", async () => {
        // The promotion test above tagged what local runs verified-local-<commit>; deploy.sh and
        // rollback.sh wrote the commit into their updates' messages.
        const digestRef = await exported();
        const shown = await timed("releases.sh show", async () => script("releases.sh", ["show", "--json", "local"]));
        assert.strictEqual(shown.code, 0, shown.output.slice(-2000));
        // stdout (jq's JSON, its last line a lone "]") comes before the scripts' logs.
        const [view] = JSON.parse(shown.output.slice(0, shown.output.indexOf("\n]") + 2));
        assert.strictEqual(view.stack, "local");
        assert.strictEqual(view.services[SERVICE].image, digestRef);
        assert.strictEqual(view.services[SERVICE].commit, COMMIT, "the commit whose verified tag is on the digest");
        assert.ok(view.services[SERVICE].verifiedIn.includes("local"), JSON.stringify(view.services));
        assert.ok(!Number.isNaN(Date.parse(view.updated.at)), `the last update's time: ${view.updated.at}`);
        assert.ok(!shown.output.includes(local.registryPassword), "no credential is shown");
    });

    it("verified-images.sh prints the digest local verified for the commit, and names the tag of a commit never verified", async () => {
        // The promotion test above tagged what local runs verified-local-<commit>.
        const digestRef = await exported();
        const found = script("verified-images.sh", ["local", "local", COMMIT]);
        assert.strictEqual(found.code, 0, found.output.slice(-2000));
        assert.deepStrictEqual(JSON.parse(found.output.split("\n")[0]), { [SERVICE]: digestRef });
        const missing = script("verified-images.sh", ["local", "local", "f".repeat(40)]);
        assert.strictEqual(missing.code, 1, missing.output.slice(-2000));
        assert.match(missing.output, /no image verified in local for commit ffffffffffff: \S+:verified-local-ffffffffffff/);
        assert.ok(!missing.output.includes(local.registryPassword), "no credential is shown");
    });

    it("release-preview.sh saves the plan and digests its approvers see, and deploy.sh --plan applies exactly that plan", async () => {
        const digestRef = await exported();
        const out = path.join(work.dir, ".release");
        // The evidence release-preview.sh refuses to promote without (scripts/promotion-evidence.sh):
        // the build's provenance and the sample image's SBOM (dev's key), and the verifying stage's
        // signature (a key of its own).
        const verifiers: Record<string, string> = {};
        for (const [identity, steps, variable] of [
            [
                "dev",
                [
                    ["provenance", digestRef, COMMIT],
                    ["sbom", digestRef],
                ],
                "EVIDENCE_PROVENANCE_PUBLIC_KEY",
            ],
            ["local", [["sign", "local", digestRef, COMMIT]], "EVIDENCE_VERIFIED_PUBLIC_KEY"],
        ] as const) {
            const keys = fs.mkdtempSync(path.join(os.tmpdir(), `esteira-e2e-${identity}-key-`));
            execFileSync("cosign", ["generate-key-pair"], {
                cwd: keys,
                env: { ...process.env, COSIGN_PASSWORD: identity },
                stdio: "ignore",
            });
            const signing = { EVIDENCE_SIGNING_KEY: fs.readFileSync(path.join(keys, "cosign.key"), "utf8"), COSIGN_PASSWORD: identity };
            for (const args of steps) {
                const made = await timed(`promotion-evidence.sh ${args[0]}`, async () =>
                    script("promotion-evidence.sh", [...args], signing),
                );
                assert.strictEqual(made.code, 0, made.output.slice(-2000));
            }
            verifiers[variable] = fs.readFileSync(path.join(keys, "cosign.pub"), "utf8");
            fs.rmSync(keys, { recursive: true, force: true });
        }
        // grype cannot run here (its vulnerability database cannot be fetched): a stand-in reads the
        // SBOM release-preview.sh hands it and reports one Critical finding in the first npm package
        // that SBOM lists, so the finding can only come from the sample image's attested SBOM.
        const stand = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-e2e-grype-"));
        const grype = path.join(stand, "grype");
        fs.writeFileSync(
            grype,
            `#!/usr/bin/env bash
set -euo pipefail
[[ "$1" == sbom:* && "$2 $3 $4" == "--output json --file" ]] || { echo "grype stand-in: unexpected arguments: $*" >&2; exit 2; }
name="$(jq -r '[.packages[] | select(any(.externalRefs[]?; .referenceLocator | startswith("pkg:npm/"))) | .name][0] // empty' "\${1#sbom:}")"
[[ -n "$name" ]] || { echo "grype stand-in: the SBOM lists no npm package" >&2; exit 2; }
jq -n --arg name "$name" '{matches: [{vulnerability: {id: "CVE-2026-99999", severity: "Critical"}, relatedVulnerabilities: [], artifact: {name: $name, version: "0"}}]}' >"$5"
`,
            { mode: 0o755 },
        );
        const gated = { RELEASE: "v0.0.1", ESTEIRA_GRYPE: grype, ...verifiers };
        try {
            const gate = script("release-preview.sh", ["local", "local", out], gated);
            assert.strictEqual(gate.code, 1, gate.output.slice(-3000));
            assert.match(gate.output, /REFUSED: CVE-2026-99999 in \S+@0: Critical, and not on the allow-list/);
            assert.match(
                gate.output,
                /FAILED: no promotion for sample: an SBOM is missing or a Critical vulnerability is not on the allow-list/,
            );
            assert.ok(!fs.existsSync(path.join(out, "plan.json")), "nothing is previewed for approval");
            local_.editConfig((config) => {
                config["esteira:vulnerabilityAllowList"] = [
                    { id: "CVE-2026-99999", reason: "the end-to-end suite's stand-in finding", expires: "2099-12-31" },
                ];
            });
            const preview = await timed("release-preview.sh (plan)", async () =>
                script("release-preview.sh", ["local", "local", out], gated),
            );
            assert.match(preview.output, /allowed: CVE-2026-99999 in \S+@0: on the allow-list until 2099-12-31/);
            assert.strictEqual(preview.code, 0, preview.output.slice(-3000));
            assert.match(preview.output, /Release v0.0.1 to local/);
            assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, "images.json"), "utf8")), { [SERVICE]: digestRef });
            assert.ok(fs.statSync(path.join(out, "plan.json")).size > 0, "an update plan");
            const jobSummary = path.join(out, "summary.md");
            const applied = await timed("deploy.sh --plan", async () =>
                script("deploy.sh", ["--plan", path.join(out, "plan.json"), "local"], { GITHUB_STEP_SUMMARY: jobSummary }),
            );
            assert.strictEqual(applied.code, 0, applied.output.slice(-3000));
            assert.match(
                fs.readFileSync(jobSummary, "utf8"),
                /### What runs in local[\s\S]*\| sample \| `sha256:/,
                "the deploy's summary says what runs",
            );
            assert.strictEqual(await image(), digestRef, "the cluster runs the previewed digest");
            // A change after the preview is not in the plan: the update refuses it.
            local_.editConfig((config) => {
                config["esteira:services"][SERVICE].env.RELEASE = "not-previewed";
            });
            const refused = script("deploy.sh", ["--plan", path.join(out, "plan.json"), "local"]);
            assert.strictEqual(refused.code, 1, refused.output.slice(-3000));
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
            fs.rmSync(stand, { recursive: true, force: true });
            await local_.stack.removeConfig(`esteira:pins.${SERVICE}`, true).catch(() => undefined);
            local_.editConfig((config) => {
                delete config["esteira:services"][SERVICE].env.RELEASE;
                delete config["esteira:vulnerabilityAllowList"];
            });
        }
        assert.strictEqual((await local_.stack.up({ color: "never" })).summary.result, "succeeded", "the next up converges");
    });

    it("recover.sh --preview shows what a refresh would do and changes nothing; recover.sh refresh reads the stack back", async () => {
        const before = (await local_.stack.history()).length;
        const preview = script("recover.sh", ["--preview", "local", "refresh"]);
        assert.strictEqual(preview.code, 0, preview.output.slice(-2000));
        assert.match(preview.output, /refresh of local: what it would do/);
        assert.match(preview.output, /previewed refresh; nothing changed/);
        assert.strictEqual((await local_.stack.history()).length, before, "a preview records no update");
        const refreshed = script("recover.sh", ["local", "refresh"]);
        assert.strictEqual(refreshed.code, 0, refreshed.output.slice(-2000));
        assert.match(refreshed.output, /refresh done/);
        const unknown = script("recover.sh", ["--preview", "local", "import-pending-creates"]);
        assert.strictEqual(unknown.code, 1);
        assert.match(unknown.output, /PENDING_CREATES is empty/);
    });
});
