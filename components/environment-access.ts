import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SERVICE_ACCOUNT_NAMES } from "../vocabulary/access-defaults";
import { OWNED_BY_PULUMI } from "./parts/ownership";

type PolicyRule = k8s.types.input.rbac.v1.PolicyRule;

/**
 * What the workflows do in each of an environment's namespaces, and nothing more: scripts/smoke-test.sh
 * waits for the services' and workers' rollouts (deployments get/watch), reads probe paths and the
 * Service's port, port-forwards to a pod behind the Service (services get, pods get/list,
 * pods/portforward) and, on failure, prints pods, events, the release Jobs and container logs.
 * Rollback goes through `pulumi up`, so nothing here writes.
 */
export const SMOKE_TEST_RULES: PolicyRule[] = [
    { apiGroups: ["apps"], resources: ["deployments", "replicasets"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["pods", "services", "events"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    // kubectl ≥ 1.30 port-forwards over WebSockets (authorized as get before Kubernetes 1.35, create after), else SPDY (create).
    { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] },
];

/**
 * What a pull request's identity may do, granted by a RoleBinding in its own namespace only (the
 * ClusterRole is a template: no ClusterRoleBinding ever names it): the objects its stack registers
 * there (every workload kind: services, workers, scheduled jobs, release Jobs, claims, its
 * in-namespace database), what the Kubernetes provider reads while it waits for them (a
 * Deployment's ReplicaSets, pods and claims, a Service's Endpoints, a Job's pods), and its own
 * namespace object, which it labels (components/tenant-policy.ts keeps the Pod Security labels
 * fixed). No other namespace, no token minting (no serviceaccounts/token; the policy refuses
 * service-account-token Secrets), no nodes, cluster roles, webhooks or CRDs; a Role it creates can
 * grant no more than it holds (RBAC's escalation check).
 */
export const TENANT_DEPLOYER_RULES: PolicyRule[] = [
    { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "patch", "update"] },
    {
        apiGroups: [""],
        resources: ["secrets", "services", "serviceaccounts", "configmaps", "persistentvolumeclaims"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    { apiGroups: [""], resources: ["pods", "events", "endpoints"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] },
    {
        apiGroups: ["apps"],
        resources: ["deployments", "statefulsets"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    { apiGroups: ["apps"], resources: ["replicasets", "controllerrevisions"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
    {
        apiGroups: ["autoscaling"],
        resources: ["horizontalpodautoscalers"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete"] },
    {
        apiGroups: ["networking.k8s.io"],
        resources: ["networkpolicies"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {
        apiGroups: ["rbac.authorization.k8s.io"],
        resources: ["roles", "rolebindings"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
];

/** The ClusterRole {@link TENANT_DEPLOYER_RULES} live in, and the ServiceAccount of each pull request's namespace it is bound to. */
export const TENANT_DEPLOYER = { clusterRoleName: "esteira-pr-deployer", serviceAccountName: "esteira-deployer" } as const;

/**
 * What the base's tenant issuer does for a pull request (scripts/pr-stack.sh grant, run with the
 * base's credentials, never by pull-request code): create its namespace, the deployer
 * ServiceAccount there and the RoleBinding to {@link TENANT_DEPLOYER}'s ClusterRole (`bind` on that
 * one role only), mint a short-lived token for it (serviceaccounts/token), and delete the namespace
 * when the pull request closes. components/tenant-policy.ts confines all of it to namespaces named
 * for a pull request, with fixed Pod Security labels. It reads no Secret anywhere.
 */
export const TENANT_ISSUER_RULES: PolicyRule[] = [
    // list: which pull requests' namespaces a base still holds (pr-stack.sh destroy-base, sweep).
    { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
    { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["get", "create", "update", "patch"] },
    { apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] },
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["get", "create", "update", "patch"] },
    {
        apiGroups: ["rbac.authorization.k8s.io"],
        resources: ["clusterroles"],
        verbs: ["bind"],
        resourceNames: [TENANT_DEPLOYER.clusterRoleName],
    },
];

/** The two identities the program creates, each with its defaults; applied once in the component. */
export const ENVIRONMENT_ACCESS_DEFAULTS = {
    /** The environment's own: read-only in its namespace, for the workflows' smoke test. */
    environment: { serviceAccountName: SERVICE_ACCOUNT_NAMES.environment, clusterWide: false, rules: SMOKE_TEST_RULES },
    /** A base stack's issuer of pull requests' namespaces and identities (scripts/pr-stack.sh grant). */
    tenants: { serviceAccountName: SERVICE_ACCOUNT_NAMES.tenants, clusterWide: true, rules: TENANT_ISSUER_RULES },
} as const;

export interface EnvironmentAccessArgs {
    /** Which identity: an environment's own (read-only, its namespace) or a base stack's tenant issuer (pull-request namespaces only). */
    role: keyof typeof ENVIRONMENT_ACCESS_DEFAULTS;
    /** Namespace the ServiceAccount and its token live in (for `role: environment`, the one it may read). */
    namespace: pulumi.Input<string>;
    /**
     * For `role: environment`: the environment's other namespaces (esteira:namespaces key → name),
     * where its workloads also run; the same Role is granted in each. Default: none.
     */
    namespaces?: Record<string, pulumi.Input<string>>;
    /** ServiceAccount, Role and RoleBinding name. Default: `esteira-ci` (environment), `esteira-tenants` (tenants). */
    serviceAccountName?: string;
    /**
     * The cluster's API endpoint and CA certificate (base64 PEM); when both are given, the component
     * builds the {@link EnvironmentAccess.kubeconfig}. Default: none, no kubeconfig.
     */
    server?: pulumi.Input<string>;
    certificateAuthorityData?: pulumi.Input<string>;
    /** Labels of every object. Default: none. */
    labels?: Record<string, pulumi.Input<string>>;
}

/** A kubeconfig whose only credential is a bearer token; secret, since the token is. */
export function bearerKubeconfig(args: {
    name: pulumi.Input<string>;
    server: pulumi.Input<string>;
    certificateAuthorityData: pulumi.Input<string>;
    namespace?: pulumi.Input<string>;
    token: pulumi.Input<string>;
}): pulumi.Output<string> {
    return pulumi.secret(
        pulumi
            .all([args.name, args.server, args.certificateAuthorityData, args.namespace, args.token])
            .apply(([name, server, ca, namespace, token]) =>
                JSON.stringify({
                    apiVersion: "v1",
                    kind: "Config",
                    clusters: [{ name, cluster: { server, "certificate-authority-data": ca } }],
                    users: [{ name, user: { token } }],
                    contexts: [{ name, context: { cluster: name, user: name, ...(namespace ? { namespace } : {}) } }],
                    "current-context": name,
                }),
            ),
    );
}

/**
 * A ServiceAccount with exactly the permissions its role needs, a long-lived token for it, and the
 * kubeconfig built from that token: what an environment's workflows (its `KUBECONFIG`) or the
 * stacks deploying into a base stack's cluster authenticate with, instead of the cloud account's
 * token, which reaches every cluster of the account.
 */
export class EnvironmentAccess extends pulumi.ComponentResource {
    /** The ServiceAccount's name, known once it exists. */
    public readonly serviceAccountName: pulumi.Output<string>;
    /** Kubeconfig (secret) authenticating as the ServiceAccount; present when the cluster's endpoint and CA were given. */
    public readonly kubeconfig?: pulumi.Output<string>;

    constructor(name: string, args: EnvironmentAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:EnvironmentAccess", name, {}, opts);
        // Objects inside a cluster this stack owns go with it: destroying the cluster does not wait on each one.
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };

        const d = ENVIRONMENT_ACCESS_DEFAULTS[args.role];
        const accountName = args.serviceAccountName ?? d.serviceAccountName;
        const labels = { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/component": "access", ...args.labels };
        const metadata = { name: accountName, namespace: args.namespace, labels, annotations: OWNED_BY_PULUMI };

        const account = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            { metadata, automountServiceAccountToken: false },
            childOpts,
        );
        this.serviceAccountName = account.metadata.name;
        const subject = { kind: "ServiceAccount", name: this.serviceAccountName, namespace: account.metadata.namespace };

        if (d.clusterWide) {
            const role = new k8s.rbac.v1.ClusterRole(
                `${name}-role`,
                { metadata: { name: accountName, labels, annotations: OWNED_BY_PULUMI }, rules: d.rules },
                childOpts,
            );
            new k8s.rbac.v1.ClusterRoleBinding(
                `${name}-role-binding`,
                {
                    metadata: { name: accountName, labels, annotations: OWNED_BY_PULUMI },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
                    subjects: [subject],
                },
                childOpts,
            );
        } else {
            // The same Role in each namespace the environment's workloads run in, bound to the one ServiceAccount.
            const grant = (suffix: string, namespace: pulumi.Input<string>) => {
                const roleMetadata = { ...metadata, namespace };
                const role = new k8s.rbac.v1.Role(`${name}-role${suffix}`, { metadata: roleMetadata, rules: d.rules }, childOpts);
                new k8s.rbac.v1.RoleBinding(
                    `${name}-role-binding${suffix}`,
                    {
                        metadata: roleMetadata,
                        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                        subjects: [subject],
                    },
                    childOpts,
                );
            };
            grant("", args.namespace);
            for (const [key, namespace] of Object.entries(args.namespaces ?? {})) grant(`-${key}`, namespace);
        }

        // A long-lived token the token controller fills in (the provider waits for it): workflows
        // cannot request a short-lived one without already holding a credential.
        const token = new k8s.core.v1.Secret(
            `${name}-token`,
            {
                metadata: {
                    name: `${accountName}-token`,
                    namespace: args.namespace,
                    labels,
                    annotations: { ...OWNED_BY_PULUMI, "kubernetes.io/service-account.name": this.serviceAccountName },
                },
                type: "kubernetes.io/service-account-token",
            },
            childOpts,
        );

        if (args.server !== undefined && args.certificateAuthorityData !== undefined) {
            this.kubeconfig = bearerKubeconfig({
                name: pulumi.interpolate`${account.metadata.namespace}-${accountName}`,
                server: args.server,
                certificateAuthorityData: args.certificateAuthorityData,
                namespace: d.clusterWide ? undefined : account.metadata.namespace,
                token: token.data.apply((data) => {
                    if (!data?.token) {
                        throw new pulumi.ResourceError(`${name}: the token controller filled no token into ${accountName}-token`, this);
                    }
                    return Buffer.from(data.token, "base64").toString("utf8");
                }),
            });
        }

        this.registerOutputs({ serviceAccountName: this.serviceAccountName, kubeconfig: this.kubeconfig });
    }
}
