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
import type { GitHubEnvironmentArgs } from "../components/github-environment";
import type { ImageArgs } from "../components/image";
import type { WebServiceArgs } from "../components/web-service";
import * as path from "path";
import { CONFIG_NAMESPACE, ConfigError, describe, formatIssue } from "./errors";
import { dns1123Label, fullStackName, imageHost, registryHost } from "./rules";
import { ImageSource, NetworkPolicySettings, RegistrySettings, SECRET_KEYS, SecretName, stackSchema, StackSettings } from "./schema";

type Secret = pulumi.Output<string>;

/** The registry, with the pull token (for the pull secret) and the push token (for builds). */
export type Registry = RegistrySettings & { readonly token: Secret; readonly pushToken: Secret };

/** A service: the WebService's Args, with its image still to be built, promoted or taken as it is. */
export type ServiceConfig = Omit<WebServiceArgs, "image" | "namespace" | "imagePullSecrets" | "databaseSecretName"> & {
    readonly image: ImageSource<ImageArgs>;
};

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
    readonly cluster: ClusterArgs;
    /** Absent when the stack has no database; its link to the cluster is wired in index.ts. */
    readonly database?: DistributiveOmit<DatabaseArgs, "cluster">;
    readonly registry: Registry;
    /** The stack's GitHub environment; absent where the repository is not managed (local stacks). */
    readonly github?: Omit<GitHubEnvironmentArgs, "kubeconfig" | "registryPushToken" | "variables">;
    /** The further egress every pod may have; the scraper's namespace is handed to each service. */
    readonly networkPolicy?: NetworkPolicySettings;
    readonly services: Readonly<Record<string, ServiceConfig>>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What the parser needs from the stack: plain values and which secret keys are set. */
export interface RawConfig {
    readonly stack: string;
    readonly project: string;
    /** Plain `esteira:` values, already parsed from their YAML/JSON form. */
    readonly values: Readonly<Record<string, unknown>>;
    /** Secret values that are set, by name. */
    readonly secrets: Readonly<Partial<Record<SecretName, Secret>>>;
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

/** Rules that span keys (and secrets), which no single key's schema can see. */
function crossKeyProblems(raw: RawConfig, plain: StackSettings): string[] {
    const problems: string[] = [];
    const { secrets } = raw;
    const missingSecret = (name: SecretName, why: string, example: string) =>
        problems.push(
            `${raw.stack}: ${SECRET_KEYS[name].key}: is required ${why}; set it with \`pulumi config set --secret ${SECRET_KEYS[name].key} ${example} -s ${raw.stack}\``,
        );
    const { cluster, database } = plain;
    if (cluster?.mode === "digitalocean" && !secrets.digitaloceanToken) {
        missingSecret("digitaloceanToken", "when cluster.mode is digitalocean (the provider and the kubeconfig use it)", "<token>");
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
    for (const [name, svc] of Object.entries(plain.services)) {
        if ("build" in svc.image && !plain.images) {
            problems.push(
                `${raw.stack}: services.${name}.image.build: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to push the image to`,
            );
        }
        if ("build" in svc.image && raw.pathExists) {
            const { context, dockerfile } = svc.image.build;
            const file = dockerfile ?? path.posix.join(context, "Dockerfile");
            if (!raw.pathExists(context)) {
                problems.push(
                    `${raw.stack}: services.${name}.image.build.context: ${describe(context)} does not exist (paths are relative to the project directory, where Pulumi.yaml is)`,
                );
            } else if (!raw.pathExists(file)) {
                problems.push(
                    `${raw.stack}: services.${name}.image.build.dockerfile: ${describe(file)} does not exist (paths are relative to the project directory, where Pulumi.yaml is)`,
                );
            }
        }
        if ("promoteFrom" in svc.image) {
            selfReference(
                `services.${name}.image.promoteFrom`,
                svc.image.promoteFrom,
                "promote from the stack before this one in the line, or build the image here (image.build)",
            );
        }
        if (svc.migrate && name.length > MAX_MIGRATING_SERVICE_NAME) {
            problems.push(
                `${raw.stack}: services.${name}: a service with migrate has a name of at most ${MAX_MIGRATING_SERVICE_NAME} characters: its migration Job is named <name>-migrate-<8 characters>, which Kubernetes copies into a label of at most 63; received ${name.length} characters`,
            );
        }
        const getsDatabase = hasDatabase && (svc.database ?? true);
        if (svc.migrate && !getsDatabase && svc.env?.DATABASE_URL === undefined && svc.secretEnv?.DATABASE_URL === undefined) {
            problems.push(
                `${raw.stack}: services.${name}.migrate: would run with no DATABASE_URL: ${hasDatabase ? "the service sets database: false" : "the stack has no esteira:database"}; give it one (esteira:database, or secretEnv.DATABASE_URL), or remove migrate`,
            );
        }
        if (database && (svc.database ?? true) && (svc.env?.DATABASE_URL !== undefined || svc.secretEnv?.DATABASE_URL !== undefined)) {
            problems.push(
                `${raw.stack}: services.${name}: DATABASE_URL comes from the ${database.secretName ?? DATABASE_DEFAULTS.secretName} secret when the stack has a database; remove it from env/secretEnv, or set database: false on the service`,
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
    if (images && imageHost(images.repository) !== registryHost(registry.server)) {
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
        const variables = FIXED_VARIABLES + Object.keys(plain.services).length;
        if (variables > MAX_ENVIRONMENT_VARIABLES) {
            problems.push(
                `${raw.stack}: github: the environment would get ${variables} Actions variables (ESTEIRA_STACK, ESTEIRA_NAMESPACE and one URL per service), more than the ${MAX_ENVIRONMENT_VARIABLES} GitHub allows; split the services across stacks`,
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
    if (!raw.secrets.registryToken) {
        problems.push(
            `${raw.stack}: ${SECRET_KEYS.registryToken.key}: is required (a registry token with pull rights); set it with \`pulumi config set --secret ${SECRET_KEYS.registryToken.key} <token> -s ${raw.stack}\``,
        );
    }
    // Rules across keys quote values, so they wait until no key holds a secret.
    if (parsed.success && secretPlainKeys.length === 0) problems.push(...crossKeyProblems(raw, parsed.data));
    if (problems.length > 0 || !parsed.success) throw new ConfigError(raw.stack, problems);

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
    const registry: Registry = {
        ...plain.registry,
        token: secret("registryToken"),
        pushToken: raw.secrets.registryPushToken ?? secret("registryToken"),
    };
    // Built images are tagged with the commit (when known) and the stack; pods use the digest.
    const tags = [...(raw.commitSha ? [`sha-${raw.commitSha.slice(0, 12)}`] : []), stack];
    const imageOf = (name: string, image: ImageSource): ServiceConfig["image"] => {
        if (!("build" in image)) return image;
        if (!plain.images) throw new ConfigError(stack, [`${stack}: services.${name}.image.build: needs esteira:images.repository`]);
        const { repository, ...settings } = plain.images;
        return { build: { ...image.build, ...settings, repository: `${repository}/${name}`, tags, registry } };
    };

    const cluster = plain.cluster ?? { mode: "kubeconfig" };
    const database = plain.database;
    return {
        stack,
        project,
        environment,
        namespace,
        adoptNamespace: plain.adoptNamespace,
        cluster:
            cluster.mode === "digitalocean"
                ? { ...cluster, name: cluster.name ?? `${project}-${environment}`, apiToken: secret("digitaloceanToken"), protect }
                : cluster.mode === "kubeconfig"
                  ? { ...cluster, kubeconfig: raw.secrets.kubeconfig }
                  : cluster,
        database:
            database?.mode === "digitalocean"
                ? { ...database, name: database.name ?? `${project}-${environment}-db`, protect }
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
        github: plain.github && { ...plain.github, environment: plain.github.environment ?? environment, protect },
        networkPolicy: plain.networkPolicy,
        services: Object.fromEntries(
            Object.entries(plain.services).map(([name, svc]) => [
                name,
                {
                    ...svc,
                    environment,
                    partOf: project,
                    metricsNamespace: plain.networkPolicy?.metricsNamespace,
                    image: imageOf(name, svc.image),
                },
            ]),
        ),
    };
}
