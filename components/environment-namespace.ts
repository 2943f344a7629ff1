import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { RegistrySettings } from "../config/schema";
import { namespacePolicies, NetworkDestination } from "./parts/network-policy";

/** Defaults of {@link EnvironmentNamespaceArgs}, applied once in the component. */
export const ENVIRONMENT_NAMESPACE_DEFAULTS = {
    pullSecretName: "registry-credentials",
} as const;

/**
 * Pod Security Admission labels every namespace carries: the API server refuses a pod that breaks
 * the `restricted` profile as Kubernetes v1.33 defines it (pinned, so a cluster upgrade cannot
 * start refusing pods), and warns and audits against the upgraded cluster's own definition first.
 */
export const POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.33",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "latest",
} as const;

export interface EnvironmentNamespaceArgs {
    /** Namespace name (a DNS-1123 label). */
    namespace: pulumi.Input<string>;
    /** Environment name, written to the `environment` label of the namespace and the pull secret. */
    environment: pulumi.Input<string>;
    /**
     * The stack file's `esteira:registry` (server, username, pullSecretName; see config/schema.ts)
     * and the token with pull rights (for GHCR, `read:packages`), kept secret.
     */
    registry: RegistrySettings & { token: pulumi.Input<string> };
    /** Extra labels for the namespace. Default: none. */
    labels?: Record<string, pulumi.Input<string>>;
    /**
     * Opaque Secrets to create in the namespace, name → key → value (e.g. `db-credentials` →
     * `DATABASE_URL`); values are stored as secrets. Default: none.
     */
    secrets?: Record<string, Record<string, pulumi.Input<string>>>;
    /** Where the environment's database is reached; the namespace's pods may connect there. Default: none. */
    database?: NetworkDestination;
    /** Further destinations the namespace's pods may reach (`esteira:networkPolicy.egress`). Default: none. */
    egress?: NetworkDestination[];
    /** The environment's other namespaces (`esteira:namespaces`), whose pods this one's may reach. Default: none. */
    peerNamespaces?: pulumi.Input<string>[];
}

/**
 * An environment's namespace, held to the `restricted` Pod Security profile, and the registry pull
 * secret every Deployment in it references — what teams otherwise create per namespace with
 * `kubectl create secret docker-registry`.
 */
export class EnvironmentNamespace extends pulumi.ComponentResource {
    /** The namespace name, known once the Namespace exists (so dependents wait for it). */
    public readonly namespaceName: pulumi.Output<string>;
    /** The pull secret's name, for `imagePullSecrets`. */
    public readonly pullSecretName: pulumi.Output<string>;
    /** Names of the opaque Secrets, keyed as in `args.secrets`, known once each exists. */
    public readonly secretNames: Record<string, pulumi.Output<string>>;
    /** Deny-by-default, then DNS, the namespace's own pods, the database and `egress`. */
    public readonly networkPolicies: k8s.networking.v1.NetworkPolicy[];

    constructor(name: string, args: EnvironmentNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:EnvironmentNamespace", name, {}, opts);
        // Objects inside a cluster this stack owns go with it: destroying the cluster does not wait on each one.
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };

        const labels = {
            "app.kubernetes.io/managed-by": "pulumi",
            environment: args.environment,
            ...args.labels,
        };

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            // After the caller's labels: a namespace's pods are always held to the restricted profile.
            { metadata: { name: args.namespace, labels: { ...labels, ...POD_SECURITY_LABELS } } },
            childOpts,
        );
        this.namespaceName = namespace.metadata.name;

        const dockerConfigJson = pulumi.secret(
            pulumi.all([args.registry.server, args.registry.username, args.registry.token]).apply(([server, username, token]) =>
                JSON.stringify({
                    auths: {
                        [server]: {
                            username,
                            password: token,
                            auth: Buffer.from(`${username}:${token}`).toString("base64"),
                        },
                    },
                }),
            ),
        );

        const pullSecret = new k8s.core.v1.Secret(
            `${name}-pull-secret`,
            {
                metadata: {
                    name: args.registry.pullSecretName ?? ENVIRONMENT_NAMESPACE_DEFAULTS.pullSecretName,
                    namespace: this.namespaceName,
                    labels,
                },
                type: "kubernetes.io/dockerconfigjson",
                stringData: { ".dockerconfigjson": dockerConfigJson },
            },
            // The Kubernetes SDK already marks a Secret's data and stringData as secret outputs.
            childOpts,
        );
        this.pullSecretName = pullSecret.metadata.name;

        this.secretNames = {};
        for (const [secretName, values] of Object.entries(args.secrets ?? {})) {
            const secret = new k8s.core.v1.Secret(
                `${name}-secret-${secretName}`,
                {
                    metadata: { name: secretName, namespace: this.namespaceName, labels },
                    type: "Opaque",
                    stringData: pulumi.secret(values),
                },
                childOpts,
            );
            this.secretNames[secretName] = secret.metadata.name;
        }

        this.networkPolicies = namespacePolicies(
            name,
            { namespace: this.namespaceName, labels, database: args.database, egress: args.egress, peerNamespaces: args.peerNamespaces },
            childOpts,
        );

        this.registerOutputs({
            namespaceName: this.namespaceName,
            pullSecretName: this.pullSecretName,
            secretNames: this.secretNames,
            networkPolicies: this.networkPolicies,
        });
    }
}
