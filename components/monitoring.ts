import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { MonitoringSettings } from "../vocabulary/schema";
import { MONITORING_DEFAULTS } from "../vocabulary/defaults";

/** A public endpoint to check from outside: its address, the path a healthy service answers 2xx on, and whether it is HTTPS. */
export interface CheckedEndpoint {
    url: pulumi.Input<string>;
    path: string;
    https: boolean;
}

/**
 * The stack file's `esteira:monitoring` keys (vocabulary/schema.ts), with the Slack webhook resolved
 * and what the program wires in: the public endpoints, the database cluster and the DOKS cluster.
 */
export type MonitoringArgs = Omit<MonitoringSettings, "slackChannel"> & {
    /** Slack channel and incoming-webhook URL (secret). Default: none. */
    slack?: { channel: string; url: pulumi.Input<string> };
    /** Public endpoints, by service: an uptime check and its alerts each. Default: none. */
    endpoints?: Record<string, CheckedEndpoint>;
    /** The managed database cluster this stack owns: CPU, memory and disk alerts. Default: none. */
    databaseClusterId?: pulumi.Input<string>;
    /** The DOKS cluster this stack owns: CPU, memory and disk alerts on its nodes. Default: none. */
    kubernetesClusterId?: pulumi.Input<string>;
};

/** What each resource alerts on: `v1/insights/droplet/*` for the nodes, `v1/dbaas/alerts/*` for the database. */
const METRICS = {
    cpu: { nodes: "v1/insights/droplet/cpu", database: "v1/dbaas/alerts/cpu_alerts", what: "CPU" },
    memory: {
        nodes: "v1/insights/droplet/memory_utilization_percent",
        database: "v1/dbaas/alerts/memory_utilization_alerts",
        what: "memory",
    },
    disk: { nodes: "v1/insights/droplet/disk_utilization_percent", database: "v1/dbaas/alerts/disk_utilization_alerts", what: "disk" },
} as const;

/**
 * Monitoring as code on DigitalOcean: an uptime check per public endpoint with alerts when it is
 * down, slow or its certificate is about to expire, and alerts when the database cluster or the
 * node pool runs high on CPU, memory or disk, all sent to the stack's emails or Slack channel.
 */
export class Monitoring extends pulumi.ComponentResource {
    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:monitoring:Monitoring", name, {}, opts);
        const d = MONITORING_DEFAULTS;
        const childOpts = { parent: this };
        const slacks = args.slack && [{ channel: args.slack.channel, url: pulumi.secret(args.slack.url) }];
        const notify = { emails: args.emails, slacks };
        const thresholds = { ...d.thresholds, ...args.thresholds };
        const window = `${args.windowMinutes ?? d.windowMinutes}m`.replace(/^60m$/, "1h");

        for (const [endpoint, { url, path, https }] of Object.entries(args.endpoints ?? {})) {
            const target = pulumi.interpolate`${url}${args.uptime?.path ?? path}`;
            const check = new digitalocean.UptimeCheck(
                `${name}-uptime-${endpoint}`,
                { name: `${name} ${endpoint}`, target, type: https ? "https" : "http", regions: args.uptime?.regions },
                childOpts,
            );
            const alert = (kind: string, alertArgs: Omit<digitalocean.UptimeAlertArgs, "checkId" | "notifications" | "name">) =>
                new digitalocean.UptimeAlert(
                    `${name}-uptime-${endpoint}-${kind}`,
                    { checkId: check.id, name: `${name} ${endpoint} ${kind}`, notifications: [notify], ...alertArgs },
                    childOpts,
                );
            // Down from every region at once: an outage, not one region's network.
            alert("down", { type: "down_global", period: "2m" });
            alert("latency", {
                type: "latency",
                threshold: args.uptime?.latencyMs ?? d.uptime.latencyMs,
                comparison: "greater_than",
                period: "5m",
            });
            if (https) {
                alert("certificate", {
                    type: "ssl_expiry",
                    threshold: args.uptime?.sslExpiryDays ?? d.uptime.sslExpiryDays,
                    comparison: "less_than",
                    period: "2m",
                });
            }
        }

        const resourceAlerts = (
            target: "nodes" | "database",
            entity: { entities?: pulumi.Input<string>[]; tags?: pulumi.Input<string>[] },
        ) => {
            for (const [metric, types] of Object.entries(METRICS)) {
                const percent = thresholds[`${metric as keyof typeof METRICS}Percent`];
                new digitalocean.MonitorAlert(
                    `${name}-${target}-${metric}`,
                    {
                        alerts: notify,
                        type: types[target],
                        compare: "GreaterThan",
                        value: percent,
                        window,
                        description: `${name}: ${target === "nodes" ? "a node" : "the database"} above ${percent}% ${types.what}`,
                        enabled: true,
                        ...entity,
                    },
                    childOpts,
                );
            }
        };
        if (args.databaseClusterId !== undefined) resourceAlerts("database", { entities: [args.databaseClusterId] });
        // DOKS tags every node with k8s:<cluster id>, so nodes the autoscaler adds are covered too.
        if (args.kubernetesClusterId !== undefined) {
            resourceAlerts("nodes", { tags: [pulumi.interpolate`k8s:${args.kubernetesClusterId}`] });
        }

        this.registerOutputs({});
    }
}
