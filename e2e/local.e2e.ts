/**
 * End to end on this machine: the real Pulumi engine, language host and providers run the program
 * against the `local` stack — a kwok cluster, Debian's dockerd building the sample image, an
 * authenticated registry and PostgreSQL, all on 127.0.0.1 (scripts/setup-local.sh).
 *
 * The program runs from a working copy in a temporary directory (scripts/local-workdir.sh), so the
 * stack's encryption salt and secrets never touch the repository's Pulumi.local.yaml; the state
 * lives in a file backend in that directory too. Step timings are written to $ESTEIRA_E2E_TIMINGS (see
 * bench/e2e-timings.ts), never asserted.
 */
import * as k8s from "@kubernetes/client-node";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

const REPO_ROOT = path.resolve(__dirname, "..");
const STACK = "local";
const NAMESPACE = "esteira-local";

function requireEnv(name: string): string {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the e2e suite with \`npm run test:e2e\` (it sources scripts/env.sh)`);
    return value;
}

const kubeconfigPath = requireEnv("ESTEIRA_KUBECONFIG");
const registry = requireEnv("ESTEIRA_REGISTRY");
const registryUser = requireEnv("ESTEIRA_REGISTRY_USER");
const registryPassword = fs.readFileSync(requireEnv("ESTEIRA_REGISTRY_PASSWORD_FILE"), "utf8").trim();
const databaseUrl = `postgresql://${requireEnv("ESTEIRA_PG_USER")}:${encodeURIComponent(
    fs.readFileSync(requireEnv("ESTEIRA_PG_PASSWORD_FILE"), "utf8").trim(),
)}@${requireEnv("ESTEIRA_PG_HOST")}:${requireEnv("ESTEIRA_PG_PORT")}/${requireEnv("ESTEIRA_PG_DB")}`;

const timings: Record<string, number> = {};
async function timed<T>(step: string, run: () => Promise<T>): Promise<T> {
    const start = Date.now();
    try {
        return await run();
    } finally {
        timings[step] = (Date.now() - start) / 1000;
    }
}

describe("local stack, end to end", function () {
    // Builds an image and waits for rollouts; each step has its own bound inside Pulumi too.
    this.timeout(20 * 60 * 1000);

    let workDir: string;
    let stackFile: string;
    let stack: Stack;
    let core: k8s.CoreV1Api;
    let apps: k8s.AppsV1Api;
    let autoscaling: k8s.AutoscalingV2Api;
    let batch: k8s.BatchV1Api;

    const editStackConfig = (edit: (config: Record<string, any>) => void) => {
        const file = parseYaml(fs.readFileSync(stackFile, "utf8"));
        edit(file.config);
        fs.writeFileSync(stackFile, stringifyYaml(file));
    };

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-e2e-"));
        execFileSync("bash", [path.join(REPO_ROOT, "scripts", "local-workdir.sh"), workDir], { stdio: "inherit" });
        stackFile = path.join(workDir, `Pulumi.${STACK}.yaml`);
        // The cluster's kubeconfig is wherever this machine's local cluster wrote it.
        editStackConfig((config) => {
            config["esteira:cluster"].kubeconfigPath = kubeconfigPath;
        });
        const backend = path.join(workDir, ".state");
        fs.mkdirSync(backend);
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: STACK, workDir },
            {
                envVars: {
                    PULUMI_BACKEND_URL: `file://${backend}`,
                    PULUMI_CONFIG_PASSPHRASE: "esteira-e2e",
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                },
            },
        );
        await stack.setConfig("esteira:registryToken", { value: registryPassword, secret: true });
        await stack.setConfig("esteira:databaseUrl", { value: databaseUrl, secret: true });

        const kc = new k8s.KubeConfig();
        kc.loadFromFile(kubeconfigPath);
        core = kc.makeApiClient(k8s.CoreV1Api);
        apps = kc.makeApiClient(k8s.AppsV1Api);
        autoscaling = kc.makeApiClient(k8s.AutoscalingV2Api);
        batch = kc.makeApiClient(k8s.BatchV1Api);
    });

    after(async () => {
        const file = process.env.ESTEIRA_E2E_TIMINGS;
        if (file) fs.writeFileSync(file, JSON.stringify(timings, null, 2));
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("pulumi up creates the environment, rolled out on the digest-pinned image it pushed", async () => {
        const result = await timed("up (first)", () => stack.up({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");

        const namespace = await core.readNamespace({ name: NAMESPACE });
        assert.strictEqual(namespace.metadata?.labels?.environment, STACK);

        const pullSecret = await core.readNamespacedSecret({ name: "registry-credentials", namespace: NAMESPACE });
        assert.strictEqual(pullSecret.type, "kubernetes.io/dockerconfigjson");
        const auths = JSON.parse(Buffer.from(pullSecret.data![".dockerconfigjson"], "base64").toString()).auths;
        assert.strictEqual(auths[registry].username, registryUser);

        const dbSecret = await core.readNamespacedSecret({ name: "db-credentials", namespace: NAMESPACE });
        assert.strictEqual(Buffer.from(dbSecret.data!.DATABASE_URL, "base64").toString(), databaseUrl);

        const deployment = await apps.readNamespacedDeployment({ name: "sample", namespace: NAMESPACE });
        const available = deployment.status?.conditions?.find((c) => c.type === "Available");
        assert.strictEqual(available?.status, "True", "the Deployment is Available");

        const image = deployment.spec!.template.spec!.containers[0].image!;
        const images = result.outputs.images.value as Record<string, string>;
        assert.strictEqual(image, images.sample, "the Deployment runs the image the stack exports");
        assert.match(image, new RegExp(`^${registry.replace(/\./g, "\\.")}/esteira/sample@sha256:[0-9a-f]{64}$`));

        // The registry itself serves that digest (what a node would pull).
        const digest = image.split("@")[1];
        const manifest = await fetch(`http://${registry}/v2/esteira/sample/manifests/${digest}`, {
            method: "HEAD",
            headers: {
                Authorization: `Basic ${Buffer.from(`${registryUser}:${registryPassword}`).toString("base64")}`,
                Accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json",
            },
        });
        assert.strictEqual(manifest.status, 200, `the registry serves ${digest}`);

        const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: "sample", namespace: NAMESPACE });
        assert.strictEqual(hpa.spec?.maxReplicas, 3);
        const service = await core.readNamespacedService({ name: "sample", namespace: NAMESPACE });
        assert.strictEqual(service.spec?.type, "ClusterIP");

        // The migration ran as a Job with the same image, and completed before the Deployment rolled.
        const jobs = await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: "app.kubernetes.io/component=migration" });
        assert.strictEqual(jobs.items.length, 1);
        assert.strictEqual(jobs.items[0].status?.succeeded, 1, "the migration Job completed");
        assert.strictEqual(jobs.items[0].spec?.template.spec?.containers[0].image, image);
    });

    it("a second preview reports no changes, and a second up changes nothing", async () => {
        const preview = await timed("preview (no-op)", () => stack.preview({ color: "never", diff: true }));
        const changes = Object.entries(preview.changeSummary).filter(([op, count]) => op !== "same" && (count ?? 0) > 0);
        assert.deepStrictEqual(changes, [], "no perpetual diff, no rebuild");

        const up = await timed("up (no-op)", () => stack.up({ color: "never" }));
        const upChanges = Object.entries(up.summary.resourceChanges ?? {}).filter(([op, count]) => op !== "same" && (count ?? 0) > 0);
        assert.deepStrictEqual(upChanges, [], "a second up changes nothing");
    });

    it("a config change produces exactly the expected update", async () => {
        editStackConfig((config) => {
            config["esteira:services"].sample.autoscaling.maxReplicas = 4;
        });
        const preview = await timed("preview (config change)", () => stack.preview({ color: "never" }));
        const changes = Object.entries(preview.changeSummary).filter(([op, count]) => op !== "same" && (count ?? 0) > 0);
        assert.deepStrictEqual(changes, [["update", 1]], "only the autoscaler is updated");

        await timed("up (config change)", () => stack.up({ color: "never" }));
        const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: "sample", namespace: NAMESPACE });
        assert.strictEqual(hpa.spec?.maxReplicas, 4);
    });

    it("bad config fails before any resource is touched, with the validation message", async () => {
        const before = await apps.readNamespacedDeployment({ name: "sample", namespace: NAMESPACE });
        editStackConfig((config) => {
            config["esteira:services"].sample.autoscaling = { minReplicas: 5, maxReplicas: 3 };
        });
        await assert.rejects(
            timed("up (bad config)", () => stack.up({ color: "never" })),
            (err: Error) => {
                assert.ok(
                    err.message.includes("local: services.sample.autoscaling: minReplicas (5) must be <= maxReplicas (3)"),
                    `the error names the key and values: ${err.message.slice(-2000)}`,
                );
                return true;
            },
        );
        const after = await apps.readNamespacedDeployment({ name: "sample", namespace: NAMESPACE });
        assert.strictEqual(after.metadata?.resourceVersion, before.metadata?.resourceVersion, "the Deployment was not touched");
        editStackConfig((config) => {
            config["esteira:services"].sample.autoscaling = { minReplicas: 1, maxReplicas: 4 };
        });
    });

    it("pulumi destroy leaves nothing in the namespace and no namespace; the stack can be removed", async () => {
        const result = await timed("destroy", () => stack.destroy({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");
        // Namespace deletion finishes asynchronously in the API server.
        const deadline = Date.now() + 120_000;
        let gone = false;
        while (!gone && Date.now() < deadline) {
            try {
                await core.readNamespace({ name: NAMESPACE });
                await new Promise((resolve) => setTimeout(resolve, 1000));
            } catch (err) {
                gone = (err as { code?: number }).code === 404;
                if (!gone) throw err;
            }
        }
        assert.ok(gone, `namespace ${NAMESPACE} is gone`);
        await timed("stack rm", () => stack.workspace.removeStack(STACK));
        const stacks = await stack.workspace.listStacks();
        assert.ok(!stacks.some((s) => s.name === STACK), "the stack is removed");
    });
});
