/**
 * scripts/watch.sh against stand-ins for `pulumi` and `kubectl` that answer from files, and a
 * local HTTP server standing in for a pod's metrics endpoint: each signal of the watch window
 * (restarts, readiness lost, a failing Job, the error rate) ends it with its reason, and a quiet
 * window passes. The real cluster's side is e2e/operations.e2e.ts's.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../mocks";

const PULUMI = `#!/usr/bin/env bash
case "$1 $2 $3" in
  "stack output watch") cat "$STUB/watch.json" ;;
  "stack output namespace") echo shop-dev ;;
  "stack output endpoints") echo '{"sample":"http://sample.shop-dev.svc.cluster.local"}' ;;
  "stack output workloadNamespaces") echo '{"sample":"shop-dev"}' ;;
  *) exit 1 ;;
esac
`;

/** kubectl: the pod list of look N is $STUB/pods.N.json (the last one repeats), jobs from $STUB/jobs.json, a port-forward to $METRICS_PORT. */
const KUBECTL = `#!/usr/bin/env bash
args="$*"
case "$args" in
  *"get pods -l app.kubernetes.io/name -o json"*)
    n=$(cat "$STUB/looks" 2>/dev/null || echo 0); echo $((n + 1)) >"$STUB/looks"
    file="$STUB/pods.$n.json"; [[ -f "$file" ]] || file="$(ls "$STUB"/pods.*.json | sort -V | tail -n1)"; cat "$file" ;;
  *"get pods -l app.kubernetes.io/name=sample"*) cat "$(ls "$STUB"/pods.*.json | sort -V | tail -n1)" ;;
  *"get jobs"*) cat "$STUB/jobs.json" ;;
  *port-forward*) echo "Forwarding from 127.0.0.1:$METRICS_PORT -> 8000"; exec sleep 30 ;;
  *) echo "unexpected: kubectl $args" >&2; exit 3 ;;
esac
`;

const pod = (name: string, ready: boolean, restarts: number) => ({
    metadata: {
        name,
        ownerReferences: [{ kind: "ReplicaSet" }],
        annotations: { "prometheus.io/port": "8000", "prometheus.io/path": "/metrics" },
    },
    status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }], containerStatuses: [{ restartCount: restarts }] },
});

describe("scripts/watch.sh", function () {
    this.timeout(30_000);
    let dir: string;
    let stub: string;
    /** What the metrics stand-in serves on its next answers: [requests, errors], the last repeating. */
    let counts: [number, number][];
    let server: http.Server;
    let port: number;

    beforeEach(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-watch-"));
        stub = path.join(dir, "stub");
        fs.mkdirSync(path.join(stub, "bin"), { recursive: true });
        fs.writeFileSync(path.join(stub, "bin", "pulumi"), PULUMI, { mode: 0o755 });
        fs.writeFileSync(path.join(stub, "bin", "kubectl"), KUBECTL, { mode: 0o755 });
        fs.writeFileSync(path.join(stub, "jobs.json"), JSON.stringify({ items: [] }));
        counts = [[0, 0]];
        server = http.createServer((_req, res) => {
            const [requests, errors] = counts.length > 1 ? counts.shift()! : counts[0];
            res.end(
                [
                    "# TYPE http_requests_total counter",
                    `http_requests_total{method="GET",route="/",status_code="200"} ${requests - errors}`,
                    `http_requests_total{method="GET",route="/",status_code="500"} ${errors}`,
                    `http_request_duration_seconds_count{method="GET",route="/",status_code="500"} ${errors}`,
                ].join("\n") + "\n",
            );
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        port = (server.address() as AddressInfo).port;
    });
    afterEach(async () => {
        await new Promise((resolve) => server.close(resolve));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    const settings = (watch: Record<string, unknown>) =>
        fs.writeFileSync(path.join(stub, "watch.json"), JSON.stringify({ windowSeconds: 3, intervalSeconds: 1, maxRestarts: 0, errorRate: null, ...watch }));
    const looks = (...pods: ReturnType<typeof pod>[][]) =>
        pods.forEach((items, n) => fs.writeFileSync(path.join(stub, `pods.${n}.json`), JSON.stringify({ items })));
    const watch = (env: Record<string, string> = {}) =>
        new Promise<{ code: number | null; stdout: string; log: string }>((resolve) => {
            const child = spawn("bash", [path.join(REPO_ROOT, "scripts", "watch.sh"), "dev"], {
                cwd: dir,
                env: { ...process.env, STUB: stub, METRICS_PORT: String(port), PATH: `${path.join(stub, "bin")}:${process.env.PATH}`, ...env },
            });
            let stdout = "";
            let log = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (log += d));
            child.on("close", (code) => resolve({ code, stdout, log }));
        });

    it("a quiet window passes", async () => {
        settings({});
        looks([pod("sample-1", true, 2)]);
        const { code, log } = await watch();
        assert.strictEqual(code, 0, log);
        assert.match(log, /the window passed: 3s without a failing signal/);
    });

    it("a restart during the window fails it (restarts before it are the rollout's)", async () => {
        settings({});
        looks([pod("sample-1", true, 2)], [pod("sample-1", true, 3)]);
        const { code, stdout, log } = await watch();
        assert.strictEqual(code, 1, log);
        assert.strictEqual(stdout.trim(), "1 container restart(s) since the watch began (the stack tolerates 0)");
    });

    it("a pod that was ready and is no longer fails it", async () => {
        settings({});
        looks([pod("sample-1", true, 0)], [pod("sample-1", false, 0)]);
        const { code, stdout, log } = await watch();
        assert.strictEqual(code, 1, log);
        assert.strictEqual(stdout.trim(), "readiness lost: pod shop-dev/sample-1 was ready and is not");
    });

    it("a Job that failed since the deploy began fails it; one that failed before does not", async () => {
        settings({});
        looks([pod("sample-1", true, 0)]);
        const job = (name: string, at: string) => ({
            metadata: { name },
            status: { conditions: [{ type: "Failed", status: "True", lastTransitionTime: at }] },
        });
        fs.writeFileSync(
            path.join(stub, "jobs.json"),
            JSON.stringify({ items: [job("nightly-old", "2020-01-01T00:00:00Z"), job("nightly-29000000", new Date().toISOString().replace(/\.\d+Z$/, "Z"))] }),
        );
        // The deploy began a minute ago (deploy.sh sets WATCH_SINCE before its `pulumi up`).
        const { code, stdout, log } = await watch({ WATCH_SINCE: String(Math.floor(Date.now() / 1000) - 60) });
        assert.strictEqual(code, 1, log);
        assert.strictEqual(stdout.trim(), "Job(s) failed: shop-dev/nightly-29000000");
    });

    it("the error rate since the watch began, above the threshold once enough requests were counted, fails it", async () => {
        settings({
            windowSeconds: 6,
            errorRate: { metric: "http_requests_total", errorLabel: "status_code", errorPattern: "^5", thresholdPercent: 10, minRequests: 5 },
        });
        looks([pod("sample-1", true, 0)]);
        // 100 requests served before the watch; then 3 more (too few to judge); then 20 more, 6 of them errors.
        counts = [
            [100, 0],
            [103, 1],
            [123, 6],
        ];
        const { code, stdout, log } = await watch();
        assert.strictEqual(code, 1, log);
        assert.match(log, /error rate: 1 of 3 request\(s\) since the watch began/);
        assert.strictEqual(stdout.trim(), "error rate 26% (6 of 23 requests) is above 10%");
    });

    it("a window of 0 watches nothing", async () => {
        settings({ windowSeconds: 0 });
        const { code, log } = await watch();
        assert.strictEqual(code, 0, log);
        assert.match(log, /no watch window/);
    });
});
