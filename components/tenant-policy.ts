import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TENANT_DEPLOYER, TENANT_DEPLOYER_RULES } from "./environment-access";
import { POD_SECURITY_LABELS } from "./environment-namespace";
import { OWNED_BY_PULUMI } from "./parts/ownership";

/** Defaults of {@link TenantPolicyArgs}, applied once in the component. */
export const TENANT_POLICY_DEFAULTS = {
    /** Pull-request namespaces are `<prefix><number>`: the stack name pr-<number> under the project's prefix. */
    namespacePrefix: "esteira-pr-",
} as const;

export interface TenantPolicyArgs {
    /** The base's tenant issuer (EnvironmentAccess role tenants): its ServiceAccount's namespace and name. */
    issuer: { namespace: pulumi.Input<string>; serviceAccountName: pulumi.Input<string> };
    /** What every pull-request namespace is named: the prefix, then digits. Default: `esteira-pr-`. */
    namespacePrefix?: string;
    /** Labels of every object. Default: none. */
    labels?: Record<string, pulumi.Input<string>>;
}

/** A CEL string literal. */
const cel = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/** CEL: the Pod Security labels every pull-request namespace carries, exactly (components/environment-namespace.ts). */
const POD_SECURITY_MAP = `{${Object.entries(POD_SECURITY_LABELS)
    .map(([key, value]) => `${cel(key)}: ${cel(value)}`)
    .join(", ")}}`;

/** The same labels, as a message shows them. */
const POD_SECURITY_TEXT = Object.entries(POD_SECURITY_LABELS)
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");

/** CEL, over a namespace `object`: it carries every Pod Security label with its fixed value. */
const FIXED_POD_SECURITY =
    "variables.podSecurity.all(k, has(object.metadata.labels) && k in object.metadata.labels && object.metadata.labels[k] == variables.podSecurity[k])";

type Validation = k8s.types.input.admissionregistration.v1.Validation;

/** What the issuer may touch: pull-request namespaces, the deployer there, its binding and tokens. */
export function issuerValidations(prefix: string): Validation[] {
    const pattern = cel(`^${prefix}[0-9]+$`);
    return [
        {
            expression: `variables.target.matches(${pattern})`,
            messageExpression: `'the tenant issuer acts only in pull-request namespaces (${prefix}<number>); refused: ' + request.operation + ' ' + request.resource.resource + ' in ' + variables.target`,
            reason: "Forbidden",
        },
        {
            expression: `request.resource.resource != 'namespaces' || request.operation == 'DELETE' || ${FIXED_POD_SECURITY}`,
            messageExpression: `'namespace ' + request.name + ' must carry the Pod Security labels ${POD_SECURITY_TEXT} unchanged'`,
            reason: "Forbidden",
        },
        {
            expression: `request.resource.resource != 'serviceaccounts' || request.name == ${cel(TENANT_DEPLOYER.serviceAccountName)}`,
            messageExpression: `'the tenant issuer makes and mints tokens only for ServiceAccount ${TENANT_DEPLOYER.serviceAccountName}; refused: ' + request.name + ' in ' + request.namespace`,
            reason: "Forbidden",
        },
        {
            expression:
                `request.resource.resource != 'rolebindings' || request.operation == 'DELETE' || ` +
                `(object.roleRef.kind == 'ClusterRole' && object.roleRef.name == ${cel(TENANT_DEPLOYER.clusterRoleName)} && has(object.subjects) && ` +
                `object.subjects.all(s, s.kind == 'ServiceAccount' && s.name == ${cel(TENANT_DEPLOYER.serviceAccountName)} && s.namespace == request.namespace))`,
            messageExpression: `'the tenant issuer binds only ClusterRole ${TENANT_DEPLOYER.clusterRoleName} to ServiceAccount ${TENANT_DEPLOYER.serviceAccountName} of the same namespace; refused: RoleBinding ' + request.name + ' in ' + request.namespace`,
            reason: "Forbidden",
        },
    ];
}

/** What any identity of a pull-request namespace may never do, whatever its Roles grant. */
export function pullRequestValidations(): Validation[] {
    return [
        {
            expression:
                `request.resource.resource != 'namespaces' || ` +
                `(request.operation == 'UPDATE' && request.name == variables.own && ${FIXED_POD_SECURITY})`,
            messageExpression: `'a pull request changes only its own namespace (' + variables.own + '), never its Pod Security labels; refused: ' + request.operation + ' namespace ' + request.name`,
            reason: "Forbidden",
        },
        {
            expression: `request.resource.resource != 'secrets' || !has(object.type) || object.type != 'kubernetes.io/service-account-token'`,
            messageExpression: `'a pull request mints no ServiceAccount token: Secret ' + request.name + ' of type kubernetes.io/service-account-token is refused in ' + request.namespace`,
            reason: "Forbidden",
        },
    ];
}

/**
 * What keeps pull requests apart from each other and from their base, enforced by the API server
 * itself: the ClusterRole each pull request's deployer is granted in its own namespace only, and
 * two ValidatingAdmissionPolicies. One confines the base's tenant issuer to namespaces named for a
 * pull request, with fixed Pod Security labels, to the deployer ServiceAccount there and to its
 * one binding; the other holds every identity of a pull-request namespace to that namespace's own
 * object (labels fixed) and refuses service-account-token Secrets, so no pull request mints a
 * long-lived token. Reads are RBAC's alone: a RoleBinding in one namespace reaches nothing else.
 */
export class TenantPolicy extends pulumi.ComponentResource {
    /** The ClusterRole granted to each pull request's deployer, by a RoleBinding in its namespace. */
    public readonly deployerRoleName: pulumi.Output<string>;
    /** The admission policies' names: the issuer's and the pull requests'. */
    public readonly policyNames: pulumi.Output<string[]>;

    constructor(name: string, args: TenantPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:TenantPolicy", name, {}, opts);
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };
        const prefix = args.namespacePrefix ?? TENANT_POLICY_DEFAULTS.namespacePrefix;
        const labels = { "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/component": "access", ...args.labels };
        const meta = (metadataName: pulumi.Input<string>) => ({ name: metadataName, labels, annotations: OWNED_BY_PULUMI });

        const role = new k8s.rbac.v1.ClusterRole(
            `${name}-deployer`,
            { metadata: meta(TENANT_DEPLOYER.clusterRoleName), rules: TENANT_DEPLOYER_RULES },
            childOpts,
        );
        this.deployerRoleName = role.metadata.name;

        const podSecurity = { name: "podSecurity", expression: POD_SECURITY_MAP };
        const issuerUser = pulumi.interpolate`system:serviceaccount:${args.issuer.namespace}:${args.issuer.serviceAccountName}`;
        const issuer = this.policy(name, "issuer", childOpts, meta, {
            matchConditions: [
                { name: "tenant-issuer", expression: pulumi.interpolate`request.userInfo.username == ${issuerUser.apply(cel)}` },
            ],
            resourceRules: [
                { apiGroups: [""], resources: ["namespaces", "serviceaccounts", "serviceaccounts/token"] },
                { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"] },
            ],
            variables: [
                { name: "target", expression: "request.resource.resource == 'namespaces' ? request.name : request.namespace" },
                podSecurity,
            ],
            validations: issuerValidations(prefix),
        });
        const pullRequests = this.policy(name, "pull-requests", childOpts, meta, {
            // Every identity of a pull-request namespace: its deployer, and any ServiceAccount its pods run as.
            matchConditions: [
                {
                    name: "pull-request-identity",
                    expression: `request.userInfo.username.matches(${cel(`^system:serviceaccount:${prefix}[0-9]+:[^:]+$`)})`,
                },
            ],
            resourceRules: [
                { apiGroups: [""], resources: ["namespaces"] },
                { apiGroups: [""], resources: ["secrets"], operations: ["CREATE", "UPDATE"] },
            ],
            variables: [{ name: "own", expression: "request.userInfo.username.split(':')[2]" }, podSecurity],
            validations: pullRequestValidations(),
        });
        this.policyNames = pulumi.all([issuer, pullRequests]);

        this.registerOutputs({ deployerRoleName: this.deployerRoleName, policyNames: this.policyNames });
    }

    /** A ValidatingAdmissionPolicy that denies (never only warns) and its cluster-wide binding; its name. */
    private policy(
        name: string,
        role: string,
        childOpts: pulumi.CustomResourceOptions,
        meta: (name: pulumi.Input<string>) => k8s.types.input.meta.v1.ObjectMeta,
        spec: {
            matchConditions: { name: string; expression: pulumi.Input<string> }[];
            resourceRules: { apiGroups: string[]; resources: string[]; operations?: string[] }[];
            variables: { name: string; expression: string }[];
            validations: Validation[];
        },
    ): pulumi.Output<string> {
        const policyName = `esteira-tenants-${role}`;
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-${role}`,
            {
                metadata: meta(policyName),
                spec: {
                    // An error evaluating the policy refuses the request: never admitted by accident.
                    failurePolicy: "Fail",
                    matchConstraints: {
                        resourceRules: spec.resourceRules.map((rule) => ({
                            apiGroups: rule.apiGroups,
                            apiVersions: ["*"],
                            operations: rule.operations ?? ["CREATE", "UPDATE", "DELETE"],
                            resources: rule.resources,
                        })),
                    },
                    matchConditions: spec.matchConditions,
                    variables: spec.variables,
                    validations: spec.validations,
                },
            },
            childOpts,
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-${role}-binding`,
            { metadata: meta(policyName), spec: { policyName: policy.metadata.name, validationActions: ["Deny"] } },
            childOpts,
        );
        return policy.metadata.name;
    }
}
