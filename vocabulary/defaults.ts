/**
 * The defaults of every key a stack file may set, written once: the components apply them with
 * `??` and the schema (vocabulary/schema.ts) shows them in the reference. They stand here, below
 * the components, so the schema reads them without importing a component. The GitHub and identity
 * defaults, which decide who may deploy, are in access-defaults.ts (owned by the platform team).
 */

/** Defaults every workload kind shares; each component's defaults object includes them. */
export const WORKLOAD_DEFAULTS = {
    runAsUser: 10001,
    // Ephemeral storage: the kubelet caps container logs at 5 × 10 MiB; the rest is room for /tmp.
    resources: {
        requests: { cpuMillicores: 100, memoryMiB: 128, ephemeralStorageMiB: 64 },
        limits: { cpuMillicores: 500, memoryMiB: 256, ephemeralStorageMiB: 512 },
    },
} as const;

/** Defaults of the replica and rollout keys services and workers share; each component's defaults object includes them. */
export const DEPLOYMENT_DEFAULTS = {
    replicas: 1,
    revisionHistoryLimit: 5,
    rolloutTimeoutSeconds: 600,
    autoscaling: { cpuUtilizationPercent: 70 },
} as const;

/** The timings each kind of probe defaults to, for HTTP, command and TCP probes alike. */
export const PROBE_TIMINGS = {
    readiness: { initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
    liveness: { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    // Holds off liveness for up to periodSeconds × failureThreshold (150 s).
    startup: { initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30 },
} as const;

/** Defaults of `WebServiceArgs` (components/web-service.ts), shaped like the stack file's service keys; applied once in the component. */
export const WEB_SERVICE_DEFAULTS = {
    ...WORKLOAD_DEFAULTS,
    ...DEPLOYMENT_DEFAULTS,
    port: 8000,
    service: { type: "ClusterIP", port: 80 },
    // Endpoint removal reaches every node's kube-proxy (or load balancer) a moment after a pod is
    // told to stop; until then it still gets new connections, which must not be refused.
    shutdownDelaySeconds: 5,
    probes: {
        readiness: { path: "/readyz", ...PROBE_TIMINGS.readiness },
        liveness: { path: "/healthz", ...PROBE_TIMINGS.liveness },
        // Its path is the liveness path.
        startup: PROBE_TIMINGS.startup,
    },
    metrics: { path: "/metrics" },
    metricsNamespace: "monitoring",
    migrate: { timeoutSeconds: 600, backoffLimit: 1 },
    seed: { timeoutSeconds: 600, backoffLimit: 1 },
} as const;

/** Defaults of `WorkerArgs` (components/worker.ts), shaped like the stack file's worker keys; applied once in the component. */
export const WORKER_DEFAULTS = {
    ...WORKLOAD_DEFAULTS,
    ...DEPLOYMENT_DEFAULTS,
    probes: PROBE_TIMINGS,
} as const;

/** Defaults of `ScheduledJobArgs` (components/scheduled-job.ts), shaped like the stack file's job keys; applied once in the component. */
export const SCHEDULED_JOB_DEFAULTS = {
    ...WORKLOAD_DEFAULTS,
    // A run still going when the next is due is the usual sign of trouble; two at once rarely help.
    concurrencyPolicy: "Forbid",
    startingDeadlineSeconds: 300,
    timeoutSeconds: 3600,
    backoffLimit: 2,
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 3,
    suspend: false,
} as const;

/**
 * Defaults of `DatabaseBackupsArgs` (components/database-backups.ts), applied once in the component:
 * a production stack's (`esteira:production`) are stricter than any other's.
 */
export const BACKUP_DEFAULTS = {
    production: { schedule: "0 * * * *", retentionDays: 30 },
    other: { schedule: "0 3 * * *", retentionDays: 7 },
    /** The dumps' key prefix in the bucket. */
    prefix: "dumps",
    /** How long a dump may take before its run is stopped (and fails). */
    timeoutSeconds: 3600,
    /** The drill's scratch database: `<database>_restore_drill`. */
    scratchSuffix: "_restore_drill",
} as const;

/** Defaults of `DigitalOceanClusterArgs` (components/cluster.ts), applied once in the component. */
export const CLUSTER_DEFAULTS = {
    ha: false,
    autoUpgrade: false,
    maintenance: { day: "sunday", startTime: "04:00" },
    tokenFromEnvironment: false,
    systemPool: { size: "s-2vcpu-4gb", nodeCount: 1 },
    protect: false,
} as const;

/** Defaults of `DigitalOceanDatabaseArgs` (components/database.ts), applied once in the component. */
export const DATABASE_DEFAULTS = {
    version: "16",
    size: "db-s-1vcpu-1gb",
    nodeCount: 1,
    databaseName: "app",
    user: "app",
    pool: { mode: "transaction" },
    secretName: "db-credentials",
    retainOnDelete: false,
    protect: false,
    /** Where an external database may be: any address (on its URL's port). */
    cidr: "0.0.0.0/0",
} as const;

/** Defaults of `NamespaceDatabaseArgs` (components/namespace-database.ts), applied once in the component. */
export const NAMESPACE_DATABASE_DEFAULTS = {
    databaseName: "app",
    user: "app",
    secretName: "db-credentials",
    /** The Service, Deployment and their pods' name. */
    serverName: "postgres",
    dataMiB: 1024,
    resources: { cpuMillicores: 250, memoryMiB: 256, ephemeralStorageMiB: 256 },
    /** The official image's postgres user (and the local line's image's). */
    uid: 999,
    tmpMiB: 64,
} as const;

/** Defaults of `EnvironmentNamespaceArgs` (components/environment-namespace.ts), applied once in the component. */
export const ENVIRONMENT_NAMESPACE_DEFAULTS = {
    pullSecretName: "registry-credentials",
    adoptNamespace: false,
} as const;

/** Defaults of `ImageArgs` (components/image.ts), applied once in the component. */
export const IMAGE_DEFAULTS = {
    buildOnPreview: false,
    cache: true,
    platforms: ["linux/amd64"] as ("linux/amd64" | "linux/arm64")[],
};

/** Defaults of `MonitoringArgs` (components/monitoring.ts), shaped like the stack file's `esteira:monitoring` keys; applied once in the component. */
export const MONITORING_DEFAULTS = {
    windowMinutes: 10,
    thresholds: { cpuPercent: 80, memoryPercent: 85, diskPercent: 80 },
    uptime: { latencyMs: 2000, sslExpiryDays: 14 },
} as const;

/** Defaults of the watch window after a deploy (`esteira:watch`), applied once, here: the stack exports them as `watch`. */
export const WATCH_DEFAULTS = {
    windowSeconds: 0,
    intervalSeconds: 15,
    maxRestarts: 0,
    errorRate: { metric: "http_requests_total", errorLabel: "status_code", errorPattern: "^5", minRequests: 20 },
} as const;

/** The stack file's `esteira:watch` with every default applied: the `watch` output scripts/watch.sh reads. */
export function watchSettingsOf(
    watch: {
        windowSeconds?: number;
        intervalSeconds?: number;
        maxRestarts?: number;
        errorRate?: { metric?: string; errorLabel?: string; errorPattern?: string; thresholdPercent: number; minRequests?: number };
    } = {},
) {
    const d = WATCH_DEFAULTS;
    return {
        windowSeconds: watch.windowSeconds ?? d.windowSeconds,
        intervalSeconds: watch.intervalSeconds ?? d.intervalSeconds,
        maxRestarts: watch.maxRestarts ?? d.maxRestarts,
        errorRate: watch.errorRate && { ...d.errorRate, ...watch.errorRate },
    };
}
