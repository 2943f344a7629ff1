import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { RegistrySettings } from "../config/schema";
import { OWNED_BY_PULUMI } from "./parts/ownership";

/** Defaults of {@link EnvironmentNamespaceArgs}, applied once in the component. */
export const ENVIRONMENT_NAMESPACE_DEFAULTS = {
    pullSecretName: "registry-credentials",
} as const;

export interface EnvironmentNamespaceArgs {
    /** Namespace name (a DNS-1123 label). */
    namespace: pulumi.Input<string>;
    /** Environment name, written to the `environment` label of the namespace and the pull secret. */
    environment: pulumi.Input<string>;
    /**
     * The stack file's `esteira:registry` (server, username, pullSecretName; see config/schema.ts)
     * and the token with pull rights (for GHCR, `read:packages`), kept secret. Default: none, and
     * no pull secret (a base stack that runs no service of its own).
     */
    registry?: RegistrySettings & { token: pulumi.Input<string> };
    /** Extra labels for the namespace. Default: none. */
    labels?: Record<string, pulumi.Input<string>>;
    /**
     * Opaque Secrets to create in the namespace, name → key → value (e.g. `db-credentials` →
     * `DATABASE_URL`); values are stored as secrets. Default: none.
     */
    secrets?: Record<string, Record<string, pulumi.Input<string>>>;
}

/**
 * An environment's namespace and the registry pull secret every Deployment in it references —
 * what teams otherwise create per namespace with `kubectl create secret docker-registry`.
 */
export class EnvironmentNamespace extends pulumi.ComponentResource {
    /** The namespace name, known once the Namespace exists (so dependents wait for it). */
    public readonly namespaceName: pulumi.Output<string>;
    /** The pull secret's name, for `imagePullSecrets`; present when a registry was given. */
    public readonly pullSecretName?: pulumi.Output<string>;
    /** Names of the opaque Secrets, keyed as in `args.secrets`, known once each exists. */
    public readonly secretNames: Record<string, pulumi.Output<string>>;

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
            { metadata: { name: args.namespace, labels, annotations: OWNED_BY_PULUMI } },
            childOpts,
        );
        this.namespaceName = namespace.metadata.name;

        if (args.registry) this.pullSecretName = this.pullSecret(name, args.registry, labels, childOpts);

        this.secretNames = {};
        for (const [secretName, values] of Object.entries(args.secrets ?? {})) {
            const secret = new k8s.core.v1.Secret(
                `${name}-secret-${secretName}`,
                {
                    metadata: { name: secretName, namespace: this.namespaceName, labels, annotations: OWNED_BY_PULUMI },
                    type: "Opaque",
                    stringData: pulumi.secret(values),
                },
                childOpts,
            );
            this.secretNames[secretName] = secret.metadata.name;
        }

        this.registerOutputs({
            namespaceName: this.namespaceName,
            pullSecretName: this.pullSecretName,
            secretNames: this.secretNames,
        });
    }

    /** The `kubernetes.io/dockerconfigjson` Secret every Deployment pulls with; returns its name. */
    private pullSecret(
        name: string,
        registry: NonNullable<EnvironmentNamespaceArgs["registry"]>,
        labels: Record<string, pulumi.Input<string>>,
        childOpts: pulumi.CustomResourceOptions,
    ): pulumi.Output<string> {
        const dockerConfigJson = pulumi.secret(
            pulumi.all([registry.server, registry.username, registry.token]).apply(([server, username, token]) =>
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
                    name: registry.pullSecretName ?? ENVIRONMENT_NAMESPACE_DEFAULTS.pullSecretName,
                    namespace: this.namespaceName,
                    labels,
                    annotations: OWNED_BY_PULUMI,
                },
                type: "kubernetes.io/dockerconfigjson",
                stringData: { ".dockerconfigjson": dockerConfigJson },
            },
            // The Kubernetes SDK already marks a Secret's data and stringData as secret outputs.
            childOpts,
        );
        return pullSecret.metadata.name;
    }
}
