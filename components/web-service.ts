import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export type ServiceType = "LoadBalancer" | "ClusterIP" | "NodePort";

/** An HTTP probe. Every field is optional; unset fields take the probe's default. */
export interface HttpProbeArgs {
    path?: string;
    /** Default: the container port. */
    port?: number;
    initialDelaySeconds?: number;
    periodSeconds?: number;
    timeoutSeconds?: number;
    failureThreshold?: number;
}

export interface ComputeArgs {
    cpuMillicores?: number;
    memoryMiB?: number;
}

export interface AutoscalingArgs {
    minReplicas: number;
    maxReplicas: number;
    /** Target average CPU utilisation, in percent of the CPU request. Default: 70. */
    cpuUtilizationPercent?: number;
    /** Target average memory utilisation, in percent of the memory request. Default: none (CPU only). */
    memoryUtilizationPercent?: number;
}

/** A reference to one key of a Kubernetes Secret in the same namespace. */
export interface SecretKeyRefArgs {
    secretName: pulumi.Input<string>;
    key: pulumi.Input<string>;
}

/** A migration Job run with the new image before the Deployment rolls out. */
export interface MigrationArgs {
    /** Command, e.g. `["node", "dist/migrate.js"]`. */
    command: string[];
    /** How long the Job may run before it counts as failed. Default: 600. */
    timeoutSeconds?: number;
    /** Retries before the Job fails. Default: 1. */
    backoffLimit?: number;
    /** Variables from Secrets that replace the service's own for the Job (e.g. an unpooled DATABASE_URL). Default: none. */
    secretEnv?: Record<string, SecretKeyRefArgs>;
}

/** Defaults of {@link WebServiceArgs}, applied once in the component. */
export const WEB_SERVICE_DEFAULTS = {
    containerPort: 8000,
    replicas: 1,
    servicePort: 80,
    serviceType: "ClusterIP" as ServiceType,
    revisionHistoryLimit: 5,
    rolloutTimeoutSeconds: 600,
    runAsUser: 10001,
    cpuUtilizationPercent: 70,
    readiness: { path: "/readyz", initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
    liveness: { path: "/healthz", initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    // A startup probe holds off liveness for up to periodSeconds × failureThreshold (150 s by default).
    startup: { initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30 },
    requests: { cpuMillicores: 100, memoryMiB: 128 },
    limits: { cpuMillicores: 500, memoryMiB: 256 },
    metricsPath: "/metrics",
    migrationTimeoutSeconds: 600,
    migrationBackoffLimit: 1,
} as const;

export interface WebServiceArgs {
    /** Namespace to run in. */
    namespace: pulumi.Input<string>;
    /** Image reference; a digest-pinned `repo@sha256:…` makes pods roll only when the content changes. */
    image: pulumi.Input<string>;
    /** Kubernetes object name of the Deployment, Service, HPA and PDB. Default: the component name. */
    serviceName?: string;
    /** Environment name for the `environment` label. Default: none. */
    environment?: pulumi.Input<string>;
    /** `app.kubernetes.io/part-of` label. Default: none. */
    partOf?: pulumi.Input<string>;
    /** Port the container listens on. Default: 8000. */
    containerPort?: number;
    /** Fixed replica count when autoscaling is off. Default: 1. */
    replicas?: number;
    /** Plain environment variables. Default: none. */
    env?: Record<string, pulumi.Input<string>>;
    /** Environment variables read from Secrets through `secretKeyRef`. Default: none. */
    secretEnv?: Record<string, SecretKeyRefArgs>;
    /** Names of `kubernetes.io/dockerconfigjson` Secrets for pulling the image. Default: none. */
    imagePullSecrets?: pulumi.Input<string>[];
    /** Readiness probe. Default: GET /readyz every 5 s, 3 failures. */
    readinessProbe?: HttpProbeArgs;
    /** Liveness probe. Default: GET /healthz every 10 s, 3 failures. */
    livenessProbe?: HttpProbeArgs;
    /** Startup probe; only created when given. Its default path is the liveness path. */
    startupProbe?: HttpProbeArgs;
    /** Resource requests. Default: 100 millicores, 128 MiB. */
    requests?: ComputeArgs;
    /** Resource limits. Default: 500 millicores, 256 MiB. */
    limits?: ComputeArgs;
    /** Service type. Default: ClusterIP. */
    serviceType?: ServiceType;
    /** Port the Service exposes, forwarded to the container port. Default: 80. */
    servicePort?: number;
    /** Service annotations (e.g. DigitalOcean load balancer settings). Default: none. */
    serviceAnnotations?: Record<string, pulumi.Input<string>>;
    /** HorizontalPodAutoscaler (autoscaling/v2); when set, the Deployment leaves `replicas` to it. Default: off. */
    autoscaling?: AutoscalingArgs;
    /** Prometheus scrape annotations on the pods; only added when given. Default path: /metrics, port: the container port. */
    metrics?: { path?: string; port?: number };
    /** Old ReplicaSets kept for `kubectl rollout undo`. Default: 5. */
    revisionHistoryLimit?: number;
    /** How long `pulumi up` waits for the rollout before failing. Default: 600. */
    rolloutTimeoutSeconds?: number;
    /** UID/GID the container runs as (the image must not need root). Default: 10001. */
    runAsUser?: number;
    /** Run this migration as a Job with the new image before every rollout; only created when given. */
    migration?: MigrationArgs;
}

function toQuantities(compute: Required<ComputeArgs>) {
    return { cpu: `${compute.cpuMillicores}m`, memory: `${compute.memoryMiB}Mi` };
}

function httpProbe(
    probe: HttpProbeArgs | undefined,
    defaults: { path?: string; initialDelaySeconds: number; periodSeconds: number; timeoutSeconds: number; failureThreshold: number },
    containerPort: number,
): k8s.types.input.core.v1.Probe {
    return {
        httpGet: { path: probe?.path ?? defaults.path, port: probe?.port ?? containerPort },
        initialDelaySeconds: probe?.initialDelaySeconds ?? defaults.initialDelaySeconds,
        periodSeconds: probe?.periodSeconds ?? defaults.periodSeconds,
        timeoutSeconds: probe?.timeoutSeconds ?? defaults.timeoutSeconds,
        failureThreshold: probe?.failureThreshold ?? defaults.failureThreshold,
    };
}

/**
 * One HTTP service: a hardened Deployment with probes, its Service, and optionally a
 * HorizontalPodAutoscaler and a PodDisruptionBudget.
 */
export class WebService extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    /** Present when autoscaling is configured. */
    public readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    /** Present when the minimum replica count is above 1. */
    public readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;
    /** Present when a migration is configured; the Deployment waits on it. */
    public readonly migration?: k8s.batch.v1.Job;
    /** Where the service answers: the load balancer address, or the in-cluster DNS name. */
    public readonly endpoint: pulumi.Output<string>;

    constructor(name: string, args: WebServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:WebService", name, {}, opts);
        // Objects inside a cluster this stack owns go with it: destroying the cluster does not wait on each one.
        const deletedWith = opts?.deletedWith;

        const d = WEB_SERVICE_DEFAULTS;
        const serviceName = args.serviceName ?? name;
        const containerPort = args.containerPort ?? d.containerPort;
        const servicePort = args.servicePort ?? d.servicePort;
        const serviceType = args.serviceType ?? d.serviceType;
        const runAsUser = args.runAsUser ?? d.runAsUser;
        const rolloutTimeout = `${args.rolloutTimeoutSeconds ?? d.rolloutTimeoutSeconds}s`;
        const minReplicas = args.autoscaling?.minReplicas ?? args.replicas ?? d.replicas;

        // The selector is immutable, so it holds only labels that never change for this service.
        const selector = { "app.kubernetes.io/name": serviceName, "app.kubernetes.io/instance": serviceName };
        const labels: Record<string, pulumi.Input<string>> = {
            ...selector,
            "app.kubernetes.io/managed-by": "pulumi",
            ...(args.partOf !== undefined ? { "app.kubernetes.io/part-of": args.partOf } : {}),
            ...(args.environment !== undefined ? { environment: args.environment } : {}),
        };
        const metadata = { name: serviceName, namespace: args.namespace, labels };

        const metricsPort = args.metrics?.port ?? containerPort;
        const podAnnotations = args.metrics
            ? {
                  "prometheus.io/scrape": "true",
                  "prometheus.io/path": args.metrics.path ?? d.metricsPath,
                  "prometheus.io/port": String(metricsPort),
              }
            : undefined;

        const toEnv = (
            plain: Record<string, pulumi.Input<string>>,
            secret: Record<string, SecretKeyRefArgs>,
        ): k8s.types.input.core.v1.EnvVar[] => [
            ...Object.entries(plain).map(([envName, value]) => ({ name: envName, value })),
            ...Object.entries(secret).map(([envName, ref]) => ({
                name: envName,
                valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } },
            })),
        ];
        const env = toEnv(args.env ?? {}, args.secretEnv ?? {});
        const resources = {
            requests: toQuantities({ ...d.requests, ...args.requests }),
            limits: toQuantities({ ...d.limits, ...args.limits }),
        };
        const containerSecurityContext = {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ["ALL"] },
        };
        const podSecurity = {
            imagePullSecrets: args.imagePullSecrets?.map((secretName) => ({ name: secretName })),
            automountServiceAccountToken: false,
            securityContext: {
                runAsNonRoot: true,
                runAsUser,
                runAsGroup: runAsUser,
                fsGroup: runAsUser,
                seccompProfile: { type: "RuntimeDefault" },
            },
            // A writable /tmp, since the root filesystem is read-only.
            volumes: [{ name: "tmp", emptyDir: {} }],
        };
        const tmpMount = [{ name: "tmp", mountPath: "/tmp" }];

        if (args.migration) {
            const migration = args.migration;
            const timeoutSeconds = migration.timeoutSeconds ?? d.migrationTimeoutSeconds;
            // Own labels: the Service's selector must never match a migration pod.
            const jobLabels = { ...labels, "app.kubernetes.io/name": `${serviceName}-migrate`, "app.kubernetes.io/component": "migration" };
            this.migration = new k8s.batch.v1.Job(
                `${name}-migrate`,
                {
                    // No fixed name: each new image gets a new Job (its template is immutable), created before the old one goes.
                    metadata: { namespace: args.namespace, labels: jobLabels },
                    spec: {
                        backoffLimit: migration.backoffLimit ?? d.migrationBackoffLimit,
                        activeDeadlineSeconds: timeoutSeconds,
                        template: {
                            metadata: { labels: jobLabels },
                            spec: {
                                ...podSecurity,
                                restartPolicy: "Never",
                                containers: [
                                    {
                                        name: "migrate",
                                        image: args.image,
                                        command: migration.command,
                                        env: toEnv(args.env ?? {}, { ...args.secretEnv, ...migration.secretEnv }),
                                        resources,
                                        securityContext: containerSecurityContext,
                                        volumeMounts: tmpMount,
                                    },
                                ],
                            },
                        },
                    },
                },
                {
                    parent: this,
                    deletedWith,
                    replaceOnChanges: ["spec"],
                    // `pulumi up` waits for the Job; a failed migration fails the update before the Deployment changes.
                    customTimeouts: { create: `${timeoutSeconds}s`, update: `${timeoutSeconds}s` },
                },
            );
        }

        const container: k8s.types.input.core.v1.Container = {
            name: serviceName,
            image: args.image,
            // Digest-pinned or immutable tags make pulling on every start unnecessary and stale `:latest` impossible.
            imagePullPolicy: "IfNotPresent",
            ports: [{ name: "http", containerPort, protocol: "TCP" }],
            env,
            readinessProbe: httpProbe(args.readinessProbe, d.readiness, containerPort),
            livenessProbe: httpProbe(args.livenessProbe, d.liveness, containerPort),
            startupProbe: args.startupProbe
                ? httpProbe(args.startupProbe, { ...d.startup, path: args.livenessProbe?.path ?? d.liveness.path }, containerPort)
                : undefined,
            resources,
            securityContext: containerSecurityContext,
            volumeMounts: tmpMount,
        };

        this.deployment = new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            {
                metadata,
                spec: {
                    // With an HPA the replica count is the autoscaler's: leaving it unset keeps
                    // server-side apply from resetting it on every `pulumi up`.
                    replicas: args.autoscaling ? undefined : (args.replicas ?? d.replicas),
                    revisionHistoryLimit: args.revisionHistoryLimit ?? d.revisionHistoryLimit,
                    selector: { matchLabels: selector },
                    // maxUnavailable 0: a rollout whose new pods never become ready leaves the old ones serving.
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: {
                        metadata: { labels, annotations: podAnnotations },
                        spec: { ...podSecurity, containers: [container] },
                    },
                },
            },
            {
                parent: this,
                deletedWith,
                dependsOn: this.migration ? [this.migration] : [],
                // Fixed object names: a replacement must delete the old object before creating the new one.
                deleteBeforeReplace: true,
                customTimeouts: { create: rolloutTimeout, update: rolloutTimeout },
            },
        );

        this.service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { ...metadata, annotations: args.serviceAnnotations },
                spec: {
                    type: serviceType,
                    selector,
                    ports: [{ name: "http", port: servicePort, targetPort: "http", protocol: "TCP" }],
                },
            },
            { parent: this, deletedWith, deleteBeforeReplace: true },
        );

        if (args.autoscaling) {
            const metrics: k8s.types.input.autoscaling.v2.MetricSpec[] = [
                {
                    type: "Resource",
                    resource: {
                        name: "cpu",
                        target: {
                            type: "Utilization",
                            averageUtilization: args.autoscaling.cpuUtilizationPercent ?? d.cpuUtilizationPercent,
                        },
                    },
                },
            ];
            if (args.autoscaling.memoryUtilizationPercent !== undefined) {
                metrics.push({
                    type: "Resource",
                    resource: {
                        name: "memory",
                        target: { type: "Utilization", averageUtilization: args.autoscaling.memoryUtilizationPercent },
                    },
                });
            }
            this.autoscaler = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
                `${name}-hpa`,
                {
                    metadata,
                    spec: {
                        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.deployment.metadata.name },
                        minReplicas: args.autoscaling.minReplicas,
                        maxReplicas: args.autoscaling.maxReplicas,
                        metrics,
                    },
                },
                { parent: this, deletedWith, deleteBeforeReplace: true },
            );
        }

        if (minReplicas > 1) {
            this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(
                `${name}-pdb`,
                {
                    metadata,
                    spec: {
                        maxUnavailable: 1,
                        selector: { matchLabels: selector },
                        // Pods that never became ready must not block a node drain.
                        unhealthyPodEvictionPolicy: "AlwaysAllow",
                    },
                },
                { parent: this, deletedWith, deleteBeforeReplace: true },
            );
        }

        this.endpoint =
            serviceType === "LoadBalancer"
                ? this.service.status.apply((status) => {
                      const ingress = status?.loadBalancer?.ingress?.[0];
                      const host = ingress?.ip ?? ingress?.hostname;
                      return host ? `http://${host}:${servicePort}` : "";
                  })
                : pulumi.interpolate`http://${this.service.metadata.name}.${this.service.metadata.namespace}.svc.cluster.local:${servicePort}`;

        this.registerOutputs({
            deployment: this.deployment,
            service: this.service,
            autoscaler: this.autoscaler,
            disruptionBudget: this.disruptionBudget,
            migration: this.migration,
            endpoint: this.endpoint,
        });
    }
}
