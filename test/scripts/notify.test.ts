/**
 * scripts/notify.sh against a stand-in for `pulumi` that answers from files and a local HTTP
 * server standing in for Slack's incoming webhook, which records what it received: the message's
 * content, the URL never printed, and a webhook that fails or is missing never failing the caller.
 * The real engine's side is e2e/operations.e2e.ts's.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../mocks";

const DIGEST = `registry.example/esteira/sample@sha256:${"a".repeat(64)}`;
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** `pulumi` as notify.sh calls it (`config get <key> -s <stack>`): config from $STUB/config/<stack>/<key> (absent: unset), the images output from $STUB/images.json. */
const PULUMI = `#!/usr/bin/env bash
case "$1 $2" in
  "config get") [[ -f "$STUB/config/$5/$3" ]] && cat "$STUB/config/$5/$3" || { echo "error: configuration key '$3' not found" >&2; exit 1; } ;;
  "stack output") cat "$STUB/images.json" ;;
  *) echo "unexpected: pulumi $*" >&2; exit 3 ;;
esac
`;

interface Received {
    path: string;
    body: any;
}

/** A webhook stand-in: answers `status` and records each request. */
async function webhook(status: number): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
    const received: Received[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => (body += chunk));
        req.on("end", () => {
            received.push({ path: req.url ?? "", body: JSON.parse(body) });
            res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "invalid_token");
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/services/T0/B0/s3cr3t-path`, received, close: () => new Promise((r) => server.close(() => r())) };
}

describe("scripts/notify.sh", function () {
    this.timeout(30_000);
    let dir: string;
    let stub: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-notify-"));
        stub = path.join(dir, "stub");
        fs.mkdirSync(path.join(stub, "bin"), { recursive: true });
        fs.mkdirSync(path.join(stub, "config"));
        fs.writeFileSync(path.join(stub, "bin", "pulumi"), PULUMI, { mode: 0o755 });
        fs.writeFileSync(path.join(stub, "images.json"), JSON.stringify({ sample: DIGEST }));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs notify.sh without blocking the event loop, so the stand-in can answer. */
    const notify = (args: string[], env: Record<string, string> = {}) =>
        new Promise<{ code: number | null; output: string }>((resolve) => {
            const child = spawn("bash", [path.join(REPO_ROOT, "scripts", "notify.sh"), ...args], {
                cwd: dir,
                env: {
                    ...process.env,
                    STUB: stub,
                    PATH: `${path.join(stub, "bin")}:${process.env.PATH}`,
                    ESTEIRA_COMMIT: COMMIT,
                    GITHUB_ACTIONS: "",
                    GITHUB_SERVER_URL: "https://github.example",
                    GITHUB_REPOSITORY: "acme/shop",
                    GITHUB_RUN_ID: "4242",
                    ...env,
                },
            });
            let output = "";
            child.stdout.on("data", (d) => (output += d));
            child.stderr.on("data", (d) => (output += d));
            child.on("close", (code) => resolve({ code, output }));
        });
    const setConfig = (stack: string, key: string, value: string) => {
        fs.mkdirSync(path.join(stub, "config", stack), { recursive: true });
        fs.writeFileSync(path.join(stub, "config", stack, key), value);
    };
    const setWebhook = (stack: string, url: string) => setConfig(stack, "esteira:slackWebhookUrl", url);

    it("posts the stack, event, result, commit, digests, message and the run's link in Slack's format, and never prints the URL", async () => {
        const hook = await webhook(200);
        try {
            setWebhook("dev", hook.url);
            const { code, output } = await notify(["dev", "deploy", "succeeded", "smoke test and watch window passed"]);
            assert.strictEqual(code, 0, output);
            assert.strictEqual(hook.received.length, 1);
            const [{ path: at, body }] = hook.received;
            assert.strictEqual(at, "/services/T0/B0/s3cr3t-path");
            assert.match(body.text, /deploy of dev: succeeded \(commit 0123456789ab\) — smoke test and watch window passed/);
            const blocks = JSON.stringify(body.blocks);
            for (const part of [COMMIT, DIGEST, "https://github.example/acme/shop/actions/runs/4242", "*succeeded*"]) {
                assert.ok(blocks.includes(part), `the message holds ${part}: ${blocks}`);
            }
            assert.match(output, /posted: deploy succeeded/);
            assert.ok(!output.includes("s3cr3t-path"), `the URL is never printed: ${output}`);
        } finally {
            await hook.close();
        }
    });

    it("a webhook that refuses the post fails nothing, and says the result stands", async () => {
        const hook = await webhook(403);
        try {
            setWebhook("prod", hook.url);
            const { code, output } = await notify(["prod", "rollback", "failed"]);
            assert.strictEqual(code, 0, output);
            assert.match(output, /the webhook answered HTTP 403 \(invalid_token\): the notification was not accepted; the rollback's result stands \(failed\)/);
            assert.ok(!output.includes("s3cr3t-path"), output);
        } finally {
            await hook.close();
        }
    });

    it("a webhook that cannot be reached fails nothing either", async () => {
        const hook = await webhook(200);
        await hook.close();
        setWebhook("dev", hook.url);
        const { code, output } = await notify(["dev", "drift", "drifted"], { NOTIFY_TIMEOUT_SECONDS: "3" });
        assert.strictEqual(code, 0, output);
        assert.match(output, /the notification was not sent \(curl: \(7\)[^)]*\): the drift's result stands \(drifted\)/);
        assert.ok(!output.includes("s3cr3t-path"), output);
    });

    it("a stack with no webhook is told nothing, and one with the old key is told to move it", async () => {
        const none = await notify(["dev", "deploy", "succeeded"]);
        assert.strictEqual(none.code, 0, none.output);
        assert.match(none.output, /stack dev sets no esteira:slackWebhookUrl: nothing sent \(deploy succeeded\)/);
        setConfig("dev", "esteira:alertSlackWebhookUrl", "https://hooks.example/old");
        const old = await notify(["dev", "deploy", "succeeded"]);
        assert.strictEqual(old.code, 0, old.output);
        assert.match(old.output, /sets the old key esteira:alertSlackWebhookUrl, renamed esteira:slackWebhookUrl: nothing sent/);
    });

    it("--webhook-of posts a stack's event with another stack's webhook, and NOTIFY_IMAGES names the digests", async () => {
        const hook = await webhook(200);
        try {
            setWebhook("review", hook.url);
            const unsent = await notify(["pr-7", "expired", "destroyed"]);
            assert.match(unsent.output, /stack pr-7 sets no esteira:slackWebhookUrl/);
            const other = `registry.example/esteira/pr@sha256:${"b".repeat(64)}`;
            const { code, output } = await notify(["--webhook-of", "review", "pr-7", "expired", "destroyed"], {
                NOTIFY_IMAGES: JSON.stringify({ sample: other }),
            });
            assert.strictEqual(code, 0, output);
            assert.match(hook.received[0].body.text, /expired of pr-7: destroyed/);
            assert.ok(JSON.stringify(hook.received[0].body.blocks).includes(other));
        } finally {
            await hook.close();
        }
    });

    it("a usage error is still one", async () => {
        const { code } = await notify(["dev"]);
        assert.strictEqual(code, 2);
    });
});
