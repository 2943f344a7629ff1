import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { scryptSync } from "crypto";
import type { RegistrySettings } from "../vocabulary/schema";
import { namespacePolicies, NetworkDestination } from "./parts/network-policy";
import { OWNED_BY_PULUMI } from "./parts/ownership";
import { ENVIRONMENT_NAMESPACE_DEFAULTS } from "../vocabulary/defaults";

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
     * The stack file's `esteira:registry` (server, username, pullSecretName; see vocabulary/schema.ts)
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
    /** Where the environment's database is reached; the namespace's pods may connect there. Default: none. */
    database?: NetworkDestination;
    /** Further destinations the namespace's pods may reach (`esteira:networkPolicy.egress`). Default: none. */
    egress?: NetworkDestination[];
    /** The environment's other namespaces (`esteira:namespaces`), whose pods this one's may reach. Default: none. */
    peerNamespaces?: pulumi.Input<string>[];
    /**
     * The namespace exists already and the stack uses it: it is never deleted by this stack
     * (retainOnDelete), only what the stack creates in it is. Default: false.
     */
    adoptNamespace?: boolean;
    /**
     * A namespace's labels and annotations as the cluster has them: null when there is no such
     * namespace, undefined when that cannot be known. Given, and unless `adoptNamespace`, a namespace
     * that exists already and is not this stack's is refused before anything is created: creating it
     * would take it over, and the stack would later delete it with everything in it. Default: none
     * (no check).
     */
    lookUpNamespace?: (name: pulumi.Input<string>) => pulumi.Output<NamespaceMetadata | null | undefined>;
    /** The stack, `<organization>/<project>/<stack>`, that its namespace is marked with. Default: the running stack. */
    stack?: string;
    /**
     * The stack-file keys that name and adopt the namespace, for the message refusing an existing
     * one. Default: {@link STACK_NAMESPACE_KEYS}.
     */
    configKeys?: NamespaceConfigKeys;
}

export interface NamespaceMetadata {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
}

/** The annotation that says which stack created a namespace: its owner, which may delete it. */
export const OWNER_ANNOTATION = "esteira.dev/stack";

/**
 * Whether a namespace that exists is this stack's: marked with its name, or (created before the
 * mark existed) labelled by esteira for this environment and marked by no other stack.
 */
export function ownNamespace(found: NamespaceMetadata, stack: string, environment: string): boolean {
    const owner = found.annotations?.[OWNER_ANNOTATION];
    if (owner !== undefined) return owner === stack;
    return found.labels?.["app.kubernetes.io/managed-by"] === "pulumi" && found.labels?.environment === environment;
}

/** Where a stack file names a namespace, and the key that adopts it. */
export interface NamespaceConfigKeys {
    namespace: string;
    adopt: string;
}

/** The stack's own namespace: `esteira:namespace`, adopted with `esteira:adoptNamespace`. */
export const STACK_NAMESPACE_KEYS: NamespaceConfigKeys = { namespace: "namespace", adopt: "esteira:adoptNamespace" };

/** What a stack that is about to create a namespace is told when it exists already. */
export function existingNamespaceMessage(stack: string, namespace: string, keys: NamespaceConfigKeys = STACK_NAMESPACE_KEYS): string {
    return `${stack}: ${keys.namespace}: ${JSON.stringify(namespace)} exists already and this stack did not create it: creating it would take it over, and the stack would delete it, with everything in it, when it goes; name a namespace of the stack's own, or set ${keys.adopt}: true to use it without ever deleting it`;
}

/**
 * A checksum of a Secret's data for pod-template annotations, so pods roll when the data they read
 * changes. Not itself a secret, so a preview shows it change; it is a salted scrypt digest, which
 * tells that the data changed and nothing else: a guessed password cannot be checked against it cheaply.
 */
export function secretChecksum(data: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
    return pulumi.unsecret(
        pulumi.output(data).apply((values) => {
            const canonical = JSON.stringify(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
            return scryptSync(canonical, "esteira:secret-checksum", 16).toString("hex");
        }),
    );
}

/**
 * An environment's namespace, held to the `restricted` Pod Security profile, and the registry pull
 * secret every Deployment in it references — what teams otherwise create per namespace with
 * `kubectl create secret docker-registry`.
 */
export class EnvironmentNamespace extends pulumi.ComponentResource {
    /** The namespace name, known once the Namespace exists (so dependents wait for it). */
    public readonly namespaceName: pulumi.Output<string>;
    /** The pull secret's name, for `imagePullSecrets`; present when a registry was given. */
    public readonly pullSecretName?: pulumi.Output<string>;
    /** Names of the opaque Secrets, keyed as in `args.secrets`, known once each exists. */
    public readonly secretNames: Record<string, pulumi.Output<string>>;
    /** A checksum of each opaque Secret's data (never the data), keyed as in `args.secrets`: see {@link secretChecksum}. */
    public readonly secretChecksums: Record<string, pulumi.Output<string>>;
    /** Deny-by-default, then DNS, the namespace's own pods, the database and `egress`. */
    public readonly networkPolicies: k8s.networking.v1.NetworkPolicy[];
    /**
     * What the objects in this namespace are `deletedWith`: the Namespace, when the stack owns it
     * (deleting a namespace deletes what is in it, so a destroy waits on one object, not on each);
     * in an adopted namespace, which outlives the stack, what the namespace itself goes with (a
     * cluster the stack owns), if anything.
     */
    public readonly contentsDeletedWith?: pulumi.Resource;

    constructor(name: string, args: EnvironmentNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:EnvironmentNamespace", name, {}, opts);
        // The namespace goes with a cluster this stack owns: destroying the cluster does not wait on it.
        const namespaceOpts = { parent: this, deletedWith: opts?.deletedWith };

        const labels = {
            "app.kubernetes.io/managed-by": "pulumi",
            environment: args.environment,
            ...args.labels,
        };

        const adopt = args.adoptNamespace ?? ENVIRONMENT_NAMESPACE_DEFAULTS.adoptNamespace;
        const stack = args.stack ?? `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
        // The namespace is registered only once the cluster says it is absent or this stack's: every
        // preview and up asks (one read), since this engine runs no resource hooks before a create.
        const lookup = args.lookUpNamespace;
        const namespaceName =
            !adopt && lookup
                ? pulumi.all([args.namespace, args.environment, lookup(args.namespace)]).apply(([wanted, environment, found]) => {
                      if (found && !ownNamespace(found, stack, environment)) {
                          throw new pulumi.RunError(existingNamespaceMessage(pulumi.getStack(), wanted, args.configKeys));
                      }
                      return wanted;
                  })
                : args.namespace;
        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: namespaceName,
                    // After the caller's labels: a namespace's pods are always held to the restricted profile.
                    labels: { ...labels, ...POD_SECURITY_LABELS },
                    // An adopted namespace is someone else's too: the stack neither marks it nor takes its fields back,
                    // nor waits on it (it exists; a pull request's identity may read it but watch no namespace).
                    annotations: adopt ? { "pulumi.com/skipAwait": "true" } : { ...OWNED_BY_PULUMI, [OWNER_ANNOTATION]: stack },
                },
            },
            {
                ...namespaceOpts,
                // A namespace the stack did not create outlives it.
                retainOnDelete: adopt || undefined,
            },
        );
        this.namespaceName = namespace.metadata.name;
        this.contentsDeletedWith = adopt ? opts?.deletedWith : namespace;
        const childOpts = { parent: this, deletedWith: this.contentsDeletedWith };

        if (args.registry) {
            this.pullSecretName = pullSecret(name, args.registry, this.namespaceName, labels, childOpts).metadata.name;
        }

        this.secretNames = {};
        this.secretChecksums = {};
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
            this.secretChecksums[secretName] = secretChecksum(values);
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
            secretChecksums: this.secretChecksums,
            networkPolicies: this.networkPolicies,
        });
    }
}

/** The `kubernetes.io/dockerconfigjson` Secret pods pull their images with, named `${name}-pull-secret`. */
function pullSecret(
    name: string,
    registry: NonNullable<EnvironmentNamespaceArgs["registry"]>,
    namespace: pulumi.Output<string>,
    labels: Record<string, pulumi.Input<string>>,
    childOpts: pulumi.CustomResourceOptions,
): k8s.core.v1.Secret {
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
    return new k8s.core.v1.Secret(
        `${name}-pull-secret`,
        {
            metadata: {
                name: registry.pullSecretName ?? ENVIRONMENT_NAMESPACE_DEFAULTS.pullSecretName,
                namespace,
                labels,
                annotations: OWNED_BY_PULUMI,
            },
            type: "kubernetes.io/dockerconfigjson",
            stringData: { ".dockerconfigjson": dockerConfigJson },
        },
        // The Kubernetes SDK already marks a Secret's data and stringData as secret outputs.
        childOpts,
    );
}
