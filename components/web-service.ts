import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSettings } from "../config/schema";
import { invariant, replicasProblem } from "../config/rules";
import { autoscaler } from "./parts/autoscaler";
import { disruptionBudget } from "./parts/disruption-budget";
import { migrationJob } from "./parts/migration-job";
import { ingressPolicy } from "./parts/network-policy";
import {
    computeResources,
    envVars,
    hardenedContainer,
    hardenedPod,
    httpProbe,
    preStopSleep,
    SecretKeyRef,
    spreadAcrossNodes,
} from "./parts/pod-spec";

/** Defaults of {@link WebServiceArgs}, shaped like the stack file's service keys; applied once in the component. */
export const WEB_SERVICE_DEFAULTS = {
    port: 8000,
    replicas: 1,
    service: { type: "ClusterIP", port: 80 },
    revisionHistoryLimit: 5,
    rolloutTimeoutSeconds: 600,
    // Endpoint removal reaches every node's kube-proxy (or load balancer) a moment after a pod is
    // told to stop; until then it still gets new connections, which must not be refused.
    shutdownDelaySeconds: 5,
    runAsUser: 10001,
    autoscaling: { cpuUtilizationPercent: 70 },
    probes: {
        readiness: { path: "/readyz", initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
        liveness: { path: "/healthz", initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
        // Holds off liveness for up to periodSeconds × failureThreshold (150 s); its path is the liveness path.
        startup: { initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30 },
    },
    // Ephemeral storage: the kubelet caps container logs at 5 × 10 MiB; the rest is room for /tmp.
    resources: {
        requests: { cpuMillicores: 100, memoryMiB: 128, ephemeralStorageMiB: 64 },
        limits: { cpuMillicores: 500, memoryMiB: 256, ephemeralStorageMiB: 512 },
    },
    metrics: { path: "/metrics" },
    metricsNamespace: "monitoring",
    migrate: { timeoutSeconds: 600, backoffLimit: 1 },
} as const;

/**
 * A service's stack-file keys (`esteira:services.<name>`, see config/schema.ts for each one's
 * meaning and default), and what the program wires in: namespace, image, pull secrets, database secret.
 */
export type WebServiceArgs = Omit<ServiceSettings, "image" | "env" | "secretEnv"> & {
    /** Namespace to run in. */
    namespace: pulumi.Input<string>;
    /** Image reference; a digest-pinned `repo@sha256:…` makes pods roll only when the content changes. */
    image: pulumi.Input<string>;
    /** Plain environment variables. Default: none. */
    env?: Record<string, pulumi.Input<string>>;
    /** Environment variables read from Secrets through `secretKeyRef`. Default: none. */
    secretEnv?: Record<string, SecretKeyRef>;
    /** Kubernetes object name of the Deployment, Service, HPA and PDB. Default: the component name. */
    serviceName?: string;
    /** Environment name for the `environment` label. Default: none. */
    environment?: pulumi.Input<string>;
    /** `app.kubernetes.io/part-of` label. Default: none. */
    partOf?: pulumi.Input<string>;
    /** Names of `kubernetes.io/dockerconfigjson` Secrets for pulling the image. Default: none. */
    imagePullSecrets?: pulumi.Input<string>[];
    /** UID/GID the container runs as (the image must not need root). Default: 10001. */
    runAsUser?: number;
    /** Namespace of the Prometheus that may reach the metrics port (when `metrics` is set). Default: `monitoring`. */
    metricsNamespace?: pulumi.Input<string>;
    /**
     * The Secret holding `DATABASE_URL` and `DATABASE_DIRECT_URL`; unless `database` is false, pods
     * read `DATABASE_URL` from it and the migration the direct one. Default: none.
     */
    databaseSecretName?: pulumi.Input<string>;
    /**
     * A checksum of the database Secret's data (never the data): written to the pod templates that
     * read the Secret, so a new URL (another user, the pool turned on or off) rolls the pods and
     * reruns the migration. Default: none.
     */
    databaseSecretChecksum?: pulumi.Input<string>;
};

/**
 * What `pulumi up` waits for once the Service exists. The Kubernetes provider's own wait lasts
 * until the Service has ready endpoints and then 10 s more for them to settle: it waits for the
 * pods, which the Deployment's rollout wait already does (that wait is what fails a bad release
 * and keeps the old pods serving), so for a ClusterIP or NodePort Service it adds nothing but
 * 10 s per service. A LoadBalancer's address is the `endpoint` output, read from its status:
 * `up` waits for that address and nothing else.
 */
export function serviceAwait(type: string): Record<string, string> {
    return type === "LoadBalancer"
        ? { "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}" }
        : { "pulumi.com/skipAwait": "true" };
}

/**
 * One HTTP service: a hardened Deployment with probes, its Service and the NetworkPolicy admitting
 * traffic to its port; a migration Job, a HorizontalPodAutoscaler and a PodDisruptionBudget when
 * its settings call for them.
 */
export class WebService extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    public readonly service: k8s.core.v1.Service;
    /** Present when autoscaling is configured. */
    public readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    /** Present when the service can run more than one replica (fixed, or the autoscaler's maximum). */
    public readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;
    /** Present when a migration is configured; the Deployment waits on it. */
    public readonly migration?: k8s.batch.v1.Job;
    /** What the pods admit: their port, and the metrics port from the scraper's namespace; nothing else, migrations included. */
    public readonly networkPolicy: k8s.networking.v1.NetworkPolicy;
    /** Where the service answers: the load balancer address, or the in-cluster DNS name. */
    public readonly endpoint: pulumi.Output<string>;

    constructor(name: string, args: WebServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:WebService", name, {}, opts);
        invariant(this, name, "replicas", replicasProblem(args.replicas, args.autoscaling));
        // Objects inside a cluster this stack owns go with it: destroying the cluster does not wait on each one.
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };

        const d = WEB_SERVICE_DEFAULTS;
        const serviceName = args.serviceName ?? name;
        const port = args.port ?? d.port;
        const servicePort = args.service?.port ?? d.service.port;
        const serviceType = args.service?.type ?? d.service.type;
        const rolloutTimeout = `${args.rolloutTimeoutSeconds ?? d.rolloutTimeoutSeconds}s`;
        // A service that can run more than one replica is spread across nodes and gets a disruption budget.
        const maxReplicas = args.autoscaling?.maxReplicas ?? args.replicas ?? d.replicas;

        // The selector is immutable, so it holds only labels that never change for this service.
        const selector = { "app.kubernetes.io/name": serviceName, "app.kubernetes.io/instance": serviceName };
        const labels: Record<string, pulumi.Input<string>> = {
            ...selector,
            "app.kubernetes.io/managed-by": "pulumi",
            ...(args.partOf !== undefined ? { "app.kubernetes.io/part-of": args.partOf } : {}),
            ...(args.environment !== undefined ? { environment: args.environment } : {}),
        };
        const metadata = { name: serviceName, namespace: args.namespace, labels };

        const limits = { ...d.resources.limits, ...args.resources?.limits };
        const resources = computeResources(this, name, { ...d.resources.requests, ...args.resources?.requests }, limits);
        // /tmp may take what the container's own ephemeral-storage limit allows, and no more.
        const pod = {
            runAsUser: args.runAsUser ?? d.runAsUser,
            imagePullSecrets: args.imagePullSecrets,
            tmpSizeMiB: limits.ephemeralStorageMiB,
        };
        // Pods connect through the pool; migrations bypass it, since their advisory lock needs a session.
        const readsDatabase = args.databaseSecretName !== undefined && (args.database ?? true);
        const database = (key: string): Record<string, SecretKeyRef> =>
            readsDatabase ? { DATABASE_URL: { secretName: args.databaseSecretName!, key } } : {};
        // Kubernetes never restarts pods for a changed Secret: its checksum in the template does.
        const checksums =
            readsDatabase && args.databaseSecretChecksum !== undefined
                ? { "checksum/database-secret": args.databaseSecretChecksum }
                : undefined;
        const env = args.env ?? {};

        if (args.migrate) {
            const container = {
                name: "migrate",
                image: args.image,
                command: args.migrate.command,
                env: envVars(env, { ...database("DATABASE_URL"), ...args.secretEnv, ...database("DATABASE_DIRECT_URL") }),
                resources,
            };
            this.migration = migrationJob(
                `${name}-migrate`,
                {
                    namespace: args.namespace,
                    labels,
                    workload: serviceName,
                    pod: hardenedPod(pod, { containers: [hardenedContainer(container)] }),
                    annotations: checksums,
                    timeoutSeconds: args.migrate.timeoutSeconds ?? d.migrate.timeoutSeconds,
                    backoffLimit: args.migrate.backoffLimit ?? d.migrate.backoffLimit,
                },
                childOpts,
            );
        }

        const probes = args.probes;
        const container = hardenedContainer({
            name: serviceName,
            image: args.image,
            ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
            env: envVars(env, { ...database("DATABASE_URL"), ...args.secretEnv }),
            readinessProbe: httpProbe(probes?.readiness, d.probes.readiness, port),
            livenessProbe: httpProbe(probes?.liveness, d.probes.liveness, port),
            startupProbe: probes?.startup
                ? httpProbe(probes.startup, { ...d.probes.startup, path: probes.liveness?.path ?? d.probes.liveness.path }, port)
                : undefined,
            resources,
            lifecycle: preStopSleep(args.shutdownDelaySeconds ?? d.shutdownDelaySeconds),
        });
        const metricsPort = args.metrics && (args.metrics.port ?? port);
        const metrics = args.metrics && {
            "prometheus.io/scrape": "true",
            "prometheus.io/path": args.metrics.path ?? d.metrics.path,
            "prometheus.io/port": String(metricsPort),
        };
        const podAnnotations = metrics || checksums ? { ...metrics, ...checksums } : undefined;

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
                        spec: hardenedPod(pod, {
                            containers: [container],
                            affinity: maxReplicas > 1 ? spreadAcrossNodes(selector) : undefined,
                        }),
                    },
                },
            },
            {
                ...childOpts,
                dependsOn: this.migration ? [this.migration] : [],
                // No deleteBeforeReplace on any part: the Kubernetes provider deletes first by itself
                // when a replacement keeps the name and namespace, and otherwise (a new namespace)
                // brings the new objects up before the old ones go, so the service stays up.
                customTimeouts: { create: rolloutTimeout, update: rolloutTimeout },
            },
        );

        this.service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                // The stack file's annotations go last: a team can still ask for another wait.
                metadata: { ...metadata, annotations: { ...serviceAwait(serviceType), ...args.service?.annotations } },
                spec: { type: serviceType, selector, ports: [{ name: "http", port: servicePort, targetPort: "http", protocol: "TCP" }] },
            },
            childOpts,
        );

        // Migration pods carry their own name label, so this selects none of them: nothing reaches a migration.
        this.networkPolicy = ingressPolicy(
            `${name}-network-policy`,
            {
                metadata: { ...metadata, name: `${serviceName}-ingress` },
                selector,
                port,
                public: serviceType !== "ClusterIP",
                metrics:
                    metricsPort === undefined ? undefined : { port: metricsPort, namespace: args.metricsNamespace ?? d.metricsNamespace },
            },
            childOpts,
        );
        if (args.autoscaling) {
            const scaling = args.autoscaling;
            this.autoscaler = autoscaler(
                this,
                `${name}-hpa`,
                {
                    ...scaling,
                    metadata,
                    deploymentName: this.deployment.metadata.name,
                    cpuUtilizationPercent: scaling.cpuUtilizationPercent ?? d.autoscaling.cpuUtilizationPercent,
                },
                childOpts,
            );
        }
        if (maxReplicas > 1) this.disruptionBudget = disruptionBudget(this, `${name}-pdb`, { metadata, selector, maxReplicas }, childOpts);

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
            networkPolicy: this.networkPolicy,
            endpoint: this.endpoint,
        });
    }
}
