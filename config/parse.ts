/**
 * Stack configuration → one typed object that hands each component its Args. Pure: no Pulumi
 * engine, no filesystem, no environment; every rule is unit-tested against its exact message.
 * The rules across keys are a list of named rules of their own (cross-key-rules.ts).
 *
 * Defaults of component arguments are NOT applied here: an unset optional key stays `undefined`
 * and the component applies its documented default. Only values that depend on the stack itself
 * (environment, namespace, names derived from them, image tags) are derived here.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterArgs } from "../components/cluster";
import type { DatabaseArgs } from "../components/database";
import type { DatabaseBackupsArgs } from "../components/database-backups";
import { type NamespaceConfigKeys, STACK_NAMESPACE_KEYS } from "../components/environment-namespace";
import type { GitHubEnvironmentArgs } from "../components/github-environment";
import type { GitHubRepositoryArgs } from "../components/github-repository";
import type { MonitoringArgs } from "../components/monitoring";
import type { ImageArgs } from "../components/image";
import type { StackPromotionArgs, VerifiedPromotionArgs } from "../components/promoted-image";
import type { RepositorySettingsArgs } from "../components/repository-settings";
import type { ScheduledJobArgs } from "../components/scheduled-job";
import type { WebServiceArgs } from "../components/web-service";
import type { WorkerArgs } from "../components/worker";
import { CONFIG_NAMESPACE, ConfigError, describe, formatIssue } from "./errors";
import { dns1123Label } from "../vocabulary/rules";
import { BUILT_RULES, CROSS_KEY_RULES, problemsOf, RETIRED_RULES, SECRET_MAP_RULES } from "./cross-key-rules";
import { statefulNamesOf } from "./renames";
import { AnyWorkloadSettings, RawConfig, RawSecretMap, setSecretValue, SYSTEM_NAMESPACES, WorkloadKind, workloadsOf } from "./stack";

export { WORKLOAD_KINDS, type RawConfig, type RawSecretMap, type WorkloadKind } from "./stack";
import {
    DatabaseSettings,
    ImageSource,
    MonitoringSettings,
    NetworkPolicySettings,
    RegistrySettings,
    SECRET_KEYS,
    SECRET_MAPS,
    SecretMapName,
    SecretMaps,
    secretMapsSchema,
    SecretName,
    stackSchema,
    StackSettings,
    WatchSettings,
} from "../vocabulary/schema";
import { DATABASE_DEFAULTS, WEB_SERVICE_DEFAULTS } from "../vocabulary/defaults";

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
    /** The names of what holds data, which a change would replace (config/renames.ts); exported as `statefulNames`. */
    readonly statefulNames: Record<string, string>;
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
    /** The watch window after a deploy, as the stack file sets it (exported, defaults applied, as `watch`). */
    readonly watch?: WatchSettings;
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
    /** Dumps of the database, their restore and the drill; the program wires in namespace, database and the app's migrations. */
    readonly backups?: BackupsConfig;
}

/** esteira:backups as the component takes it, with its image still to be built or taken. */
export type BackupsConfig = Omit<
    DatabaseBackupsArgs,
    "image" | "namespace" | "imagePullSecrets" | "databaseSecretName" | "databaseSecretChecksum" | "adminUrl" | "databaseName" | "migration"
> & {
    readonly image: WorkloadImage;
    /** The service whose migrations the drill runs, when the stack file names one. */
    readonly restoreDrillService?: string;
};

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

/**
 * Every problem of the stack's configuration at once (the keys' rules, the secrets', the rules
 * across keys), thrown as one ConfigError; else the validated values and secret maps.
 */
function validated(raw: RawConfig): { plain: StackSettings; maps: SecretMaps } {
    const parsed = stackSchema.safeParse(raw.values);
    // A plain key that holds a secret is reported once, by name: no message may show what it holds.
    const secretPlainKeys = Object.keys(raw.values).filter((key) => raw.secretKeys.includes(`${CONFIG_NAMESPACE}:${key}`));
    // A retired value's message says why and what replaces it; the schema's would only say it is unknown.
    const retired = RETIRED_RULES.map((rule) => ({ rule, found: problemsOf([rule], raw) })).filter(({ found }) => found.length > 0);
    const issues = (parsed.success ? [] : parsed.error.issues)
        .filter((issue) => !secretPlainKeys.includes(String(issue.path[0])))
        .filter((issue) => !retired.some(({ rule }) => rule.replaces(issue)));
    const problems = [
        ...retired.flatMap(({ found }) => found),
        ...issues.map((issue) => formatIssue(raw.stack, issue, raw.values)),
        ...secretProblems(raw, secretPlainKeys),
    ];
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
    if (acrossKeys) problems.push(...problemsOf(CROSS_KEY_RULES, { raw, plain: parsed.data }));
    if (acrossKeys && maps) problems.push(...problemsOf(SECRET_MAP_RULES, { raw, plain: parsed.data, maps }));
    if (problems.length > 0 || !parsed.success || !maps) throw new ConfigError(raw.stack, problems);
    return { plain: parsed.data, maps };
}

/** What the Args are made from: the validated stack, its names and its secrets. */
interface Parsed {
    readonly raw: RawConfig;
    readonly plain: StackSettings;
    readonly maps: SecretMaps;
    readonly environment: string;
    readonly namespace: string;
    /** A secret the rules made sure is set (`secret` only says so to the compiler). */
    readonly secret: (name: SecretName) => Secret;
}

/** The cluster's Args, by mode: a DOKS cluster of this stack's is named after the environment. */
function clusterArgs({ raw, plain, environment, secret }: Parsed): ClusterArgs {
    const cluster = plain.cluster ?? { mode: "kubeconfig" };
    switch (cluster.mode) {
        case "digitalocean":
            return {
                ...cluster,
                name: cluster.name ?? `${raw.project}-${environment}`,
                apiToken: cluster.tokenFromEnvironment ? undefined : secret("digitaloceanToken"),
                protect: plain.protect,
            };
        case "kubeconfig":
            return { ...cluster, kubeconfig: raw.secrets.kubeconfig };
    }
}

/** The database's Args, by mode; absent when the stack has none. */
function databaseArgs({ raw, plain, environment, secret }: Parsed): EsteiraConfig["database"] {
    const { database, protect } = plain;
    if (!database) return undefined;
    // A database on a server is named after the environment, so each stack's on one server is its own.
    const own = (settings: { databaseName?: string; user?: string }) => ({
        databaseName: settings.databaseName ?? `${raw.project}-${environment}`,
        user: settings.user ?? `${raw.project}-${environment}`,
    });
    switch (database.mode) {
        case "digitalocean":
            return { ...database, name: database.name ?? `${raw.project}-${environment}-db`, protect };
        case "external":
            return { ...database, url: secret("databaseUrl") };
        // A pull request's PostgreSQL in its namespace: data alone, no URL, no admin, no server.
        case "namespace":
            return database;
        case "server":
            return { ...database, protect, adminUrl: secret("databaseAdminUrl"), ...own(database) };
    }
}

/** The registry, with the pull token and the push token (the pull token unless one is set). */
function registryOf({ raw, plain, secret }: Parsed): Registry | undefined {
    return (
        plain.registry && {
            ...plain.registry,
            token: secret("registryToken"),
            pushToken: raw.secrets.registryPushToken ?? secret("registryToken"),
        }
    );
}

/** A workload's image as its component takes it: a pin, a reference, a promotion, a build or a verified image. */
function imageOf(
    { raw, plain, maps }: Parsed,
    registry: Registry | undefined,
    kind: WorkloadKind,
    name: string,
    image: ImageSource,
): WorkloadImage {
    const { stack } = raw;
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
        // Built images are tagged with the commit (when known) and the stack; pods use the digest.
        const tags = [...(raw.commitSha ? [`sha-${raw.commitSha.slice(0, 12)}`] : []), stack];
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
}

/** Each namespace of the environment, the stack's own first, with the database Secret and the Secrets of esteira:secrets its workloads read. */
function namespacesOf(parsed: Parsed): NamespaceConfig[] {
    const { raw, plain, maps, environment, namespace } = parsed;
    const { database } = plain;
    const databaseSecret = database && (database.secretName ?? DATABASE_DEFAULTS.secretName);
    const workloads = workloadsOf(plain).map(([, , workload]) => workload);
    const inNamespace = (key?: string) => workloads.filter((workload) => workload.namespace === key);
    const namespaceOf = (name: string, inIt: AnyWorkloadSettings[]): Pick<NamespaceConfig, "name" | "database" | "secrets"> => {
        const refs = inIt.flatMap((workload) => Object.values(workload.secretEnv ?? {}).filter((ref) => !ref.external));
        return {
            name,
            database: Boolean(database) && inIt.some((w) => (w.database ?? true) || refs.some((ref) => ref.secretName === databaseSecret)),
            secrets: [...new Set(refs.map((ref) => ref.secretName).filter((secretName) => secretName in (maps.secrets ?? {})))].sort(),
        };
    };
    return [
        { ...namespaceOf(namespace, inNamespace(undefined)), adoptNamespace: plain.adoptNamespace, configKeys: STACK_NAMESPACE_KEYS },
        ...extraNamespaces(raw, plain, environment, namespace).map(([key, name]) => ({
            key,
            ...namespaceOf(name, inNamespace(key)),
            adoptNamespace: plain.namespaces?.[key]?.adoptNamespace,
            configKeys: { namespace: `namespaces.${key}`, adopt: `namespaces.${key}.adoptNamespace` },
        })),
    ];
}

/** esteira:backups, its storage's bucket named and its key read; absent when the stack keeps no dumps. */
function backupsOf(parsed: Parsed, registry: Registry | undefined): BackupsConfig | undefined {
    const { raw, plain, environment, secret } = parsed;
    const backups = plain.backups;
    if (!backups) return undefined;
    const { storage, restoreDrill, image, ...rest } = backups;
    return {
        ...rest,
        production: plain.production ?? false,
        image: imageOf(parsed, registry, "jobs", "backup", image),
        storage:
            storage.mode === "spaces"
                ? { ...storage, bucket: storage.bucket ?? `${raw.project}-${environment}-backups` }
                : { ...storage, accessKeyId: secret("backupAccessKeyId"), secretAccessKey: secret("backupSecretAccessKey") },
        restoreDrillSchedule: restoreDrill?.schedule,
        restoreDrillService: restoreDrill?.service,
        // A failed dump or restore, and each drill's result, are posted where the stack's other notifications go.
        webhookUrl: raw.secrets.slackWebhookUrl,
        environment,
        partOf: raw.project,
    };
}

/** Validates one stack's raw configuration and hands each component its Args. */
export function parseConfig(raw: RawConfig): EsteiraConfig {
    const { plain, maps } = validated(raw);
    const { environment, namespace } = names(raw, plain);
    const { project, stack } = raw;
    const { protect } = plain;
    const secret = (name: SecretName): Secret => {
        const value = raw.secrets[name];
        if (!value) throw new ConfigError(stack, [`${stack}: ${SECRET_KEYS[name].key}: is required`]);
        return value;
    };
    const parsed: Parsed = { raw, plain, maps, environment, namespace, secret };
    const registry = registryOf(parsed);
    /** Each workload of a kind with the labels' values and its image to build, promote or take. */
    const configured = <Settings extends { image: ImageSource }>(
        kind: WorkloadKind,
        workloads: Record<string, Settings> | undefined,
        stackWide: Record<string, unknown> = {},
    ) =>
        Object.fromEntries(
            Object.entries(workloads ?? {}).map(([name, settings]) => [
                name,
                { ...settings, ...stackWide, environment, partOf: project, image: imageOf(parsed, registry, kind, name, settings.image) },
            ]),
        );
    const config: Omit<EsteiraConfig, "statefulNames"> = {
        stack,
        project,
        environment,
        namespace,
        adoptNamespace: plain.adoptNamespace,
        namespaces: namespacesOf(parsed),
        appSecrets: maps.secrets ?? {},
        cluster: clusterArgs(parsed),
        database: databaseArgs(parsed),
        registry,
        ...github(plain, environment, maps, protect),
        tenants: plain.tenants,
        smokeTestIdentity: plain.smokeTestIdentity ?? true,
        repository: plain.repository && plain.github && { ...plain.repository, repository: plain.github.repository, protect },
        watch: plain.watch,
        monitoring: plain.monitoring && monitoringOf(plain, plain.monitoring, raw.secrets.slackWebhookUrl),
        networkPolicy: plain.networkPolicy,
        services: configured("services", plain.services, { metricsNamespace: plain.networkPolicy?.metricsNamespace }),
        workers: configured("workers", plain.workers),
        jobs: configured("jobs", plain.jobs),
        backups: backupsOf(parsed, registry),
    };
    const statefulNames = statefulNamesOf(config);
    const built = problemsOf(BUILT_RULES, { raw, plain, statefulNames });
    if (built.length > 0) throw new ConfigError(stack, built);
    return { ...config, statefulNames };
}
