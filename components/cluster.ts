import * as digitalocean from "@pulumi/digitalocean";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import type { ClusterSettings } from "../config/schema";
import { invariant, rangeProblem } from "../config/rules";
import { readStack } from "./stack-reference";

type Mode<M extends ClusterSettings["mode"]> = Extract<ClusterSettings, { mode: M }>;

/**
 * A DigitalOcean Kubernetes (DOKS) cluster in its own VPC, created by this stack: the stack file's
 * `esteira:cluster` keys (config/schema.ts), plus the API token and `protect`.
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
    /** Kubeconfig contents (secret). Default: the file at `kubeconfigPath`, else the ambient kubeconfig. */
    kubeconfig?: pulumi.Input<string>;
};

/** A cluster another stack owns (the `review` base, for ephemeral pull-request stacks), read from its outputs. */
export type SharedClusterArgs = Mode<"stack">;

export type ClusterArgs = DigitalOceanClusterArgs | KubeconfigClusterArgs | SharedClusterArgs;

/** Defaults of {@link DigitalOceanClusterArgs}, applied once in the component. */
export const CLUSTER_DEFAULTS = {
    ha: false,
    autoUpgrade: false,
    maintenance: { day: "sunday", startTime: "04:00" },
    tokenFromEnvironment: false,
    protect: false,
} as const;

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

/** The API endpoint and CA (base64 PEM) of a kubeconfig's current context, when it names both. */
export function kubeconfigCluster(text: string): { server: string; certificateAuthorityData: string } | undefined {
    let config: any;
    try {
        config = parseYaml(text);
    } catch {
        return undefined;
    }
    const contextName = config?.["current-context"];
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
     * that reads it from the environment), a shared cluster's tenant kubeconfig, kubeconfig mode when
     * given as contents. Secret whenever it holds a credential. Never exported: each environment's
     * workflows get the least-privilege one of its EnvironmentAccess instead.
     */
    public readonly kubeconfig?: pulumi.Output<string>;
    /** The API server's URL, when the stack knows it: a DigitalOcean cluster, or one shared by its owner (not kubeconfig mode). */
    public readonly endpoint?: pulumi.Output<string>;
    /** The API server's CA certificate (base64 PEM), whenever {@link endpoint} is known. */
    public readonly certificateAuthorityData?: pulumi.Output<string>;
    /** Stable identifier of the cluster: the DOKS cluster id (own or shared), or the kubeconfig mode's identifier. */
    public readonly clusterIdentifier: pulumi.Output<string>;
    /** The DOKS cluster, when this stack created it: objects inside it are `deletedWith` it. */
    public readonly kubernetesCluster?: digitalocean.KubernetesCluster;
    /** The cluster's VPC id, when this stack created it. */
    public readonly vpcId?: pulumi.Output<string>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:cluster:Cluster", name, {}, opts);

        if (args.mode === "digitalocean") {
            const d = CLUSTER_DEFAULTS;
            const clusterName = args.name ?? name;
            const vpc = new digitalocean.Vpc(
                `${name}-vpc`,
                { name: `${clusterName}-vpc`, region: args.region, ipRange: args.vpcIpRange },
                { parent: this },
            );
            this.vpcId = vpc.id;
            const pool = args.nodePool;
            invariant(this, name, "nodePool", rangeProblem("minNodes", pool.minNodes, "maxNodes", pool.maxNodes));
            const autoScale = pool.maxNodes > pool.minNodes;
            this.kubernetesCluster = new digitalocean.KubernetesCluster(
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
                    nodePool: {
                        name: pool.name ?? `${clusterName}-pool`,
                        size: pool.size,
                        autoScale,
                        minNodes: autoScale ? pool.minNodes : undefined,
                        maxNodes: autoScale ? pool.maxNodes : undefined,
                        nodeCount: autoScale ? undefined : pool.minNodes,
                        labels: pool.labels,
                    },
                    tags: args.tags,
                },
                {
                    parent: this,
                    protect: args.protect ?? d.protect,
                    // The autoscaler owns the node count; reading it back must not produce a diff.
                    ignoreChanges: autoScale ? ["nodePool.nodeCount", "nodePool.actualNodeCount"] : [],
                },
            );
            const cluster = this.kubernetesCluster;
            const endpoint = {
                clusterName: cluster.name,
                endpoint: cluster.endpoint,
                caCertificate: cluster.kubeConfigs.apply((c) => c[0].clusterCaCertificate),
            };
            if (args.tokenFromEnvironment ?? d.tokenFromEnvironment) {
                this.kubeconfig = environmentTokenKubeconfig(endpoint);
            } else {
                invariant(
                    this,
                    name,
                    "apiToken",
                    args.apiToken === undefined ? "is required unless tokenFromEnvironment is true" : undefined,
                );
                this.kubeconfig = tokenKubeconfig({ ...endpoint, apiToken: args.apiToken! });
            }
            this.endpoint = cluster.endpoint;
            this.certificateAuthorityData = endpoint.caCertificate;
            this.clusterIdentifier = cluster.id;
        } else if (args.mode === "stack") {
            const source = readStack(this, name, args.stack);
            // The kubeconfig the owner made for the stacks it hosts (esteira:tenants), never its own credential.
            this.kubeconfig = pulumi.secret(source.requireOutput("tenantKubeconfig") as pulumi.Output<string>);
            const owner = this.kubeconfig.apply((text) => {
                const found = kubeconfigCluster(text);
                if (!found) {
                    throw new pulumi.ResourceError(
                        `${name}: stack "${args.stack}" exports a tenantKubeconfig without a server and CA`,
                        this,
                    );
                }
                return found;
            });
            this.endpoint = owner.server;
            this.certificateAuthorityData = owner.certificateAuthorityData;
            this.clusterIdentifier = source.requireOutput("clusterId") as pulumi.Output<string>;
        } else {
            const identifier = args.clusterIdentifier ?? args.context ?? "kubeconfig";
            // The endpoint stays unknown here: the provider alone reads the file, and contents may name a CA file.
            this.kubeconfig = args.kubeconfig !== undefined ? pulumi.secret(args.kubeconfig) : undefined;
            this.clusterIdentifier = pulumi.output(identifier);
        }

        this.provider = new k8s.Provider(
            `${name}-provider`,
            {
                kubeconfig:
                    this.kubeconfig ?? (args.mode === "kubeconfig" && args.kubeconfigPath ? expandHome(args.kubeconfigPath) : undefined),
                context: args.mode === "kubeconfig" ? args.context : undefined,
                // A new kubeconfig (rotated token, moved file) must not replace every Kubernetes object.
                clusterIdentifier: this.clusterIdentifier,
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
        });
    }
}
