/**
 * Day-two operations end to end on the local stack, with the same scripts the workflows run:
 * notifications posted to the stack's webhook (a local HTTP stand-in that records what it
 * received), a notification that fails failing nothing; drift made behind Pulumi's back
 * (`kubectl scale`, `kubectl set env`, a deleted Service) reported, then put back with the plan
 * its check saved; a release that passes its smoke test and starts failing a little later, caught
 * by the watch window's error rate and rolled back through Pulumi, nothing marked verified.
 */
import * as assert from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
    flushTimings,
    kube,
    local,
    LocalStack,
    localStack,
    REPO_ROOT,
    requestLoop,
    serviceUrl,
    sleep,
    timed,
    Webhook,
    WorkDir,
    workDir,
} from "./harness";

const NAMESPACE = "esteira-local";
const SERVICE = "sample";
const KUBECTL = path.join(process.env.ESTEIRA_KUBE_BIN_DIR ?? "", "kubectl");
/** kubectl as an administrator: behind Pulumi's back. */
const admin = (...args: string[]) =>
    execFileSync(KUBECTL, ["--kubeconfig", local.kubeconfigPath, "-n", NAMESPACE, ...args], { encoding: "utf8" });
const COMMIT = "89abcdef0123456789abcdef0123456789abcdef";
/** What the run's link is made of in Actions. */
const RUN = { GITHUB_SERVER_URL: "https://github.example", GITHUB_REPOSITORY: "acme/shop", GITHUB_RUN_ID: "4242" };
const RUN_URL = "https://github.example/acme/shop/actions/runs/4242";

describe("day-two operations on the local stack, end to end", function () {
    this.timeout(30 * 60 * 1000);

    let work: WorkDir;
    let local_: LocalStack;
    const hook = new Webhook();
    const exported = async () => ((await local_.stack.outputs()).images.value as Record<string, string>)[SERVICE];
    /**
     * Runs one of scripts/ in the working copy, as a workflow step would, without blocking the
     * event loop (the webhook stand-in answers meanwhile); traced with E2E_XTRACE=1.
     */
    const script = (name: string, args: string[], env: Record<string, string> = {}) =>
        new Promise<{ code: number | null; output: string }>((resolve) => {
            const child = spawn("bash", [...(process.env.E2E_XTRACE ? ["-x"] : []), path.join(REPO_ROOT, "scripts", name), ...args], {
                cwd: work.dir,
                env: {
                    ...process.env,
                    ...work.env,
                    ...RUN,
                    ESTEIRA_COMMIT: COMMIT,
                    ROLLBACK_STATE_DIR: path.join(work.dir, ".rollback"),
                    ...env,
                },
            });
            let output = "";
            child.stdout.on("data", (d) => (output += d));
            child.stderr.on("data", (d) => (output += d));
            child.on("close", (code) => resolve({ code, output }));
        });

    before(async () => {
        await hook.start();
        work = workDir("operations");
        local_ = await localStack("local", { work });
        await local_.stack.setConfig("esteira:slackWebhookUrl", { value: hook.url, secret: true });
        // Fixed replicas, so that a `kubectl scale` is drift (an autoscaler would own them).
        local_.editConfig((config) => {
            delete config["esteira:services"][SERVICE].autoscaling;
            config["esteira:services"][SERVICE].replicas = 1;
            // A short watch after every deploy here; the watch case below lengthens it.
            config["esteira:watch"] = { windowSeconds: 6, intervalSeconds: 2, errorRate: { thresholdPercent: 10, minRequests: 5 } };
        });
        assert.strictEqual((await timed("up (operations)", () => local_.stack.up({ color: "never" }))).summary.result, "succeeded");
    });

    after(async () => {
        flushTimings();
        await local_?.stack.destroy({ color: "never" }).catch(() => undefined);
        local_?.dispose();
        await hook.close();
    });

    it("a deploy posts to the stack's webhook: stack, result, commit, digests and the run's link, and never prints the URL", async () => {
        const from = hook.received.length;
        const { code, output } = await timed("deploy.sh (notified)", () => script("deploy.sh", ["local"]));
        assert.strictEqual(code, 0, output.slice(-3000));
        const posts = hook.received.slice(from);
        assert.strictEqual(posts.length, 1, `one post: ${JSON.stringify(posts)}`);
        assert.strictEqual(posts[0].path, "/services/T0/B0/e2e-secret-path");
        assert.match(posts[0].body.text, /deploy of local: succeeded \(commit 89abcdef0123\) — smoke test and watch window passed/);
        const blocks = JSON.stringify(posts[0].body.blocks);
        for (const part of [COMMIT, await exported(), RUN_URL]) assert.ok(blocks.includes(part), `the message holds ${part}: ${blocks}`);
        assert.ok(!output.includes("e2e-secret-path"), "the webhook's URL is never printed");
    });

    it("a webhook that fails never fails the deploy, and the deploy says so", async () => {
        hook.status = 500;
        try {
            const { code, output } = await script("deploy.sh", ["local"]);
            assert.strictEqual(code, 0, output.slice(-3000));
            assert.match(
                output,
                /the webhook answered HTTP 500 \(no_service\): the notification was not accepted; the deploy's result stands \(succeeded\)/,
            );
            assert.ok(!output.includes("e2e-secret-path"), "the webhook's URL is never printed");
        } finally {
            hook.status = 200;
        }
    });

    /** Changes behind Pulumi's back: a scale, a variable the stack sets (LOG_LEVEL) set by hand, and (with `service`) a deleted Service. */
    const driftByHand = (service: boolean) => {
        admin("scale", `deployment/${SERVICE}`, "--replicas=2");
        admin("set", "env", `deployment/${SERVICE}`, "LOG_LEVEL=INFO");
        if (service) admin("delete", "service", SERVICE, "--wait=true");
    };
    /** What the stack deploys is back: one replica, its own LOG_LEVEL, its Service. */
    const assertBack = async () => {
        const { core, apps } = kube();
        const live = await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE });
        assert.strictEqual(live.spec?.replicas, 1, "the stack's replicas are back");
        const env = live.spec?.template.spec?.containers[0].env ?? [];
        assert.strictEqual(env.find((e) => e.name === "LOG_LEVEL")?.value, "DEBUG", "the stack's LOG_LEVEL is back");
        await core.readNamespacedService({ name: SERVICE, namespace: NAMESPACE });
        const again = await script("drift.sh", ["local"]);
        assert.strictEqual(again.code, 0, again.output.slice(-3000));
        assert.match(again.output, /no drift/);
    };
    const unpin = () => local_.stack.removeConfig(`esteira:pins.${SERVICE}`, true).catch(() => undefined);

    it("drift behind Pulumi's back is reported: the job fails, each resource is listed, the webhook is told, nothing is changed", async () => {
        const { core, apps } = kube();
        driftByHand(true);
        const from = hook.received.length;
        try {
            const { code, output } = await timed("drift.sh (report)", () => script("drift.sh", ["local"]));
            assert.strictEqual(code, 1, output.slice(-3000));
            assert.match(
                output,
                /DRIFT: 2 resource\(s\) differ/,
                "the Deployment and the Service, nothing else (the pinned build is no drift)",
            );
            assert.match(output, /update kubernetes:apps\/v1:Deployment sample-deployment \([^)]*spec\.replicas/);
            assert.match(output, /create kubernetes:core\/v1:Service sample-service/);
            assert.match(hook.texts(from).join("\n"), /drift of local: drifted/);
            const live = await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE });
            assert.strictEqual(live.spec?.replicas, 2, "a check changes nothing");
            await assert.rejects(core.readNamespacedService({ name: SERVICE, namespace: NAMESPACE }), "the Service is still gone");

            // Not asked for by the stack file: --remediate reports, as the check does.
            const refused = await script("drift.sh", ["--remediate", "local"]);
            assert.strictEqual(refused.code, 1, refused.output.slice(-3000));
            assert.match(refused.output, /does not set esteira:drift.remediate: reported, not remediated/);
        } finally {
            await unpin();
        }
    });

    it("where the stack file asks, --remediate puts it back (dev's way): pulumi up, the smoke test, and no drift left", async () => {
        local_.editConfig((config) => {
            config["esteira:drift"] = { remediate: true };
        });
        const from = hook.received.length;
        try {
            const { code, output } = await timed("drift.sh --remediate", () => script("drift.sh", ["--remediate", "local"]));
            assert.strictEqual(code, 0, output.slice(-3000));
            assert.match(output, /remediated; no drift left/);
            assert.match(hook.texts(from).join("\n"), /drift of local: remediated/);
            await assertBack();
        } finally {
            await unpin();
        }
    });

    it("behind an approval (homolog's and prod's way), remediation applies exactly the plan the check saved", async () => {
        driftByHand(false);
        const plan = path.join(work.dir, ".drift");
        try {
            const checked = await timed("drift.sh --save-plan", () => script("drift.sh", ["--save-plan", plan, "local"]));
            assert.strictEqual(checked.code, 1, checked.output.slice(-3000));
            assert.ok(fs.statSync(path.join(plan, "plan.json")).size > 0, "the plan that would put it back");
            await unpin();
            const { code, output } = await timed("drift.sh --remediate --plan", () =>
                script("drift.sh", ["--remediate", "--plan", path.join(plan, "plan.json"), "local"]),
            );
            assert.strictEqual(code, 0, output.slice(-3000));
            assert.match(output, /remediated; no drift left/);
            await assertBack();
        } finally {
            await unpin();
            local_.editConfig((config) => {
                delete config["esteira:drift"];
            });
        }
    });

    it("a release that passes its smoke test and starts failing later is caught by the watch window, rolled back through Pulumi, and not marked verified", async () => {
        const good = await exported();
        const commit = "fedcba9876543210fedcba9876543210fedcba98";
        // A new image (so that the rollback has another digest to come back from) that serves for 25 s, then answers 500.
        const server = path.join(work.dir, "app", "src", "server.ts");
        const original = fs.readFileSync(server, "utf8");
        fs.writeFileSync(server, `process.env.FAIL_AFTER_SECONDS ??= "25";\n${original}`);
        local_.editConfig((config) => {
            config["esteira:watch"].windowSeconds = 90;
        });
        // Users' traffic, through the Service, all along: what the error-rate counter counts.
        const traffic = requestLoop(`${await serviceUrl(NAMESPACE, SERVICE)}/`, 200);
        const from = hook.received.length;
        try {
            const { code, output } = await timed("deploy.sh (caught by the watch, rolled back)", () =>
                script("deploy.sh", ["--verify", "local"], { ESTEIRA_COMMIT: commit }),
            );
            assert.strictEqual(code, 1, output.slice(-4000));
            assert.match(output, /smoke \w+\] all 1 service\(s\)/, "the smoke test passed first");
            const caught = /\[watch local\] FAILED after (\d+)s of 90s: error rate \d+% \(\d+ of \d+ requests\) is above 10%/.exec(output);
            assert.ok(caught, output.slice(-4000));
            assert.ok(Number(caught[1]) < 90, "within the window");
            assert.match(output, /rolling back through Pulumi to the digests that ran before it; nothing is marked verified/);
            assert.doesNotMatch(output, /\[verify local\]/, "mark-verified.sh never ran");
            const image = (await kube().apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE })).spec!.template.spec!
                .containers[0].image;
            assert.strictEqual(image, good, "the previous release runs again");
            assert.strictEqual(await exported(), good, "and the stack's output says so");
            const tag = spawnSyncCurl(`http://${local.registry}/v2/esteira/${SERVICE}/manifests/verified-local-${commit.slice(0, 12)}`);
            assert.match(tag, /^404$/, `no verified tag for the failed release: ${tag}`);
            // The previous release serves: the same traffic succeeds again.
            const before = traffic.stats.ok;
            await sleep(3000);
            assert.ok(traffic.stats.ok > before, "requests succeed after the rollback");
            const texts = hook.texts(from).join("\n");
            assert.match(texts, /rollback of local: succeeded/);
            assert.match(texts, /deploy of local: failed .*the watch window caught it: error rate/);
        } finally {
            await traffic.stop();
            fs.writeFileSync(server, original);
            await local_.stack.removeConfig(`esteira:pins.${SERVICE}`, true).catch(() => undefined);
            local_.editConfig((config) => {
                config["esteira:watch"].windowSeconds = 6;
            });
        }
    });
});

/** The HTTP status of an authenticated GET to the local registry (the password on curl's stdin, not its command line). */
function spawnSyncCurl(url: string): string {
    const accept =
        "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json";
    return execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-K", "-", "-H", `Accept: ${accept}`, url], {
        encoding: "utf8",
        input: `user = "${local.registryUser}:${local.registryPassword}"\n`,
    }).trim();
}
