/**
 * Day-two operations end to end on the local stack, with the same scripts the workflows run:
 * notifications posted to the stack's webhook (a local HTTP stand-in that records what it
 * received), a notification that fails failing nothing.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as http from "http";
import type { AddressInfo } from "net";
import * as path from "path";
import { flushTimings, LocalStack, localStack, REPO_ROOT, timed, workDir, WorkDir } from "./harness";

const SERVICE = "sample";
const COMMIT = "89abcdef0123456789abcdef0123456789abcdef";
/** What the run's link is made of in Actions. */
const RUN = { GITHUB_SERVER_URL: "https://github.example", GITHUB_REPOSITORY: "acme/shop", GITHUB_RUN_ID: "4242" };
const RUN_URL = "https://github.example/acme/shop/actions/runs/4242";

/** Slack's incoming webhook, standing in: records every post, answers `status` (changeable). */
class Webhook {
    readonly received: { path: string; body: any }[] = [];
    status = 200;
    private server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => (body += chunk));
        req.on("end", () => {
            this.received.push({ path: req.url ?? "", body: JSON.parse(body) });
            res.writeHead(this.status, { "content-type": "text/plain" }).end(this.status === 200 ? "ok" : "no_service");
        });
    });
    url = "";
    async start() {
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/T0/B0/e2e-secret-path`;
    }
    close() {
        return new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
    /** The texts received since `from`. */
    texts(from = 0) {
        return this.received.slice(from).map((r) => String(r.body.text));
    }
}

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
        assert.match(posts[0].body.text, /deploy of local: succeeded \(commit 89abcdef0123\) — smoke test passed/);
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
});
