import * as digitalocean from "@pulumi/digitalocean";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSettings } from "../vocabulary/schema";
import { invariant } from "../vocabulary/rules";
import { rollingDeployment } from "./parts/deployment";
import { migrationJob } from "./parts/migration-job";
import { ingressPolicy } from "./parts/network-policy";
import { OWNED_BY_PULUMI } from "./parts/ownership";
import { httpProbe, preStopSleep } from "./parts/pod-spec";
import { HTTPS_PORT, loadBalancerCertificate, loadBalancerRecord, TLS_WAIVER_ANNOTATION, tlsAnnotations } from "./parts/tls";
import { WorkloadArgs, WorkloadParts, workloadParts } from "./parts/workload";
import { WEB_SERVICE_DEFAULTS } from "../vocabulary/defaults";

/**
 * A service's stack-file keys (`esteira:services.<name>`, see vocabulary/schema.ts for each one's
 * meaning and default), and what the program wires in: namespace, image, pull secrets, database secret.
 */
export type WebServiceArgs = Omit<ServiceSettings, keyof WorkloadArgs> &
    WorkloadArgs & {
        /** Kubernetes object name of the Deployment, Service, HPA and PDB. Default: the component name. */
        serviceName?: string;
        /** Namespace of the Prometheus that may reach the metrics port (when `metrics` is set). Default: `monitoring`. */
        metricsNamespace?: pulumi.Input<string>;
        /** The environment's other namespaces, whose pods may reach this service. Default: none, only its own namespace. */
        peerNamespaces?: pulumi.Input<string>[];
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
 * traffic to its port; migration and seed Jobs, a HorizontalPodAutoscaler and a
 * PodDisruptionBudget when its settings call for them, and HTTPS at its load balancer when asked.
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
    /** Present when a seed is configured; it runs after the migration, and the Deployment waits on it. */
    public readonly seed?: k8s.batch.v1.Job;
    /** What the pods admit: their port, and the metrics port from the scraper's namespace; nothing else, release Jobs included. */
    public readonly networkPolicy: k8s.networking.v1.NetworkPolicy;
    /** With `service.tls`: the certificate the load balancer terminates HTTPS with. */
    public readonly certificate?: digitalocean.Certificate;
    /** With `service.tls`: the DNS record pointing the hostname at the load balancer. */
    public readonly dnsRecord?: digitalocean.DnsRecord;
    /** Where the service answers: `https://<hostname>`, the load balancer address, or the in-cluster DNS name. */
    public readonly endpoint: pulumi.Output<string>;

    constructor(name: string, args: WebServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:WebService", name, {}, opts);
        const tls = args.service?.tls;
        invariant(
            this,
            name,
            "service.tls",
            tls && (args.service?.type ?? WEB_SERVICE_DEFAULTS.service.type) !== "LoadBalancer"
                ? `TLS is terminated at a DigitalOcean load balancer, so it needs service.type LoadBalancer; received ${args.service?.type ?? WEB_SERVICE_DEFAULTS.service.type}`
                : undefined,
        );
        // Objects inside a cluster this stack owns go with it: destroying the cluster does not wait on each one.
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };

        const d = WEB_SERVICE_DEFAULTS;
        const serviceName = args.serviceName ?? name;
        const port = args.port ?? d.port;
        const servicePort = args.service?.port ?? d.service.port;
        const serviceType = args.service?.type ?? d.service.type;
        const parts = workloadParts(this, name, serviceName, args, childOpts);
        const { selector, metadata } = parts;

        // Release steps run in order on the new image, each with the direct database URL, before the Deployment changes.
        this.migration = releaseStep(name, serviceName, args, parts, "migrate", [], childOpts);
        // The seed runs on the migrated schema.
        this.seed = releaseStep(name, serviceName, args, parts, "seed", this.migration ? [this.migration] : [], childOpts);

        const metricsPort = args.metrics && (args.metrics.port ?? port);
        const container = serviceContainer(serviceName, args, parts, port, metricsPort);
        const metrics = args.metrics && {
            "prometheus.io/scrape": "true",
            "prometheus.io/path": args.metrics.path ?? d.metrics.path,
            "prometheus.io/port": String(metricsPort),
        };
        const podAnnotations = metrics || parts.podAnnotations ? { ...metrics, ...parts.podAnnotations } : undefined;

        const rollout = rollingDeployment(
            this,
            name,
            {
                metadata,
                selector,
                podAnnotations,
                pod: parts.pod({ containers: [container] }),
                settings: args,
                dependsOn: [this.migration, this.seed].filter((job) => job !== undefined),
            },
            childOpts,
        );
        this.deployment = rollout.deployment;
        this.autoscaler = rollout.autoscaler;
        this.disruptionBudget = rollout.disruptionBudget;

        // DigitalOcean objects outside the cluster: never deleted with it.
        const cloudOpts = { parent: this };
        this.certificate = tls && loadBalancerCertificate(name, tls, cloudOpts);
        this.service = kubernetesService(name, args, parts, serviceType, servicePort, this.certificate, childOpts);

        // Release pods carry their own name label, so this selects none of them: nothing reaches a migration or a seed.
        this.networkPolicy = ingressPolicy(
            `${name}-network-policy`,
            {
                metadata: { ...metadata, name: `${serviceName}-ingress` },
                selector,
                port,
                public: serviceType !== "ClusterIP",
                peerNamespaces: args.peerNamespaces,
                metrics:
                    metricsPort === undefined ? undefined : { port: metricsPort, namespace: args.metricsNamespace ?? d.metricsNamespace },
            },
            childOpts,
        );

        ({ dnsRecord: this.dnsRecord, endpoint: this.endpoint } = endpointOf(name, args, this.service, servicePort, cloudOpts));

        this.registerOutputs({
            deployment: this.deployment,
            service: this.service,
            autoscaler: this.autoscaler,
            disruptionBudget: this.disruptionBudget,
            migration: this.migration,
            seed: this.seed,
            networkPolicy: this.networkPolicy,
            certificate: this.certificate,
            dnsRecord: this.dnsRecord,
            endpoint: this.endpoint,
        });
    }
}

/** A release step (migration or seed) as a Job `${name}-<step>` on the service's image, with the direct database URL. */
function releaseStep(
    name: string,
    serviceName: string,
    args: WebServiceArgs,
    parts: WorkloadParts,
    step: "migrate" | "seed",
    dependsOn: pulumi.Resource[],
    childOpts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job | undefined {
    const settings = args[step];
    if (!settings) return undefined;
    const d = WEB_SERVICE_DEFAULTS;
    return migrationJob(
        `${name}-${step}`,
        {
            namespace: args.namespace,
            labels: parts.labels,
            workload: serviceName,
            step,
            pod: parts.pod({
                containers: [parts.container({ name: step, command: settings.command, env: parts.env("DATABASE_DIRECT_URL") })],
            }),
            // The Secrets' checksums: a changed value reruns the step, as it rolls the pods.
            annotations: parts.podAnnotations,
            timeoutSeconds: settings.timeoutSeconds ?? d[step].timeoutSeconds,
            backoffLimit: settings.backoffLimit ?? d[step].backoffLimit,
        },
        { ...childOpts, dependsOn },
    );
}

/** The service's container: its HTTP port (and metrics port), its probes, and the pause before it stops. */
function serviceContainer(
    serviceName: string,
    args: WebServiceArgs,
    parts: WorkloadParts,
    port: number,
    metricsPort: number | undefined,
): k8s.types.input.core.v1.Container {
    const d = WEB_SERVICE_DEFAULTS;
    const probes = args.probes;
    return parts.container({
        name: serviceName,
        command: args.command,
        args: args.args,
        ports: [
            { name: "http", containerPort: port, protocol: "TCP" },
            // A metrics port of its own is declared, and never exposed by the Service.
            ...(metricsPort !== undefined && metricsPort !== port
                ? [{ name: "metrics", containerPort: metricsPort, protocol: "TCP" }]
                : []),
        ],
        env: parts.env("DATABASE_URL"),
        readinessProbe: httpProbe(probes?.readiness, d.probes.readiness, port),
        livenessProbe: httpProbe(probes?.liveness, d.probes.liveness, port),
        startupProbe: probes?.startup
            ? httpProbe(probes.startup, { ...d.probes.startup, path: probes.liveness?.path ?? d.probes.liveness.path }, port)
            : undefined,
        lifecycle: preStopSleep(args.shutdownDelaySeconds ?? d.shutdownDelaySeconds),
    });
}

/** The Service `${name}-service` in front of the pods' HTTP port, and HTTPS at the load balancer with a certificate. */
function kubernetesService(
    name: string,
    args: WebServiceArgs,
    { metadata, selector }: WorkloadParts,
    serviceType: string,
    servicePort: number,
    certificate: digitalocean.Certificate | undefined,
    childOpts: pulumi.CustomResourceOptions,
): k8s.core.v1.Service {
    const annotations = {
        // Before the stack file's annotations: a team can still ask for another wait.
        ...serviceAwait(serviceType),
        ...args.service?.annotations,
        // Owned entirely: the next `up` takes back whatever a `kubectl edit` changed.
        ...OWNED_BY_PULUMI,
        ...(certificate ? tlsAnnotations(certificate.name) : {}),
        ...(args.service?.tlsWaiver !== undefined ? { [TLS_WAIVER_ANNOTATION]: args.service.tlsWaiver } : {}),
    };
    const http = { name: "http", port: servicePort, targetPort: "http", protocol: "TCP" };
    return new k8s.core.v1.Service(
        `${name}-service`,
        {
            metadata: { ...metadata, annotations },
            spec: {
                type: serviceType,
                selector,
                // HTTPS ends at the load balancer, which forwards it to the pods' HTTP port.
                ports: args.service?.tls ? [http, { name: "https", port: HTTPS_PORT, targetPort: "http", protocol: "TCP" }] : [http],
            },
        },
        childOpts,
    );
}

/** Where the service answers, and with `service.tls` the DNS record that makes its hostname the load balancer's. */
function endpointOf(
    name: string,
    args: WebServiceArgs,
    service: k8s.core.v1.Service,
    servicePort: number,
    cloudOpts: pulumi.CustomResourceOptions,
): { dnsRecord?: digitalocean.DnsRecord; endpoint: pulumi.Output<string> } {
    const tls = args.service?.tls;
    const address = service.status.apply((status) => {
        const ingress = status?.loadBalancer?.ingress?.[0];
        return ingress?.ip ?? ingress?.hostname;
    });
    if (tls) {
        const dnsRecord = loadBalancerRecord(
            name,
            tls,
            address.apply((ip) => ip ?? ""),
            cloudOpts,
        );
        // Known once the name resolves to the load balancer.
        return { dnsRecord, endpoint: pulumi.interpolate`https://${dnsRecord.fqdn}` };
    }
    const serviceType = args.service?.type ?? WEB_SERVICE_DEFAULTS.service.type;
    return {
        endpoint:
            serviceType === "LoadBalancer"
                ? address.apply((host) => (host ? `http://${host}:${servicePort}` : ""))
                : pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${servicePort}`,
    };
}
