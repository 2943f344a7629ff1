/**
 * What the real providers, other stacks and the stack's secrets would supply, faked with stable
 * values derived from names so each resource's fake differs.
 */
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";

export const PROJECT = "esteira";
/** The organization a DIY backend reports. */
export const ORGANIZATION = "organization";

/** A digest as the registry would report it, derived from a name so each image differs. */
export function fakeDigest(name: string): string {
    return `sha256:${createHash("sha256").update(name).digest("hex")}`;
}

/** A stable numeric id for a name, as GitHub would return for a user or team. */
export function fakeId(name: string): number {
    return parseInt(createHash("sha256").update(name).digest("hex").slice(0, 8), 16);
}

/** The kubeconfig a base stack exports for the stacks it hosts, as EnvironmentAccess builds it. */
export const TENANT_KUBECONFIG = JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
        { name: "review", cluster: { server: "https://review.k8s.ondigitalocean.com", "certificate-authority-data": "UkVWSUVXLUNB" } },
    ],
    users: [{ name: "review", user: { token: "tenant-token" } }],
    contexts: [{ name: "review", context: { cluster: "review", user: "review" } }],
    "current-context": "review",
});

/** The IP range every fake VPC reports. */
export const FAKE_VPC_RANGE = "10.116.0.0/20";

/** Outputs of other stacks, as `StackReference`s read them: `<org>/<project>/<stack>` → outputs. */
export const OTHER_STACK_OUTPUTS: Record<string, Record<string, unknown>> = {
    [`${ORGANIZATION}/${PROJECT}/homolog`]: {
        images: { sample: `ghcr.io/esteira-dev/esteira/sample@${fakeDigest("homolog-sample")}` },
        clusterId: "homolog-doks-id",
        databaseClusterId: "homolog-db-cluster-id",
    },
};

/** GitHub environments that exist already, as the GitHub provider reads them: repository → environment → variables. */
export const GITHUB_ENVIRONMENTS: Record<string, Record<string, Record<string, string>>> = {};

/** The ClusterIP every Service gets under the mocks. */
export const FAKE_CLUSTER_IP = "10.96.0.42";

/** Fake state for resources whose outputs the program reads (e.g. a LoadBalancer's address). */
export type StateFaker = (args: pulumi.runtime.MockResourceArgs) => Record<string, any> | undefined;

/** What the real providers would report for the outputs the program reads. */
export const defaultState: StateFaker = (args) => {
    switch (args.type) {
        case "kubernetes:core/v1:Service":
            // The API server gives every Service its ClusterIP; a LoadBalancer also an address.
            return {
                spec: { ...args.inputs.spec, clusterIP: FAKE_CLUSTER_IP },
                ...(args.inputs.spec?.type === "LoadBalancer" ? { status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } } } : {}),
            };
        case "digitalocean:index/kubernetesCluster:KubernetesCluster":
            return {
                endpoint: `https://${args.name}.k8s.ondigitalocean.com`,
                kubeConfigs: [{ clusterCaCertificate: "Q0EtREFUQQ==", rawConfig: "EXPIRING-RAW-CONFIG", token: "expiring" }],
            };
        case "digitalocean:index/databaseCluster:DatabaseCluster":
            // A cluster read from another stack reports the VPC it was created in.
            return {
                privateHost: `private-${args.name}.db.ondigitalocean.com`,
                port: 25060,
                privateNetworkUuid: args.inputs.privateNetworkUuid ?? "homolog-vpc-id",
            };
        case "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool":
            return { privateHost: `private-${args.name}.db.ondigitalocean.com`, port: 25061 };
        case "digitalocean:index/databaseUser:DatabaseUser":
            return { password: "generated-password" };
        case "digitalocean:index/dnsRecord:DnsRecord":
            return { fqdn: args.inputs.name === "@" ? args.inputs.domain : `${args.inputs.name}.${args.inputs.domain}` };
        case "digitalocean:index/certificate:Certificate":
            // Auto-named by the provider.
            return { name: `${args.name}-0a1b2c3`, uuid: `${args.name}-uuid` };
        case "docker-build:index:Image":
            return { digest: fakeDigest(args.name) };
        case "kubernetes:core/v1:Secret":
            // The token controller fills a ServiceAccount token Secret in.
            return args.inputs.type === "kubernetes.io/service-account-token"
                ? { data: { token: Buffer.from(`token-of-${args.name}`).toString("base64"), "ca.crt": "Q0EtREFUQQ==" } }
                : undefined;
        // Dynamic resources: a PostgreSQL role (parts/postgres.ts) reports the password it generated;
        // a registry lookup (parts/registry-digest.ts) the digest the tag points at, stable per reference.
        case "pulumi-nodejs:dynamic:Resource":
            if (args.name.endsWith("-role")) return { password: "generated-role-password" };
            if (args.name.endsWith("-digest")) {
                return { digest: fakeDigest(`${args.inputs.domain}/${args.inputs.repository}:${args.inputs.tag}`) };
            }
            return undefined;
        case "pulumi:pulumi:StackReference":
            return { outputs: OTHER_STACK_OUTPUTS[args.inputs.name] ?? {}, secretOutputNames: [] };
        default:
            return undefined;
    }
};

/** Canned answers for provider functions the program invokes. */
export function callResults(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    switch (args.token) {
        // GitHub resolves names to numeric ids; derive stable fake ids from the names.
        case "github:index/getUser:getUser":
            return { ...args.inputs, id: String(fakeId(args.inputs.username)) };
        case "github:index/getTeam:getTeam":
            return { ...args.inputs, id: String(fakeId(args.inputs.slug)) };
        // The registry answers a tag with the digest it points at; a tag named `missing` is unknown.
        case "docker:index/getRegistryImage:getRegistryImage":
            if (String(args.inputs.name).includes("missing")) throw new Error(`manifest unknown: ${args.inputs.name}`);
            return { ...args.inputs, sha256Digest: fakeDigest(args.inputs.name) };
        // A VPC's range, as DigitalOcean reports it for the VPC's id.
        case "digitalocean:index/getVpc:getVpc":
            return { ...args.inputs, ipRange: FAKE_VPC_RANGE };
        case "github:index/getRepositoryEnvironments:getRepositoryEnvironments":
            return {
                ...args.inputs,
                environments: Object.keys(GITHUB_ENVIRONMENTS[args.inputs.repository] ?? {}).map((name) => ({ name, nodeId: name })),
            };
        case "github:index/getActionsEnvironmentVariables:getActionsEnvironmentVariables": {
            const variables = GITHUB_ENVIRONMENTS[args.inputs.name]?.[args.inputs.environment] ?? {};
            return { ...args.inputs, variables: Object.entries(variables).map(([name, value]) => ({ name, value })) };
        }
        default:
            return args.inputs;
    }
}

/** Test values for the secrets a stack holds encrypted (or has set by `pulumi config set --secret`). */
export const TEST_SECRETS: Record<string, string> = {
    "esteira:registryToken": "test-registry-token",
    "esteira:databaseUrl": "postgresql://app:test-password@db.internal:5432/app?sslmode=require",
    "esteira:databaseAdminUrl": "postgresql://admin:test-admin-password@db.internal:5433/postgres?sslmode=require",
};

/** The DigitalOcean token a stack without cluster.tokenFromEnvironment holds in its config. */
export const TEST_DIGITALOCEAN_TOKEN = { "digitalocean:token": "test-digitalocean-token" };

/** The commit tests deploy, so they never depend on the checkout. */
export const TEST_COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** A stand-in custom resource, e.g. the cluster that objects are `deletedWith`. */
export class FakeResource extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Cluster", name, {});
    }
}
