/**
 * Stack configuration → one typed object that hands each component its Args. Pure: no Pulumi
 * engine, no filesystem, no environment; every rule is unit-tested against its exact message.
 *
 * Defaults of component arguments are NOT applied here: an unset optional key stays `undefined`
 * and the component applies its documented default. Only values that depend on the stack itself
 * (environment, namespace, names derived from them, image tags) are derived here.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterArgs } from "../components/cluster";
import { DATABASE_DEFAULTS, type DatabaseArgs } from "../components/database";
import { ENVIRONMENT_NAMESPACE_DEFAULTS, type NamespaceConfigKeys, STACK_NAMESPACE_KEYS } from "../components/environment-namespace";
import type { GitHubEnvironmentArgs } from "../components/github-environment";
import type { GitHubRepositoryArgs } from "../components/github-repository";
import type { MonitoringArgs } from "../components/monitoring";
import type { ImageArgs } from "../components/image";
import type { StackPromotionArgs, VerifiedPromotionArgs } from "../components/promoted-image";
import type { RepositorySettingsArgs } from "../components/repository-settings";
import type { ScheduledJobArgs } from "../components/scheduled-job";
import { zoneProblem, tlsAnnotations } from "../components/parts/tls";
import { WEB_SERVICE_DEFAULTS, type WebServiceArgs } from "../components/web-service";
import type { WorkerArgs } from "../components/worker";
import * as path from "path";
import { CONFIG_NAMESPACE, ConfigError, describe, formatIssue } from "./errors";
import { dns1123Label, fullStackName, imageHost, registryHost } from "./rules";
import {
    DatabaseSettings,
    ImageSource,
    JobSettings,
    MonitoringSettings,
    NetworkPolicySettings,
    RegistrySettings,
    SECRET_KEYS,
    SECRET_LIKE_BUILD_ARG,
    SECRET_MAPS,
    SecretMapName,
    SecretMaps,
    secretMapsSchema,
    SecretName,
    ServiceSettings,
    stackSchema,
    StackSettings,
    WorkerSettings,
} from "./schema";

type Secret = pulumi.Output<string>;

/** The registry, with the pull token (for the pull secret) and the push token (for builds). */
export type Registry = RegistrySettings & { readonly token: Secret; readonly pushToken: Secret };

/**
 * Where a workload's image comes from, as its component takes it: a reference (a pin among them),
 * a build, or a promotion from another stack or from a stage's verification.
 */
export type WorkloadImage = { ref: string } | { build: ImageArgs } | StackPromotionArgs | VerifiedPromotionArgs;

/** A workload's component Args, with its image still to be built, promoted or taken as it is, and nothing the program wires in. */
export type Configured<Args> = Omit<
    Args,
    "image" | "namespace" | "imagePullSecrets" | "databaseSecretName" | "databaseSecretChecksum" | "secretChecksums"
> & {
    readonly image: WorkloadImage;
    /** Key of the namespace (esteira:namespaces) to run in. Default: the stack's own namespace. */
    readonly namespace?: string;
};
/** A service: the WebService's Args. */
export type ServiceConfig = Configured<WebServiceArgs>;
/** A worker: the Worker's Args. */
export type WorkerConfig = Configured<WorkerArgs>;
/** A scheduled job: the ScheduledJob's Args. */
export type JobConfig = Configured<ScheduledJobArgs>;

/** The three kinds of workload, by their key in the stack file. */
export const WORKLOAD_KINDS = ["services", "workers", "jobs"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

type AnyWorkloadSettings = ServiceSettings | WorkerSettings | JobSettings;

/** Every workload of a stack as `[kind, name, settings]`, services first. */
function workloadsOf(plain: StackSettings): [WorkloadKind, string, AnyWorkloadSettings][] {
    return WORKLOAD_KINDS.flatMap((kind) =>
        Object.entries<AnyWorkloadSettings>(plain[kind] ?? {}).map(([name, settings]): [WorkloadKind, string, AnyWorkloadSettings] => [
            kind,
            name,
            settings,
        ]),
    );
}

/** The validated configuration of one stack: each component's Args, secrets attached where they are used. */
export interface EsteiraConfig {
    /** The stack name (`pulumi stack`). */
    readonly stack: string;
    /** The Pulumi project name. */
    readonly project: string;
    /** Environment name, used in labels and names. Default: the stack name. */
    readonly environment: string;
    /** Namespace the workloads run in. Default: `<project>-<environment>`. */
    readonly namespace: string;
    /** The namespace exists already and the stack uses it without owning it. Default: false. */
    readonly adoptNamespace?: boolean;
    /** Each namespace of the environment, the stack's own first, with the Secrets its workloads read. */
    readonly namespaces: readonly NamespaceConfig[];
    /** The Kubernetes Secrets the stack creates (esteira:secrets): name → key → value, each a Pulumi secret. */
    readonly appSecrets: Readonly<Record<string, Readonly<Record<string, Secret>>>>;
    readonly cluster: ClusterArgs;
    /** Absent when the stack has no database; its link to the cluster is wired in index.ts. */
    readonly database?: DistributiveOmit<DatabaseArgs, "cluster"> | Extract<DatabaseSettings, { mode: "namespace" }>;
    /** Absent only in a base stack without services. */
    readonly registry?: Registry;
    /** The stack's GitHub environment; absent where the repository is not managed (local stacks). */
    readonly github?: Omit<GitHubEnvironmentArgs, "kubeconfig" | "registryPushToken" | "variables"> & {
        /** The stack file's own Actions environment variables, beside the ones the program writes. */
        readonly environmentVariables?: Record<string, string>;
    };
    /** Repository-level Actions secrets and variables this stack owns; absent when it owns none. */
    readonly githubRepository?: GitHubRepositoryArgs;
    /**
     * DigitalOcean monitoring; the public services to check (service → the path checked and whether
     * it is HTTPS) are wired to their endpoints in index.ts, with the clusters this stack owns.
     */
    readonly monitoring?: Omit<MonitoringArgs, "endpoints" | "databaseClusterId" | "kubernetesClusterId"> & {
        readonly checks: Readonly<Record<string, { readonly path: string; readonly https: boolean }>>;
    };
    /** The further egress every pod may have; the scraper's namespace is handed to each service. */
    readonly networkPolicy?: NetworkPolicySettings;
    /** Empty only in a base stack (esteira:tenants). */
    readonly services: Readonly<Record<string, ServiceConfig>>;
    readonly workers: Readonly<Record<string, WorkerConfig>>;
    readonly jobs: Readonly<Record<string, JobConfig>>;
    /** Whether the stack makes the smoke test's read-only identity and its long-lived token. Default: true. */
    readonly smokeTestIdentity: boolean;
    /** Present when this stack hosts others: the ServiceAccount they deploy with. */
    readonly tenants?: { readonly serviceAccountName?: string };
    /** The repository's own settings, in the one stack that manages them. */
    readonly repository?: RepositorySettingsArgs;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A namespace of the environment, and the Secrets that go in it beside its workloads. */
export interface NamespaceConfig {
    /** Its key in esteira:namespaces; absent for the stack's own namespace (esteira:namespace). */
    readonly key?: string;
    readonly name: string;
    /** Its workloads read the database Secret, so it holds a copy. */
    readonly database: boolean;
    /** The Secrets of esteira:secrets its workloads read, by name. */
    readonly secrets: readonly string[];
    /** It exists already and the stack uses it without owning it. Default: false. */
    readonly adoptNamespace?: boolean;
    /** The stack-file keys that name and adopt it, for messages. */
    readonly configKeys: NamespaceConfigKeys;
}

/** A secret map as the loader reads it: its shape with each value a Pulumi secret (a non-string is `null`). */
export interface RawSecretMap {
    /** The stack file holds the values in plain text (not set with `--secret`). */
    readonly plain: boolean;
    readonly values: unknown;
}

/** What the parser needs from the stack: plain values and which secret keys are set. */
export interface RawConfig {
    readonly stack: string;
    readonly project: string;
    /** Plain `esteira:` values, already parsed from their YAML/JSON form. */
    readonly values: Readonly<Record<string, unknown>>;
    /** Secret values that are set, by name. */
    readonly secrets: Readonly<Partial<Record<SecretName, Secret>>>;
    /**
     * Secret maps that are set, by name: their shape with each value a Pulumi secret (a non-string
     * value is `null`), and whether the stack file holds them in plain text.
     */
    readonly secretMaps?: Partial<Record<SecretMapName, RawSecretMap>>;
    /**
     * The full config keys Pulumi holds as secrets (set with `--secret`): a plain key among them is
     * refused, and so is a secret key missing from them (set in plain text).
     */
    readonly secretKeys: readonly string[];
    /** The commit being deployed, when known; tags built images. */
    readonly commitSha?: string;
    /** The organization the stack belongs to (`pulumi.getOrganization()`), for full stack names. */
    readonly organization?: string;
    /** `github:owner` (or GITHUB_OWNER), which owns `esteira:github.repository`. */
    readonly githubOwner?: string;
    /** Whether a path (relative to the project) exists; given, build contexts and Dockerfiles are checked. */
    readonly pathExists?: (path: string) => boolean;
}

/** How a message names one workload of each kind. */
const KIND_NOUN: Record<WorkloadKind, string> = { services: "service", workers: "worker", jobs: "job" };

/** Where a message points a user to set one value of a secret map. */
function setSecretValue(stack: string, name: SecretMapName, path: string): string {
    return `\`pulumi config set --secret --path '${SECRET_MAPS[name].key}.${path}' <value> -s ${stack}\``;
}

/** Each workload's Secret references that esteira creates: the database Secret's, and those of esteira:secrets. */
function secretReferenceProblems(raw: RawConfig, plain: StackSettings, appSecrets: Record<string, Record<string, unknown>>): string[] {
    const problems: string[] = [];
    const databaseSecret = plain.database && (plain.database.secretName ?? DATABASE_DEFAULTS.secretName);
    const read = new Set<string>();
    for (const [kind, name, workload] of workloadsOf(plain)) {
        for (const [variable, ref] of Object.entries(workload.secretEnv ?? {})) {
            if (ref.external) continue;
            const at = `${raw.stack}: ${kind}.${name}.secretEnv.${variable}`;
            if (ref.secretName === databaseSecret) {
                if (!DATABASE_KEYS.includes(ref.key)) {
                    problems.push(
                        `${at}: the database Secret "${databaseSecret}" has the keys ${DATABASE_KEYS.join(" and ")}; received key ${describe(ref.key)}`,
                    );
                }
                continue;
            }
            const secret = appSecrets[ref.secretName];
            if (!secret) {
                problems.push(
                    `${at}: the Secret "${ref.secretName}" is not created by this stack; set its values with ${setSecretValue(raw.stack, "secrets", `${ref.secretName}.${ref.key}`)}, or mark the reference external: true if something else creates it in the namespace`,
                );
                continue;
            }
            read.add(ref.secretName);
            if (!(ref.key in secret)) {
                problems.push(
                    `${at}: the Secret "${ref.secretName}" has no key ${describe(ref.key)} (it has ${Object.keys(secret).join(", ")}); set it with ${setSecretValue(raw.stack, "secrets", `${ref.secretName}.${ref.key}`)}`,
                );
            }
        }
    }
    for (const secretName of Object.keys(appSecrets)) {
        const taken =
            secretName === databaseSecret
                ? "the database Secret (database.secretName)"
                : secretName === (plain.registry?.pullSecretName ?? ENVIRONMENT_NAMESPACE_DEFAULTS.pullSecretName)
                  ? "the registry pull secret (registry.pullSecretName)"
                  : undefined;
        if (taken) {
            problems.push(`${raw.stack}: secrets.${secretName}: "${secretName}" is already ${taken}; name this Secret otherwise`);
        } else if (!read.has(secretName)) {
            problems.push(
                `${raw.stack}: secrets.${secretName}: no service, worker or job reads this Secret; reference it in a secretEnv, or remove it with \`pulumi config rm --path '${SECRET_MAPS.secrets.key}.${secretName}' -s ${raw.stack}\``,
            );
        }
    }
    return problems;
}

/** Build arguments that look like secrets, and the build secrets each build reads and the stack sets. */
function buildSecretProblems(raw: RawConfig, plain: StackSettings, buildSecrets: Record<string, unknown>): string[] {
    const problems: string[] = [];
    const read = new Set<string>();
    for (const [kind, name, workload] of workloadsOf(plain)) {
        if (!("build" in workload.image)) continue;
        const build = workload.image.build;
        for (const arg of Object.keys(build.args ?? {}).filter((arg) => SECRET_LIKE_BUILD_ARG.test(arg))) {
            problems.push(
                `${raw.stack}: ${kind}.${name}.image.build.args.${arg}: looks like a secret, and a build argument is kept in plain text in the image's history and the stack's state; pass it as a BuildKit secret instead: set it with ${setSecretValue(raw.stack, "buildSecrets", arg)}, list it in image.build.secrets, and read it in the Dockerfile with RUN --mount=type=secret,id=${arg}`,
            );
        }
        for (const id of build.secrets ?? []) {
            read.add(id);
            if (!(id in buildSecrets)) {
                problems.push(
                    `${raw.stack}: ${kind}.${name}.image.build.secrets: ${describe(id)} is not set; set it with ${setSecretValue(raw.stack, "buildSecrets", id)}`,
                );
            }
        }
    }
    for (const id of Object.keys(buildSecrets).filter((id) => !read.has(id))) {
        problems.push(
            `${raw.stack}: buildSecrets.${id}: no image build reads it; list it in a build's image.build.secrets, or remove it with \`pulumi config rm --path '${SECRET_MAPS.buildSecrets.key}.${id}' -s ${raw.stack}\``,
        );
    }
    return problems;
}

/** How a service is exposed: HTTPS where it is asked for (and, in production, wherever it is public), /metrics never public. */
function exposureProblems(raw: RawConfig, plain: StackSettings, name: string, svc: ServiceSettings): string[] {
    const problems: string[] = [];
    const at = `${raw.stack}: services.${name}`;
    const type = svc.service?.type ?? WEB_SERVICE_DEFAULTS.service.type;
    const { tls, tlsWaiver } = svc.service ?? {};
    const clusterMode = plain.cluster?.mode ?? "kubeconfig";
    if (tls) {
        if (type !== "LoadBalancer") {
            problems.push(
                `${at}.service.tls: TLS is terminated at a DigitalOcean load balancer, so it needs service.type LoadBalancer; received ${describe(type)}`,
            );
        }
        if (clusterMode !== "digitalocean" && clusterMode !== "stack") {
            problems.push(
                `${at}.service.tls: the certificate, the DNS record and the load balancer are DigitalOcean's, so it needs cluster.mode "digitalocean" or "stack"; received cluster.mode ${describe(clusterMode)}`,
            );
        }
        const outside = zoneProblem(tls);
        if (outside) problems.push(`${at}.service.tls.hostname: ${outside}`);
        for (const key of Object.keys(svc.service?.annotations ?? {}).filter((key) => key in tlsAnnotations(""))) {
            problems.push(`${at}.service.annotations: ${describe(key)} is set by service.tls; remove it`);
        }
        if (tlsWaiver !== undefined) {
            problems.push(
                `${at}.service.tlsWaiver: a waiver is for a public service without TLS, and this one has service.tls; remove one of them`,
            );
        }
    } else if (plain.production && type === "LoadBalancer" && tlsWaiver === undefined) {
        problems.push(
            `${at}.service: a production stack (esteira:production: true) serves its public services over HTTPS: set service.tls: {hostname: <a name in a DigitalOcean DNS zone>}, or record why this one may not with service.tlsWaiver: "<reason>"`,
        );
    }
    const port = svc.port ?? WEB_SERVICE_DEFAULTS.port;
    if (type === "LoadBalancer" && svc.metrics && (svc.metrics.port ?? port) === port) {
        problems.push(
            `${at}.metrics.port: /metrics would be served to the internet through the load balancer, on the container port ${port}; serve it on a port of its own (e.g. metrics: {port: 9100}), which the Service never exposes`,
        );
    }
    return problems;
}

/** The keys of the database Secret. */
const DATABASE_KEYS = ["DATABASE_URL", "DATABASE_DIRECT_URL"];
/** Namespaces every cluster has from the start: no stack ever creates them. */
const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** GitHub allows at most this many Actions variables per environment. */
export const MAX_ENVIRONMENT_VARIABLES = 100;
/** Actions variables besides one URL per service: ESTEIRA_STACK and ESTEIRA_NAMESPACE. */
const FIXED_VARIABLES = 2;
/**
 * Longest service name that can migrate: its Job is auto-named `<name>-migrate-<8 characters>`, and
 * Kubernetes copies a Job's name into a label of its pods, at most 63 characters.
 */
export const MAX_MIGRATING_SERVICE_NAME = 63 - "-migrate-".length - 8;
/** Longest service name that can seed: its Job is auto-named `<name>-seed-<8 characters>`, as the migration's. */
export const MAX_SEEDING_SERVICE_NAME = 63 - "-seed-".length - 8;

/** Rules that span keys (and secrets), which no single key's schema can see. */
function crossKeyProblems(raw: RawConfig, plain: StackSettings): string[] {
    const problems: string[] = [];
    const { secrets } = raw;
    const missingSecret = (name: SecretName, why: string, example: string) =>
        problems.push(
            `${raw.stack}: ${SECRET_KEYS[name].key}: is required ${why}; set it with \`pulumi config set --secret ${SECRET_KEYS[name].key} ${example} -s ${raw.stack}\``,
        );
    const { cluster, database } = plain;
    const services = plain.services ?? {};
    if (cluster?.mode === "digitalocean" && !cluster.tokenFromEnvironment && !secrets.digitaloceanToken) {
        missingSecret("digitaloceanToken", "when cluster.mode is digitalocean (the provider and the kubeconfig use it)", "<token>");
    }
    if (cluster?.mode === "digitalocean" && cluster.tokenFromEnvironment && secrets.digitaloceanToken) {
        problems.push(
            `${raw.stack}: ${SECRET_KEYS.digitaloceanToken.key}: must not be set when cluster.tokenFromEnvironment is true: the stack's config, which everyone holding its passphrase decrypts, would hold the token; remove it with \`pulumi config rm ${SECRET_KEYS.digitaloceanToken.key} -s ${raw.stack}\` and give the deploying job DIGITALOCEAN_TOKEN`,
        );
    }
    const { monitoring } = plain;
    if (monitoring?.slackChannel !== undefined && !secrets.alertSlackWebhookUrl) {
        missingSecret("alertSlackWebhookUrl", "when monitoring.slackChannel is set", "'https://hooks.slack.com/services/…'");
    }
    if (secrets.alertSlackWebhookUrl && monitoring?.slackChannel === undefined) {
        problems.push(
            `${raw.stack}: ${SECRET_KEYS.alertSlackWebhookUrl.key}: is set, but monitoring.slackChannel is not; name the channel it posts to, or remove the secret`,
        );
    }
    if (monitoring && cluster?.mode !== "digitalocean" && cluster?.mode !== "stack") {
        problems.push(
            `${raw.stack}: monitoring: DigitalOcean checks and alerts need a DigitalOcean account, so cluster.mode "digitalocean" or "stack"; received cluster.mode ${describe(cluster?.mode ?? "kubeconfig")}`,
        );
    }
    if (database?.mode === "external" && !secrets.databaseUrl) {
        missingSecret("databaseUrl", "when database.mode is external", "'postgresql://user:password@host:5432/db?sslmode=require'");
    }
    if (database?.mode === "server" && database.stack === undefined && !secrets.databaseAdminUrl) {
        missingSecret(
            "databaseAdminUrl",
            "when database.mode is server and database.stack names no stack to read it from",
            "'postgresql://admin:password@host:5432/postgres?sslmode=require'",
        );
    }
    if (database?.mode === "server" && database.stack !== undefined && secrets.databaseAdminUrl) {
        problems.push(
            `${raw.stack}: database.stack: ${describe(database.stack)} and the secret esteira:databaseAdminUrl both name an admin connection; keep one (\`pulumi config rm esteira:databaseAdminUrl -s ${raw.stack}\`, or remove database.stack)`,
        );
    }
    if (plain.namespace !== undefined && SYSTEM_NAMESPACES.includes(plain.namespace) && !plain.adoptNamespace) {
        problems.push(
            `${raw.stack}: namespace: ${describe(plain.namespace)} is one Kubernetes creates itself: this stack would take it over and delete it, with everything in it, when it goes; name a namespace of the stack's own, or set esteira:adoptNamespace: true to use it without ever deleting it`,
        );
    }
    const here = { organization: raw.organization, project: raw.project };
    const self = fullStackName(raw.stack, here);
    const selfReference = (key: string, stack: string | undefined, fix: string) => {
        if (stack !== undefined && fullStackName(stack, here) === self) {
            problems.push(`${raw.stack}: ${key}: names this stack itself (${describe(stack)}); ${fix}`);
        }
    };
    selfReference(
        "cluster.stack",
        cluster?.mode === "stack" ? cluster.stack : undefined,
        "name the stack that owns the cluster, or use cluster.mode digitalocean or kubeconfig",
    );
    selfReference(
        "database.stack",
        database?.mode === "shared" || database?.mode === "server" ? database.stack : undefined,
        "name the stack that owns the database cluster, or use database.mode digitalocean or external",
    );
    const hasDatabase = database !== undefined;
    const owner = new Map<string, string>();
    for (const [kind, name, workload] of workloadsOf(plain)) {
        const other = owner.get(name);
        if (other) {
            problems.push(
                `${raw.stack}: ${kind}.${name}: the name "${name}" is taken by ${other}; services, workers and jobs name their Kubernetes objects and images alike, so use each name once`,
            );
        }
        owner.set(name, `${kind}.${name}`);
        if (workload.namespace !== undefined && !(workload.namespace in (plain.namespaces ?? {}))) {
            problems.push(
                `${raw.stack}: ${kind}.${name}.namespace: ${describe(workload.namespace)} is not a key of esteira:namespaces; declare it there (esteira:namespaces: {${workload.namespace}: {}}), or remove the key to run in the stack's namespace`,
            );
        }
        if ("build" in workload.image && !plain.images) {
            problems.push(
                `${raw.stack}: ${kind}.${name}.image.build: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to push the image to`,
            );
        }
        if ("verifiedIn" in workload.image && !plain.images) {
            problems.push(
                `${raw.stack}: ${kind}.${name}.image.verifiedIn: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to find the verified image in`,
            );
        }
        if ("verifiedIn" in workload.image && !raw.commitSha && plain.pins?.[name] === undefined) {
            problems.push(
                `${raw.stack}: ${kind}.${name}.image.verifiedIn: needs the commit being deployed (ESTEIRA_COMMIT or GITHUB_SHA, else a git checkout) to find the image verified for it`,
            );
        }
        if ("build" in workload.image && raw.pathExists) {
            const { context, dockerfile } = workload.image.build;
            const file = dockerfile ?? path.posix.join(context, "Dockerfile");
            if (!raw.pathExists(context)) {
                problems.push(
                    `${raw.stack}: ${kind}.${name}.image.build.context: ${describe(context)} does not exist (paths are relative to the project directory, where Pulumi.yaml is)`,
                );
            } else if (!raw.pathExists(file)) {
                problems.push(
                    `${raw.stack}: ${kind}.${name}.image.build.dockerfile: ${describe(file)} does not exist (paths are relative to the project directory, where Pulumi.yaml is)`,
                );
            }
        }
        if ("promoteFrom" in workload.image) {
            selfReference(
                `${kind}.${name}.image.promoteFrom`,
                workload.image.promoteFrom,
                "promote from the stack before this one in the line, or build the image here (image.build)",
            );
        }
        if (kind === "services") problems.push(...releaseStepProblems(raw, name, workload as ServiceSettings, hasDatabase));
        if (
            database &&
            (workload.database ?? true) &&
            (workload.env?.DATABASE_URL !== undefined || workload.secretEnv?.DATABASE_URL !== undefined)
        ) {
            problems.push(
                `${raw.stack}: ${kind}.${name}: DATABASE_URL comes from the ${database.secretName ?? DATABASE_DEFAULTS.secretName} secret when the stack has a database; remove it from env/secretEnv, or set database: false on the ${KIND_NOUN[kind]}`,
            );
        }
    }
    for (const name of Object.keys(plain.pins ?? {}).filter((pinned) => !owner.has(pinned))) {
        problems.push(
            `${raw.stack}: pins.${name}: no service, worker or job ${describe(name)} in this stack; pin only workloads the stack runs`,
        );
    }
    if (plain.repository && !plain.github) {
        problems.push(`${raw.stack}: repository: needs esteira:github.repository, the repository these settings apply to`);
    }
    for (const [name, svc] of Object.entries(services)) problems.push(...exposureProblems(raw, plain, name, svc));
    if (database?.mode === "digitalocean" && database.restoreFrom) {
        const own = database.name ?? `${raw.project}-${plain.environment ?? raw.stack}-db`;
        if (database.restoreFrom.cluster === own) {
            problems.push(
                `${raw.stack}: database.restoreFrom.cluster: ${describe(own)} is this stack's own database cluster; name the cluster whose backup to restore (e.g. esteira-prod-db)`,
            );
        }
    }
    // A managed database joins the VPC of the DOKS cluster this stack creates and admits only that
    // cluster; a cluster of another stack's has no VPC here.
    if (database?.mode === "digitalocean" && cluster?.mode === "digitalocean" && database.region && database.region !== cluster.region) {
        problems.push(
            `${raw.stack}: database.region: must be the cluster's region (${describe(cluster.region)}), the one region its private network reaches; received ${describe(database.region)} (leave it out: it defaults to the cluster's)`,
        );
    }
    if (database?.mode === "digitalocean" && cluster?.mode !== "digitalocean") {
        problems.push(
            `${raw.stack}: database.mode: "digitalocean" joins the VPC of the DOKS cluster this stack creates and admits only that cluster through its firewall, so it needs cluster.mode "digitalocean"; received cluster.mode ${describe(cluster?.mode ?? "kubeconfig")} (use database.mode "shared" with the stack that owns the cluster, or "external" with esteira:databaseUrl)`,
        );
    }
    // A shared database cluster's firewall admits its owner's Kubernetes cluster, and no other.
    if (
        database?.mode === "shared" &&
        (cluster?.mode !== "stack" || fullStackName(cluster.stack, here) !== fullStackName(database.stack, here))
    ) {
        const received =
            cluster?.mode === "stack"
                ? `cluster.stack ${describe(cluster.stack)}`
                : `cluster.mode ${describe(cluster?.mode ?? "kubeconfig")}`;
        problems.push(
            `${raw.stack}: database.mode: "shared" uses stack ${describe(database.stack)}'s database cluster, whose firewall admits only that stack's Kubernetes cluster, so it needs cluster.mode "stack" with cluster.stack ${describe(database.stack)}; received ${received}`,
        );
    }
    const { images, registry } = plain;
    if (images && registry && imageHost(images.repository) !== registryHost(registry.server)) {
        problems.push(
            `${raw.stack}: images.repository: pushes to ${describe(imageHost(images.repository))}, but esteira:registry.server is ${describe(registry.server)}, the only registry the push token authenticates to; put the images on ${registryHost(registry.server)} or point esteira:registry at ${imageHost(images.repository)}`,
        );
    }
    if (plain.github) {
        if (!raw.githubOwner) {
            problems.push(
                `${raw.stack}: github:owner: is required when esteira:github is set (the owner of esteira:github.repository); set it with \`pulumi config set github:owner <owner> -s ${raw.stack}\``,
            );
        }
        const variables = FIXED_VARIABLES + Object.keys(services).length;
        const own = Object.keys(plain.github.environmentVariables ?? {}).length;
        if (variables > MAX_ENVIRONMENT_VARIABLES) {
            problems.push(
                `${raw.stack}: github: the environment would get ${variables} Actions variables (ESTEIRA_STACK, ESTEIRA_NAMESPACE and one URL per service), more than the ${MAX_ENVIRONMENT_VARIABLES} GitHub allows; split the services across stacks`,
            );
        } else if (variables + own > MAX_ENVIRONMENT_VARIABLES) {
            problems.push(
                `${raw.stack}: github.environmentVariables: ${own} variables beside the ${variables} esteira writes (ESTEIRA_STACK, ESTEIRA_NAMESPACE and one URL per service) make ${variables + own}, more than the ${MAX_ENVIRONMENT_VARIABLES} GitHub allows per environment; keep at most ${MAX_ENVIRONMENT_VARIABLES - variables}, or move some to github.repositoryVariables`,
            );
        }
    }
    return problems;
}

/** The steps a service runs as Jobs before its rollout, by key, with the suffix of their Jobs' names and the longest name that allows. */
const RELEASE_STEPS = [
    { step: "migrate", job: "migration Job is named <name>-migrate-<8 characters>", max: MAX_MIGRATING_SERVICE_NAME },
    { step: "seed", job: "seed Job is named <name>-seed-<8 characters>", max: MAX_SEEDING_SERVICE_NAME },
] as const;

/** A service's migration and seed: a name their Jobs can carry, and a DATABASE_URL to run with. */
function releaseStepProblems(raw: RawConfig, name: string, svc: ServiceSettings, hasDatabase: boolean): string[] {
    const problems: string[] = [];
    const getsDatabase = hasDatabase && (svc.database ?? true);
    for (const { step, job, max } of RELEASE_STEPS) {
        if (!svc[step]) continue;
        if (name.length > max) {
            problems.push(
                `${raw.stack}: services.${name}: a service with ${step} has a name of at most ${max} characters: its ${job}, which Kubernetes copies into a label of at most 63; received ${name.length} characters`,
            );
        }
        if (!getsDatabase && svc.env?.DATABASE_URL === undefined && svc.secretEnv?.DATABASE_URL === undefined) {
            problems.push(
                `${raw.stack}: services.${name}.${step}: would run with no DATABASE_URL: ${hasDatabase ? "the service sets database: false" : "the stack has no esteira:database"}; give it one (esteira:database, or secretEnv.DATABASE_URL), or remove ${step}`,
            );
        }
    }
    return problems;
}

/** The environment and namespace, which default from the stack and project and must make valid names. */
function names(raw: RawConfig, plain: StackSettings): { environment: string; namespace: string } {
    const environment = plain.environment ?? raw.stack;
    if (plain.environment === undefined && !dns1123Label("environment").safeParse(environment).success) {
        throw new ConfigError(raw.stack, [
            `${raw.stack}: environment: the stack name ${describe(raw.stack)} is not a DNS-1123 label, so it cannot name the namespace; name the stack like pr-123 (lower case, digits, '-') or set esteira:environment`,
        ]);
    }
    const namespace = plain.namespace ?? `${raw.project}-${environment}`;
    // The derived namespace must satisfy the same rule as an explicit one.
    if (!dns1123Label("namespace").safeParse(namespace).success) {
        throw new ConfigError(raw.stack, [
            `${raw.stack}: namespace: the default "<project>-<environment>" gives ${describe(namespace)}, which is not a DNS-1123 label; set esteira:namespace explicitly`,
        ]);
    }
    return { environment, namespace };
}

/** The name of each namespace of esteira:namespaces, by key: valid, and none of them another's or the stack's own. */
function extraNamespaces(raw: RawConfig, plain: StackSettings, environment: string, namespace: string): [string, string][] {
    const problems: string[] = [];
    const taken = new Map<string, string>([[namespace, "the stack's namespace"]]);
    const named = Object.entries(plain.namespaces ?? {}).map(([key, settings]): [string, string] => {
        const name = settings.name ?? `${raw.project}-${environment}-${key}`;
        if (settings.name === undefined && !dns1123Label("namespace").safeParse(name).success) {
            problems.push(
                `${raw.stack}: namespaces.${key}: the default "<project>-<environment>-<key>" gives ${describe(name)}, which is not a DNS-1123 label; set namespaces.${key}.name`,
            );
        }
        const other = taken.get(name);
        if (other)
            problems.push(`${raw.stack}: namespaces.${key}: its name ${describe(name)} is already ${other}'s; give it a name of its own`);
        if (SYSTEM_NAMESPACES.includes(name) && !settings.adoptNamespace) {
            problems.push(
                `${raw.stack}: namespaces.${key}: ${describe(name)} is one Kubernetes creates itself: this stack would take it over and delete it, with everything in it, when it goes; name a namespace of the stack's own, or set namespaces.${key}.adoptNamespace: true to use it without ever deleting it`,
            );
        }
        taken.set(name, `namespaces.${key}`);
        return [key, name];
    });
    if (problems.length > 0) throw new ConfigError(raw.stack, problems);
    return named;
}

/** The secret maps' shapes, validated; each problem names a key, never a value. */
function parseSecretMaps(raw: RawConfig, problems: string[]): SecretMaps | undefined {
    const given = Object.entries(raw.secretMaps ?? {}) as [SecretMapName, RawSecretMap][];
    for (const [name, map] of given) {
        if (map.plain) {
            problems.push(
                `${raw.stack}: ${SECRET_MAPS[name].key}: the stack file holds these values in plain text; remove them (\`pulumi config rm ${SECRET_MAPS[name].key} -s ${raw.stack}\`), rotate them, and set each with ${setSecretValue(raw.stack, name, SECRET_MAPS[name].path)}`,
            );
        }
    }
    const values = Object.fromEntries(given.map(([name, map]) => [name, map.values]));
    const parsed = secretMapsSchema.safeParse(values);
    if (parsed.success) return parsed.data;
    // Messages show where a value is, never the value: each one is masked.
    const masked = JSON.parse(JSON.stringify(values, (_key, value) => (pulumi.Output.isInstance(value) ? "[secret]" : value)));
    problems.push(...parsed.error.issues.map((issue) => formatIssue(raw.stack, issue, masked)));
    return undefined;
}

/** The stack's GitHub environment, and the repository-level Actions secrets and variables it owns. */
function github(
    plain: StackSettings,
    environment: string,
    maps: SecretMaps,
    protect: boolean,
): Pick<EsteiraConfig, "github" | "githubRepository"> {
    if (!plain.github) return {};
    // deployAfter orders the workflows' deploys (tools/stacks.ts); the program has no use for it.
    const { repositoryVariables, deployAfter: _, ...settings } = plain.github;
    const repositorySecrets = maps.githubSecrets?.repository;
    const ownsRepositoryValues = Object.keys({ ...repositoryVariables, ...repositorySecrets }).length > 0;
    return {
        github: { ...settings, environment: settings.environment ?? environment, secrets: maps.githubSecrets?.environment, protect },
        githubRepository: ownsRepositoryValues
            ? { repository: settings.repository, secrets: repositorySecrets, variables: repositoryVariables }
            : undefined,
    };
}

/** Monitoring, with the Slack webhook and the public services to check: each LoadBalancer service on its readiness path. */
function monitoringOf(plain: StackSettings, settings: MonitoringSettings, slackUrl: Secret | undefined): EsteiraConfig["monitoring"] {
    const { slackChannel, ...rest } = settings;
    const checks = Object.fromEntries(
        Object.entries(plain.services ?? {})
            .filter(([, svc]) => (svc.service?.type ?? WEB_SERVICE_DEFAULTS.service.type) === "LoadBalancer")
            .map(([name, svc]) => [
                name,
                { path: svc.probes?.readiness?.path ?? WEB_SERVICE_DEFAULTS.probes.readiness.path, https: svc.service?.tls !== undefined },
            ]),
    );
    return { ...rest, slack: slackChannel !== undefined && slackUrl ? { channel: slackChannel, url: slackUrl } : undefined, checks };
}

/**
 * Secrets where the program would not keep them secret: a plain key holding a value set with
 * `--secret` (anywhere inside it: `pulumi config set --secret --path` marks the whole key), and a
 * secret key set in plain text. Names the key, never the value.
 */
function secretProblems(raw: RawConfig, secretPlainKeys: readonly string[]): string[] {
    const { stack } = raw;
    const encrypted = new Set(raw.secretKeys);
    const inPlainKeys = secretPlainKeys.map((key) => {
        const full = `${CONFIG_NAMESPACE}:${key}`;
        return `${stack}: ${key}: holds a value set with --secret, but ${full} is plain configuration that the program would write in plain text into resources, the state and the preview; remove it (the \`secure:\` entry under ${full} in Pulumi.${stack}.yaml, or \`pulumi config rm --path '${full}.<path>' -s ${stack}\`) and give pods secrets through secretEnv (a Kubernetes Secret) or a secret the stack declares`;
    });
    const inPlainText = (Object.keys(SECRET_KEYS) as SecretName[])
        .filter((name) => raw.secrets[name] !== undefined && !encrypted.has(SECRET_KEYS[name].key))
        .map((name) => {
            const key = SECRET_KEYS[name].key;
            return `${stack}: ${key}: is set in plain text, so the stack file stores it unencrypted; set it again with \`pulumi config set --secret ${key} <value> -s ${stack}\``;
        });
    return [...inPlainKeys, ...inPlainText];
}

/** Validates one stack's raw configuration and hands each component its Args. */
export function parseConfig(raw: RawConfig): EsteiraConfig {
    const parsed = stackSchema.safeParse(raw.values);
    // A plain key that holds a secret is reported once, by name: no message may show what it holds.
    const secretPlainKeys = Object.keys(raw.values).filter((key) => raw.secretKeys.includes(`${CONFIG_NAMESPACE}:${key}`));
    const issues = parsed.success ? [] : parsed.error.issues.filter((issue) => !secretPlainKeys.includes(String(issue.path[0])));
    const problems = [...issues.map((issue) => formatIssue(raw.stack, issue, raw.values)), ...secretProblems(raw, secretPlainKeys)];
    // A base stack without workloads (esteira:tenants) pulls nothing: no registry, no token.
    const pullsImages = raw.values.tenants === undefined || raw.values.registry !== undefined;
    if (pullsImages && !raw.secrets.registryToken) {
        problems.push(
            `${raw.stack}: ${SECRET_KEYS.registryToken.key}: is required (a registry token with pull rights); set it with \`pulumi config set --secret ${SECRET_KEYS.registryToken.key} <token> -s ${raw.stack}\``,
        );
    }
    const maps = parseSecretMaps(raw, problems);
    // Rules across keys quote values, so they wait until no key holds a secret.
    const acrossKeys = parsed.success && secretPlainKeys.length === 0;
    if (acrossKeys) problems.push(...crossKeyProblems(raw, parsed.data));
    if (acrossKeys && maps) {
        if (maps.githubSecrets && !parsed.data.github) {
            problems.push(
                `${raw.stack}: ${SECRET_MAPS.githubSecrets.key}: needs esteira:github (its repository is where they are written); set esteira:github.repository`,
            );
        }
        problems.push(...secretReferenceProblems(raw, parsed.data, maps.secrets ?? {}));
        problems.push(...buildSecretProblems(raw, parsed.data, maps.buildSecrets ?? {}));
    }
    if (problems.length > 0 || !parsed.success || !maps) throw new ConfigError(raw.stack, problems);

    const plain = parsed.data;
    const { environment, namespace } = names(raw, plain);
    const { project, stack } = raw;
    const { protect } = plain;
    // The checks above make every secret used below set; `secret` only says so to the compiler.
    const secret = (name: SecretName): Secret => {
        const value = raw.secrets[name];
        if (!value) throw new ConfigError(stack, [`${stack}: ${SECRET_KEYS[name].key}: is required`]);
        return value;
    };
    const registry: Registry | undefined = plain.registry && {
        ...plain.registry,
        token: secret("registryToken"),
        pushToken: raw.secrets.registryPushToken ?? secret("registryToken"),
    };
    // Built images are tagged with the commit (when known) and the stack; pods use the digest.
    const tags = [...(raw.commitSha ? [`sha-${raw.commitSha.slice(0, 12)}`] : []), stack];
    const imageOf = (kind: WorkloadKind, name: string, image: ImageSource): WorkloadImage => {
        const pin = plain.pins?.[name];
        if ("ref" in image || "promoteFrom" in image || "build" in image) {
            if (pin !== undefined) return { ref: pin };
            if ("ref" in image) return image;
            if ("promoteFrom" in image) return { promoteFrom: image.promoteFrom, service: name };
        }
        // The checks above make images and the registry set where a workload builds or promotes.
        if (!plain.images || !registry) throw new ConfigError(stack, [`${stack}: ${kind}.${name}.image: needs esteira:images.repository`]);
        const { repository, cacheFrom, ...settings } = plain.images;
        if ("build" in image) {
            const secrets = image.build.secrets && Object.fromEntries(image.build.secrets.map((id) => [id, maps.buildSecrets![id]]));
            const cache = cacheFrom?.map((other) => `${other}/${name}`);
            return {
                build: { ...image.build, ...settings, secrets, repository: `${repository}/${name}`, cacheFrom: cache, tags, registry },
            };
        }
        return {
            verifiedIn: image.verifiedIn,
            service: name,
            repository: `${repository}/${name}`,
            commit: raw.commitSha ?? "",
            registry: { server: registry.server, username: registry.username, token: registry.token },
            pin,
        };
    };

    /** Each workload of a kind with the labels' values and its image to build, promote or take. */
    const configured = <Settings extends { image: ImageSource }>(
        kind: WorkloadKind,
        workloads: Record<string, Settings> | undefined,
        stackWide: Record<string, unknown> = {},
    ) =>
        Object.fromEntries(
            Object.entries(workloads ?? {}).map(([name, settings]) => [
                name,
                { ...settings, ...stackWide, environment, partOf: project, image: imageOf(kind, name, settings.image) },
            ]),
        );

    const cluster = plain.cluster ?? { mode: "kubeconfig" };
    const database = plain.database;
    const databaseSecret = database && (database.secretName ?? DATABASE_DEFAULTS.secretName);
    const workloads = workloadsOf(plain).map(([, , workload]) => workload);
    const inNamespace = (key?: string) => workloads.filter((workload) => workload.namespace === key);
    /** A namespace holding the database Secret and the Secrets of esteira:secrets that its workloads read. */
    const namespaceOf = (name: string, inIt: AnyWorkloadSettings[]): Pick<NamespaceConfig, "name" | "database" | "secrets"> => {
        const refs = inIt.flatMap((workload) => Object.values(workload.secretEnv ?? {}).filter((ref) => !ref.external));
        return {
            name,
            database: Boolean(database) && inIt.some((w) => (w.database ?? true) || refs.some((ref) => ref.secretName === databaseSecret)),
            secrets: [...new Set(refs.map((ref) => ref.secretName).filter((secretName) => secretName in (maps.secrets ?? {})))].sort(),
        };
    };
    return {
        stack,
        project,
        environment,
        namespace,
        adoptNamespace: plain.adoptNamespace,
        namespaces: [
            { ...namespaceOf(namespace, inNamespace(undefined)), adoptNamespace: plain.adoptNamespace, configKeys: STACK_NAMESPACE_KEYS },
            ...extraNamespaces(raw, plain, environment, namespace).map(([key, name]) => ({
                key,
                ...namespaceOf(name, inNamespace(key)),
                adoptNamespace: plain.namespaces?.[key]?.adoptNamespace,
                configKeys: { namespace: `namespaces.${key}`, adopt: `namespaces.${key}.adoptNamespace` },
            })),
        ],
        appSecrets: maps.secrets ?? {},
        cluster:
            cluster.mode === "digitalocean"
                ? {
                      ...cluster,
                      name: cluster.name ?? `${project}-${environment}`,
                      apiToken: cluster.tokenFromEnvironment ? undefined : secret("digitaloceanToken"),
                      protect,
                  }
                : cluster.mode === "kubeconfig"
                  ? { ...cluster, kubeconfig: raw.secrets.kubeconfig }
                  : cluster,
        database:
            database?.mode === "digitalocean"
                ? { ...database, name: database.name ?? `${project}-${environment}-db`, protect }
                : database?.mode === "namespace"
                  ? database
                  : database?.mode === "external"
                    ? { ...database, url: secret("databaseUrl"), adminUrl: raw.secrets.databaseAdminUrl }
                    : database?.mode === "server"
                      ? {
                            ...database,
                            protect,
                            adminUrl: database.stack === undefined ? secret("databaseAdminUrl") : undefined,
                            // Named after the environment, so each pull request's database is its own.
                            databaseName: database.databaseName ?? `${project}-${environment}`,
                            user: database.user ?? `${project}-${environment}`,
                        }
                      : database && {
                            ...database,
                            protect,
                            // Named after the environment, so each pull request's database is its own.
                            databaseName: database.databaseName ?? `${project}-${environment}`,
                            user: database.user ?? `${project}-${environment}`,
                        },
        registry,
        ...github(plain, environment, maps, protect),
        tenants: plain.tenants,
        smokeTestIdentity: plain.smokeTestIdentity ?? true,
        repository: plain.repository && plain.github && { ...plain.repository, repository: plain.github.repository, protect },
        monitoring: plain.monitoring && monitoringOf(plain, plain.monitoring, raw.secrets.alertSlackWebhookUrl),
        networkPolicy: plain.networkPolicy,
        services: configured("services", plain.services, { metricsNamespace: plain.networkPolicy?.metricsNamespace }),
        workers: configured("workers", plain.workers),
        jobs: configured("jobs", plain.jobs),
    };
}
