import * as digitalocean from "@pulumi/digitalocean";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as os from "os";
import * as path from "path";
import type * as YAML from "yaml";
import type { ClusterSettings } from "../vocabulary/schema";
import { invariant, rangeProblem } from "../vocabulary/rules";
import type { NamespaceMetadata } from "./environment-namespace";
import { CLUSTER_DEFAULTS } from "../vocabulary/defaults";

type Mode<M extends ClusterSettings["mode"]> = Extract<ClusterSettings, { mode: M }>;

/**
 * A DigitalOcean Kubernetes (DOKS) cluster in its own VPC, created by this stack: the stack file's
 * `esteira:cluster` keys (vocabulary/schema.ts), plus the API token and `protect`.
 */
export type DigitalOceanClusterArgs = Mode<"digitalocean"> & {
    /**
     * DigitalOcean API token (secret); the provider's kubeconfig authenticates with it, so it never
     * expires. Required unless `tokenFromEnvironment`, where the kubeconfig reads it at run time instead.
     */
    apiToken?: pulumi.Input<string>;
    /** `protect` the cluster against deletion. Default: false. */
    protect?: boolean;
};

/** An existing cluster reached through a kubeconfig (kind, minikube, or any other cluster). */
export type KubeconfigClusterArgs = Mode<"kubeconfig"> & {
    /** Kubeconfig contents (secret), used when `kubeconfigPath` is not set. Default: the ambient kubeconfig. */
    kubeconfig?: pulumi.Input<string>;
};

export type ClusterArgs = DigitalOceanClusterArgs | KubeconfigClusterArgs;

/** The environment variable a `tokenFromEnvironment` cluster's kubeconfig reads the DigitalOcean token from (the provider's own). */
export const TOKEN_VARIABLE = "DIGITALOCEAN_TOKEN";

function expandHome(file: string): string {
    return file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
}

/**
 * A kubeconfig that authenticates with the DigitalOcean API token. The one DOKS hands out
 * (`kubeConfigs[0].rawConfig`) carries a token that expires after 7 days, after which `up`,
 * `refresh` and `destroy` fail.
 */
export function tokenKubeconfig(args: {
    clusterName: pulumi.Input<string>;
    endpoint: pulumi.Input<string>;
    caCertificate: pulumi.Input<string>;
    apiToken: pulumi.Input<string>;
}): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all([args.clusterName, args.endpoint, args.caCertificate, args.apiToken]).apply(([name, endpoint, ca, token]) =>
            JSON.stringify({
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name, cluster: { server: endpoint, "certificate-authority-data": ca } }],
                users: [{ name: `${name}-token`, user: { token } }],
                contexts: [{ name, context: { cluster: name, user: `${name}-token` } }],
                "current-context": name,
            }),
        ),
    );
}

/**
 * A kubeconfig that holds no credential: an exec plugin prints the DigitalOcean token from the
 * deploying job's environment ({@link TOKEN_VARIABLE}) when a client needs it, so neither the
 * stack's config nor its state (the provider's inputs are stored there) ever holds the token.
 */
export function environmentTokenKubeconfig(args: {
    clusterName: pulumi.Input<string>;
    endpoint: pulumi.Input<string>;
    caCertificate: pulumi.Input<string>;
}): pulumi.Output<string> {
    const script =
        `test -n "$${TOKEN_VARIABLE}" || { echo "${TOKEN_VARIABLE} is not set: this cluster's kubeconfig (cluster.tokenFromEnvironment) reads the DigitalOcean token from it" >&2; exit 1; }; ` +
        `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$${TOKEN_VARIABLE}"`;
    return pulumi.all([args.clusterName, args.endpoint, args.caCertificate]).apply(([name, endpoint, ca]) =>
        JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name, cluster: { server: endpoint, "certificate-authority-data": ca } }],
            users: [
                {
                    name: `${name}-environment-token`,
                    user: {
                        exec: {
                            apiVersion: "client.authentication.k8s.io/v1",
                            command: "sh",
                            args: ["-c", script],
                            interactiveMode: "Never",
                        },
                    },
                },
            ],
            contexts: [{ name, context: { cluster: name, user: `${name}-environment-token` } }],
            "current-context": name,
        }),
    );
}

/** The API endpoint and CA (base64 PEM) of a kubeconfig's context (default: its current one), when it names both. */
export function kubeconfigCluster(text: string, context?: string): { server: string; certificateAuthorityData: string } | undefined {
    // Loaded here: only a kubeconfig given as contents is ever read, and config/ loads yaml only when asked.
    const { parse: parseYaml } = require("yaml") as typeof YAML;
    let config: any;
    try {
        config = parseYaml(text);
    } catch {
        return undefined;
    }
    const contextName = context ?? config?.["current-context"];
    const clusterName = (config?.contexts ?? []).find((c: any) => c?.name === contextName)?.context?.cluster;
    const cluster = (config?.clusters ?? []).find((c: any) => c?.name === clusterName)?.cluster;
    const server = cluster?.server;
    const certificateAuthorityData = cluster?.["certificate-authority-data"];
    return typeof server === "string" && typeof certificateAuthorityData === "string" ? { server, certificateAuthorityData } : undefined;
}

/**
 * The Kubernetes cluster an environment runs on, and the provider every namespaced resource uses.
 */
export class Cluster extends pulumi.ComponentResource {
    /** Provider for every Kubernetes object of the environment. */
    public readonly provider: k8s.Provider;
    /**
     * The provider's kubeconfig when the stack knows one: DigitalOcean (the API token, or an exec plugin
     * that reads it from the environment), or kubeconfig mode's when given as contents. Secret whenever it holds a credential. Never exported: each environment's
     * workflows get the least-privilege one of its EnvironmentAccess instead.
     */
    public readonly kubeconfig?: pulumi.Output<string>;
    /** The API server's URL, when the stack knows it: a DigitalOcean cluster, or kubeconfig contents (not a file). */
    public readonly endpoint?: pulumi.Output<string>;
    /** The API server's CA certificate (base64 PEM), whenever {@link endpoint} is known. */
    public readonly certificateAuthorityData?: pulumi.Output<string>;
    /** Stable identifier of the cluster: the DOKS cluster id, or the kubeconfig mode's identifier. */
    public readonly clusterIdentifier: pulumi.Output<string>;
    /** The DOKS cluster, when this stack created it: objects inside it are `deletedWith` it. */
    public readonly kubernetesCluster?: digitalocean.KubernetesCluster;
    /** The cluster's VPC id, when this stack created it. */
    public readonly vpcId?: pulumi.Output<string>;
    /** The cluster's region, when this stack created it: its database's too. */
    public readonly region?: string;
    /** The worker node pool, when this stack created the cluster. */
    public readonly nodePool?: digitalocean.KubernetesNodePool;
    /** How the provider reaches the cluster: unknown in a preview of a cluster this deployment creates. */
    private readonly access: pulumi.Output<{ kubeconfig?: string; kubeconfigPath?: string; context?: string }>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:cluster:Cluster", name, {}, opts);

        const parts = clusterParts(this, name, args);
        this.kubeconfig = parts.kubeconfig;
        this.endpoint = parts.endpoint;
        this.certificateAuthorityData = parts.certificateAuthorityData;
        this.clusterIdentifier = parts.clusterIdentifier;
        this.kubernetesCluster = parts.kubernetesCluster;
        this.vpcId = parts.vpcId;
        this.region = parts.region;
        this.nodePool = parts.nodePool;

        const kubeconfigPath = args.mode === "kubeconfig" && args.kubeconfigPath ? expandHome(args.kubeconfigPath) : undefined;
        const context = args.mode === "kubeconfig" ? args.context : undefined;
        // For lookUpNamespace(): what the provider below is given.
        this.access = pulumi.output(this.kubeconfig).apply((kubeconfig) => ({
            kubeconfig: kubeconfigPath ? undefined : kubeconfig,
            kubeconfigPath,
            context,
        }));

        this.provider = new k8s.Provider(
            `${name}-provider`,
            {
                kubeconfig: this.kubeconfig ?? kubeconfigPath,
                context,
                // A new kubeconfig (rotated token, moved file) must not replace every Kubernetes object.
                clusterIdentifier: this.clusterIdentifier,
                // No deleteUnreachable, in any mode: an unreachable cluster must never cost a stack the
                // record of its objects (an outage is not a deletion). A DOKS cluster of the stack's own
                // takes its objects with it (deletedWith); a pull-request stack on a cluster that is gone
                // is removed without running its state (scripts/pr-stack.sh destroy --cluster-gone).
                // Secrets keep their names (teams read `db-credentials` and the pull secret by
                // name), so a new value must update them in place: replaced, a Secret is deleted
                // first and takes every workload that reads it down with it (a token rotation).
                enableSecretMutable: true,
            },
            { parent: this },
        );

        this.registerOutputs({
            provider: this.provider,
            kubeconfig: this.kubeconfig,
            endpoint: this.endpoint,
            certificateAuthorityData: this.certificateAuthorityData,
            clusterIdentifier: this.clusterIdentifier,
            kubernetesCluster: this.kubernetesCluster,
            vpcId: this.vpcId,
            region: this.region,
            nodePool: this.nodePool,
        });
    }

    /**
     * A namespace's labels and annotations, asked with the provider's own credentials: null when
     * there is no such namespace, undefined when the cluster does not answer (the provider then
     * reports it). Unknown, like the credentials, in a preview of a cluster this deployment creates.
     * Not secret, though the credentials are.
     */
    public lookUpNamespace(name: pulumi.Input<string>): pulumi.Output<NamespaceMetadata | null | undefined> {
        return pulumi.unsecret(pulumi.all([this.access, name]).apply(([access, namespace]) => readNamespace(access, namespace)));
    }
}

/** What a mode's builder hands the {@link Cluster}: how to reach the cluster, and what the stack created for it. */
interface ClusterParts {
    kubeconfig?: pulumi.Output<string>;
    endpoint?: pulumi.Output<string>;
    certificateAuthorityData?: pulumi.Output<string>;
    clusterIdentifier: pulumi.Output<string>;
    kubernetesCluster?: digitalocean.KubernetesCluster;
    vpcId?: pulumi.Output<string>;
    region?: string;
    nodePool?: digitalocean.KubernetesNodePool;
}

/** One builder per mode; each names its children `${name}-<role>` under `owner`, as the Cluster did itself. */
function clusterParts(owner: pulumi.Resource, name: string, args: ClusterArgs): ClusterParts {
    switch (args.mode) {
        case "digitalocean":
            return createDigitalOceanCluster(owner, name, args);
        default:
            return readKubeconfigCluster(owner, name, args);
    }
}

/** A DOKS cluster of this stack's, in a VPC of its own, with a small fixed system pool and a worker pool. */
function createDigitalOceanCluster(owner: pulumi.Resource, name: string, args: DigitalOceanClusterArgs): ClusterParts {
    const d = CLUSTER_DEFAULTS;
    const clusterName = args.name ?? name;
    const vpc = new digitalocean.Vpc(
        `${name}-vpc`,
        { name: `${clusterName}-vpc`, region: args.region, ipRange: args.vpcIpRange },
        { parent: owner },
    );
    invariant(owner, name, "nodePool", rangeProblem("minNodes", args.nodePool.minNodes, "maxNodes", args.nodePool.maxNodes));
    const system = args.systemPool;
    const cluster = new digitalocean.KubernetesCluster(
        `${name}-cluster`,
        {
            name: clusterName,
            region: args.region,
            version: args.version,
            ha: args.ha ?? d.ha,
            autoUpgrade: args.autoUpgrade ?? d.autoUpgrade,
            surgeUpgrade: true,
            maintenancePolicy: {
                day: args.maintenance?.day ?? d.maintenance.day,
                startTime: args.maintenance?.startTime ?? d.maintenance.startTime,
            },
            vpcUuid: vpc.id,
            // Deleting the cluster also deletes its load balancers and volumes: nothing is left billing.
            destroyAllAssociatedResources: true,
            // The pool DOKS requires: its size is fixed for the cluster's life (a new size
            // replaces the cluster), so it stays small and the workers get a pool of their own.
            nodePool: {
                name: system?.name ?? `${clusterName}-pool`,
                size: system?.size ?? d.systemPool.size,
                autoScale: false,
                nodeCount: system?.nodeCount ?? d.systemPool.nodeCount,
            },
            tags: args.tags,
        },
        { parent: owner, protect: args.protect ?? d.protect },
    );
    const nodePool = workerPool(owner, name, args, cluster, clusterName);
    const endpoint = {
        clusterName: cluster.name,
        endpoint: cluster.endpoint,
        caCertificate: cluster.kubeConfigs.apply((c) => c[0].clusterCaCertificate),
    };
    let kubeconfig: pulumi.Output<string>;
    if (args.tokenFromEnvironment ?? d.tokenFromEnvironment) {
        kubeconfig = environmentTokenKubeconfig(endpoint);
    } else {
        invariant(owner, name, "apiToken", args.apiToken === undefined ? "is required unless tokenFromEnvironment is true" : undefined);
        kubeconfig = tokenKubeconfig({ ...endpoint, apiToken: args.apiToken! });
    }
    return {
        kubeconfig,
        endpoint: cluster.endpoint,
        certificateAuthorityData: endpoint.caCertificate,
        clusterIdentifier: cluster.id,
        kubernetesCluster: cluster,
        vpcId: vpc.id,
        region: args.region,
        nodePool,
    };
}

/** The workers' pool of a DOKS cluster: fixed, or autoscaled between minNodes and maxNodes. */
function workerPool(
    owner: pulumi.Resource,
    name: string,
    args: DigitalOceanClusterArgs,
    cluster: digitalocean.KubernetesCluster,
    clusterName: string,
): digitalocean.KubernetesNodePool {
    const pool = args.nodePool;
    const autoScale = pool.maxNodes > pool.minNodes;
    return new digitalocean.KubernetesNodePool(
        `${name}-workers`,
        {
            clusterId: cluster.id,
            // The size in the name: a new size creates a new pool (names are unique in a
            // cluster) before the old one drains, instead of deleting the workers first.
            name: `${pool.name ?? `${clusterName}-workers`}-${pool.size}`,
            size: pool.size,
            autoScale,
            minNodes: autoScale ? pool.minNodes : undefined,
            maxNodes: autoScale ? pool.maxNodes : undefined,
            nodeCount: autoScale ? undefined : pool.minNodes,
            labels: pool.labels,
            tags: args.tags,
        },
        {
            parent: owner,
            // Deleting the cluster deletes its pools; nothing waits on this one.
            deletedWith: cluster,
            // The autoscaler owns the node count; reading it back must not produce a diff.
            ignoreChanges: autoScale ? ["nodeCount", "actualNodeCount"] : [],
        },
    );
}

/** An existing cluster reached through a kubeconfig: contents (esteira:kubeconfig) or a file (kubeconfigPath). */
function readKubeconfigCluster(owner: pulumi.Resource, name: string, args: KubeconfigClusterArgs): ClusterParts {
    const clusterIdentifier = pulumi.output(args.clusterIdentifier ?? args.context ?? "kubeconfig");
    // A file named in the stack file wins over esteira:kubeconfig, as the reference says.
    if (args.kubeconfig === undefined || args.kubeconfigPath) return { clusterIdentifier };
    const kubeconfig = pulumi.secret(args.kubeconfig);
    // Contents name the API server and, flattened, its CA: what the identities the stack
    // makes (EnvironmentAccess) put in their kubeconfigs. A file is read by the provider alone.
    const own = kubeconfig.apply((text) => {
        const found = kubeconfigCluster(text, args.context);
        if (!found) {
            throw new pulumi.ResourceError(
                `${name}: esteira:kubeconfig names no server with inline certificate-authority-data for ${args.context ? `context "${args.context}"` : "its current context"}; give it flattened (\`kubectl config view --raw --flatten\`)`,
                owner,
            );
        }
        return found;
    });
    return {
        kubeconfig,
        endpoint: pulumi.unsecret(own.server),
        certificateAuthorityData: pulumi.unsecret(own.certificateAuthorityData),
        clusterIdentifier,
    };
}

/** Reads a namespace with a kubeconfig (contents or file) and context; see {@link Cluster.lookUpNamespace}. */
async function readNamespace(
    access: { kubeconfig?: string; kubeconfigPath?: string; context?: string },
    name: string,
): Promise<NamespaceMetadata | null | undefined> {
    // Loaded only when a namespace is registered, so unit tests never pay for it.
    const { CoreV1Api, KubeConfig } = await import("@kubernetes/client-node");
    const config = new KubeConfig();
    if (access.kubeconfig !== undefined) config.loadFromString(access.kubeconfig);
    else if (access.kubeconfigPath !== undefined) config.loadFromFile(access.kubeconfigPath);
    else config.loadFromDefault();
    if (access.context !== undefined) config.setCurrentContext(access.context);
    try {
        const { metadata } = await config.makeApiClient(CoreV1Api).readNamespace({ name });
        return { labels: metadata?.labels, annotations: metadata?.annotations };
    } catch (err) {
        return (err as { code?: number }).code === 404 ? null : undefined;
    }
}
