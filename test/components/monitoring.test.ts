import * as assert from "assert";
import { Monitoring, MonitoringArgs } from "../../components/monitoring";
import { isSecretInput, Recorder } from "../mocks";

const CHECK = "digitalocean:index/uptimeCheck:UptimeCheck";
const UPTIME_ALERT = "digitalocean:index/uptimeAlert:UptimeAlert";
const MONITOR_ALERT = "digitalocean:index/monitorAlert:MonitorAlert";

async function build(args: Partial<MonitoringArgs> = {}) {
    const recorder = new Recorder();
    await recorder.install("test");
    new Monitoring("prod", { emails: ["oncall@example.com"], ...args });
    await recorder.settle();
    return recorder;
}

describe("Monitoring", () => {
    it("checks each public endpoint and alerts when it is down everywhere, slow, or its certificate expires soon", async () => {
        const recorder = await build({
            endpoints: {
                api: { url: "https://shop.example.com", path: "/readyz", https: true },
                admin: { url: "http://203.0.113.10:80", path: "/healthz", https: false },
            },
        });
        const component = recorder.get("esteira:monitoring:Monitoring", "prod");
        const check = recorder.get(CHECK, "prod-uptime-api");
        assert.deepStrictEqual(check.inputs, { name: "prod api", target: "https://shop.example.com/readyz", type: "https" });
        assert.strictEqual(recorder.parentOf(check)?.urn, component.urn);
        const alerts = (endpoint: string) =>
            recorder
                .all(UPTIME_ALERT)
                .filter((a) => a.name.startsWith(`prod-uptime-${endpoint}-`))
                .map((a) => ({
                    type: a.inputs.type,
                    threshold: a.inputs.threshold,
                    comparison: a.inputs.comparison,
                    period: a.inputs.period,
                }));
        assert.deepStrictEqual(alerts("api"), [
            { type: "down_global", threshold: undefined, comparison: undefined, period: "2m" },
            { type: "latency", threshold: 2000, comparison: "greater_than", period: "5m" },
            { type: "ssl_expiry", threshold: 14, comparison: "less_than", period: "2m" },
        ]);
        assert.strictEqual(recorder.get(UPTIME_ALERT, "prod-uptime-api-down").inputs.checkId, "prod-uptime-api-id");
        assert.deepStrictEqual(recorder.get(UPTIME_ALERT, "prod-uptime-api-down").inputs.notifications, [
            { emails: ["oncall@example.com"] },
        ]);
        assert.strictEqual(recorder.get(CHECK, "prod-uptime-admin").inputs.type, "http");
        assert.deepStrictEqual(
            alerts("admin").map((a) => a.type),
            ["down_global", "latency"],
            "no certificate to expire on plain HTTP",
        );
    });

    it("alerts on the database cluster and on every node of the DOKS cluster (by its tag) above the thresholds", async () => {
        const recorder = await build({
            databaseClusterId: "db-id",
            kubernetesClusterId: "doks-id",
            thresholds: { cpuPercent: 90 },
            windowMinutes: 60,
        });
        const alerts = recorder.all(MONITOR_ALERT).map((a) => [a.name, a.inputs.type, a.inputs.value, a.inputs.entities ?? a.inputs.tags]);
        assert.deepStrictEqual(alerts, [
            ["prod-database-cpu", "v1/dbaas/alerts/cpu_alerts", 90, ["db-id"]],
            ["prod-database-memory", "v1/dbaas/alerts/memory_utilization_alerts", 85, ["db-id"]],
            ["prod-database-disk", "v1/dbaas/alerts/disk_utilization_alerts", 80, ["db-id"]],
            ["prod-nodes-cpu", "v1/insights/droplet/cpu", 90, ["k8s:doks-id"]],
            ["prod-nodes-memory", "v1/insights/droplet/memory_utilization_percent", 85, ["k8s:doks-id"]],
            ["prod-nodes-disk", "v1/insights/droplet/disk_utilization_percent", 80, ["k8s:doks-id"]],
        ]);
        for (const alert of recorder.all(MONITOR_ALERT)) {
            assert.strictEqual(alert.inputs.window, "1h");
            assert.strictEqual(alert.inputs.compare, "GreaterThan");
            assert.strictEqual(alert.inputs.enabled, true);
        }
    });

    it("posts to Slack with the webhook URL kept secret", async () => {
        const recorder = await build({
            emails: undefined,
            slack: { channel: "#alerts", url: "https://hooks.slack.com/services/T/B/x" },
            databaseClusterId: "db",
        });
        const alert = recorder.get(MONITOR_ALERT, "prod-database-cpu");
        assert.deepStrictEqual(alert.inputs.alerts, { slacks: [{ channel: "#alerts", url: "https://hooks.slack.com/services/T/B/x" }] });
        assert.ok(isSecretInput(alert, "alerts.slacks.0.url"), "the webhook URL stays secret");
        assert.strictEqual(alert.inputs.window, "10m");
    });

    it("creates nothing the stack does not own", async () => {
        const recorder = await build();
        assert.deepStrictEqual(
            recorder.resources.filter((r) => r.custom).map((r) => r.type),
            [],
        );
    });
});
