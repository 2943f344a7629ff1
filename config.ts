/**
 * Stack configuration: read once, validated once, returned as one typed object.
 *
 * Every difference between environments lives in `Pulumi.<stack>.yaml`; the components only ever
 * see the object this module returns. Invalid configuration throws a {@link ConfigError} before
 * the program registers a single resource, with one line per problem naming the stack, the key
 * path, the value received and what is allowed.
 *
 * Defaults of component arguments are NOT repeated here: an unset optional key stays `undefined`
 * and the component applies its documented default. Only values that depend on the stack itself
 * (environment name, namespace) are derived here.
 */
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import { z } from "zod";
import { MAX_REVIEWERS } from "./components/github-environment";

/** The Pulumi config namespace of this program's own keys (`esteira:<key>`). */
export const CONFIG_NAMESPACE = "esteira";

// Kubernetes naming rules, written out so messages can say what is allowed.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Another stack: a bare stack name, or <organization>/<project>/<stack>.
const STACK_REFERENCE = /^([A-Za-z0-9._-]+\/){0,2}[A-Za-z0-9._-]+$/;

const dns1123Label = (what: string) =>
    z
        .string()
        .max(63, { error: `${what} must be at most 63 characters` })
        .regex(DNS1123_LABEL, {
            error: `${what} must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`,
        });

const dns1035Label = (what: string) =>
    z
        .string()
        .max(63, { error: `${what} must be at most 63 characters` })
        .regex(DNS1035_LABEL, {
            error: `${what} must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter`,
        });

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const portNumber = int(1, 65535);
const percent = int(1, 100);

const probeSchema = z.strictObject({
    path: z.string().startsWith("/", { error: "path must start with '/'" }).optional(),
    port: portNumber.optional(),
    initialDelaySeconds: int(0).optional(),
    periodSeconds: int(1).optional(),
    timeoutSeconds: int(1).optional(),
    failureThreshold: int(1).optional(),
});

const computeSchema = z.strictObject({
    cpuMillicores: int(1).optional(),
    memoryMiB: int(1).optional(),
});

const imageSchema = z.preprocess(
    // A plain string is shorthand for a prebuilt image reference.
    (value) => (typeof value === "string" ? { ref: value } : value),
    z
        .strictObject(
            {
                ref: z.string().min(1).optional(),
                build: z
                    .strictObject({
                        context: z.string().min(1),
                        dockerfile: z.string().min(1).optional(),
                        args: z.record(z.string(), z.string()).optional(),
                        target: z.string().min(1).optional(),
                    })
                    .optional(),
                promoteFrom: z
                    .string()
                    .regex(STACK_REFERENCE, {
                        error: "promoteFrom must be a stack name or <organization>/<project>/<stack>",
                    })
                    .optional(),
            },
            {
                error: (issue) =>
                    issue.input === undefined ? "is required: an image reference, build: {context, …} or promoteFrom: <stack>" : undefined,
            },
        )
        .superRefine((image, ctx) => {
            const set = (["ref", "build", "promoteFrom"] as const).filter((key) => image[key] !== undefined);
            if (set.length !== 1) {
                ctx.addIssue({
                    code: "custom",
                    message: `set exactly one of ref, build or promoteFrom; received ${set.length === 0 ? "none" : set.join(" and ")}`,
                });
            }
        }),
);

const serviceSchema = z
    .strictObject({
        image: imageSchema,
        port: portNumber.optional(),
        replicas: int(0).optional(),
        // YAML turns `true` and `8000` into booleans and numbers; containers only take strings.
        env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
        secretEnv: z.record(z.string(), z.strictObject({ secretName: dns1123Label("secretName"), key: z.string().min(1) })).optional(),
        probes: z
            .strictObject({
                readiness: probeSchema.optional(),
                liveness: probeSchema.optional(),
                startup: probeSchema.optional(),
            })
            .optional(),
        resources: z.strictObject({ requests: computeSchema.optional(), limits: computeSchema.optional() }).optional(),
        service: z
            .strictObject({
                type: z.enum(["LoadBalancer", "ClusterIP", "NodePort"]).optional(),
                port: portNumber.optional(),
                annotations: z.record(z.string(), z.string()).optional(),
            })
            .optional(),
        autoscaling: z
            .strictObject({
                minReplicas: int(1),
                maxReplicas: int(1),
                cpuUtilizationPercent: percent.optional(),
                memoryUtilizationPercent: percent.optional(),
            })
            .optional(),
        metrics: z
            .strictObject({
                path: z.string().startsWith("/", { error: "path must start with '/'" }).optional(),
                port: portNumber.optional(),
            })
            .optional(),
        revisionHistoryLimit: int(0).optional(),
        rolloutTimeoutSeconds: int(1).optional(),
        /** Whether DATABASE_URL is injected from the database secret when the stack has a database. */
        database: z.boolean().optional(),
        migrate: z
            .strictObject({
                command: z.array(z.string().min(1)).min(1, { error: "command must have at least one element" }),
                timeoutSeconds: int(1).optional(),
                backoffLimit: int(0).optional(),
            })
            .optional(),
    })
    .superRefine((svc, ctx) => {
        const scaling = svc.autoscaling;
        if (scaling && scaling.minReplicas > scaling.maxReplicas) {
            ctx.addIssue({
                code: "custom",
                path: ["autoscaling"],
                message: `minReplicas (${scaling.minReplicas}) must be <= maxReplicas (${scaling.maxReplicas})`,
            });
        }
        if (scaling && svc.replicas !== undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["replicas"],
                message: `replicas (${svc.replicas}) cannot be set together with autoscaling: the HorizontalPodAutoscaler owns the replica count; remove replicas or autoscaling`,
            });
        }
        for (const [field, names] of [
            ["env", Object.keys(svc.env ?? {})],
            ["secretEnv", Object.keys(svc.secretEnv ?? {})],
        ] as const) {
            for (const name of names.filter((n) => !ENV_VAR_NAME.test(n))) {
                ctx.addIssue({
                    code: "custom",
                    path: [field],
                    message: `"${name}" is not a valid environment variable name: use letters, digits and '_', not starting with a digit`,
                });
            }
        }
        for (const name of Object.keys(svc.secretEnv ?? {})) {
            if (ENV_VAR_NAME.test(name) && svc.env && name in svc.env) {
                ctx.addIssue({
                    code: "custom",
                    path: ["secretEnv"],
                    message: `"${name}" is set in both env and secretEnv; keep it in one of them`,
                });
            }
        }
        const { requests, limits } = svc.resources ?? {};
        for (const field of ["cpuMillicores", "memoryMiB"] as const) {
            const request = requests?.[field];
            const limit = limits?.[field];
            if (request !== undefined && limit !== undefined && request > limit) {
                ctx.addIssue({
                    code: "custom",
                    path: ["resources"],
                    message: `requests.${field} (${request}) must be <= limits.${field} (${limit})`,
                });
            }
        }
    });
export type ServiceConfig = z.infer<typeof serviceSchema>;

const stackName = z.string().regex(STACK_REFERENCE, {
    error: "must be a stack name or <organization>/<project>/<stack>",
});

const nodePoolSchema = z
    .strictObject({
        size: z.string().min(1),
        minNodes: int(1),
        maxNodes: int(1),
        name: z.string().min(1).optional(),
        labels: z.record(z.string(), z.string()).optional(),
    })
    .superRefine((pool, ctx) => {
        if (pool.minNodes > pool.maxNodes) {
            ctx.addIssue({ code: "custom", message: `minNodes (${pool.minNodes}) must be <= maxNodes (${pool.maxNodes})` });
        }
    });

const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "any"] as const;

const clusterSchema = z.discriminatedUnion(
    "mode",
    [
        z.strictObject({
            mode: z.literal("digitalocean"),
            name: dns1123Label("name").optional(),
            region: z.string().min(1),
            version: z.string().min(1),
            ha: z.boolean().optional(),
            autoUpgrade: z.boolean().optional(),
            maintenance: z
                .strictObject({
                    day: z.enum(WEEKDAYS).optional(),
                    startTime: z
                        .string()
                        .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { error: "startTime must be HH:MM (24-hour, UTC)" })
                        .optional(),
                })
                .optional(),
            vpcIpRange: z.string().min(1).optional(),
            nodePool: nodePoolSchema,
            tags: z.array(z.string()).optional(),
        }),
        z.strictObject({
            mode: z.literal("kubeconfig"),
            /** Path to a kubeconfig file; when unset, the secret `esteira:kubeconfig` or the ambient kubeconfig is used. */
            kubeconfigPath: z.string().min(1).optional(),
            context: z.string().min(1).optional(),
            clusterIdentifier: z.string().min(1).optional(),
        }),
        z.strictObject({
            mode: z.literal("stack"),
            /** Stack that owns the cluster (e.g. homolog); its kubeconfig and clusterId outputs are used. */
            stack: stackName,
        }),
    ],
    { error: (issue) => (issue.code === "invalid_union" ? `mode must be one of: digitalocean, kubeconfig, stack` : undefined) },
);
export type ClusterConfig = z.infer<typeof clusterSchema>;

const registrySchema = z.strictObject({
    server: z.string().min(1),
    username: z.string().min(1),
    pullSecretName: dns1123Label("pullSecretName").optional(),
});

const databaseSchema = z.discriminatedUnion(
    "mode",
    [
        z.strictObject({
            mode: z.literal("digitalocean"),
            region: z
                .string({
                    error: (issue) =>
                        issue.input === undefined ? "is required in digitalocean mode (e.g. nyc1, the cluster's region)" : undefined,
                })
                .min(1),
            name: dns1123Label("name").optional(),
            version: z.string().min(1).optional(),
            size: z.string().min(1).optional(),
            nodeCount: int(1, 3).optional(),
            databaseName: z.string().min(1).optional(),
            user: z.string().min(1).optional(),
            pool: z.strictObject({ size: int(1), mode: z.enum(["transaction", "session", "statement"]).optional() }).optional(),
            secretName: dns1123Label("secretName").optional(),
            tags: z.array(z.string()).optional(),
        }),
        z.strictObject({
            mode: z.literal("external"),
            secretName: dns1123Label("secretName").optional(),
        }),
        z.strictObject({
            mode: z.literal("shared"),
            /** Stack that owns the database cluster (e.g. homolog); this stack adds its own database and user. */
            stack: stackName,
            databaseName: z.string().min(1).optional(),
            user: z.string().min(1).optional(),
            secretName: dns1123Label("secretName").optional(),
        }),
    ],
    { error: (issue) => (issue.code === "invalid_union" ? `mode must be one of: digitalocean, external, shared` : undefined) },
);
export type DatabaseConfig = z.infer<typeof databaseSchema>;

const imagesSchema = z.strictObject({
    repository: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)+$/, {
        error: "repository must be <registry>/<path> in lower case, e.g. ghcr.io/acme/shop",
    }),
    buildOnPreview: z.boolean().optional(),
    cache: z.boolean().optional(),
    platforms: z
        .array(z.enum(["linux/amd64", "linux/arm64"]))
        .min(1)
        .optional(),
    network: z.enum(["default", "host"]).optional(),
    exec: z.boolean().optional(),
    builder: z.string().min(1).optional(),
});
export type ImagesConfig = z.infer<typeof imagesSchema>;

const githubSchema = z
    .strictObject({
        repository: z
            .string()
            .regex(/^[A-Za-z0-9._-]+$/, { error: "repository is the repository's name alone; its owner is github:owner" }),
        environment: z.string().min(1).optional(),
        reviewers: z
            .strictObject({ users: z.array(z.string().min(1)).optional(), teams: z.array(z.string().min(1)).optional() })
            .optional(),
        preventSelfReview: z.boolean().optional(),
        waitTimerMinutes: int(0, 43200).optional(),
        deployFrom: z
            .union([
                z.enum(["all", "protected"]),
                z.strictObject({ branches: z.array(z.string().min(1)).optional(), tags: z.array(z.string().min(1)).optional() }),
            ])
            .optional(),
        actionsSecrets: z.strictObject({ kubeconfig: z.boolean().optional(), registryPushToken: z.boolean().optional() }).optional(),
    })
    .superRefine((gh, ctx) => {
        const count = (gh.reviewers?.users?.length ?? 0) + (gh.reviewers?.teams?.length ?? 0);
        if (count > MAX_REVIEWERS) {
            ctx.addIssue({
                code: "custom",
                path: ["reviewers"],
                message: `at most ${MAX_REVIEWERS} reviewers (users and teams together), as GitHub allows; received ${count}`,
            });
        }
        const from = gh.deployFrom;
        if (from && typeof from === "object" && (from.branches?.length ?? 0) + (from.tags?.length ?? 0) === 0) {
            ctx.addIssue({
                code: "custom",
                path: ["deployFrom"],
                message: "name at least one branch or tag pattern, or use all / protected",
            });
        }
    });
export type GitHubConfig = z.infer<typeof githubSchema>;

/** The plain (non-secret) keys under `esteira:`, as the stack file holds them. */
const plainSchema = z.strictObject({
    environment: dns1123Label("environment").optional(),
    namespace: dns1123Label("namespace").optional(),
    protect: z.boolean(),
    cluster: clusterSchema.optional(),
    database: databaseSchema.optional(),
    images: imagesSchema.optional(),
    github: githubSchema.optional(),
    registry: registrySchema,
    services: z
        .record(dns1035Label("a service name"), serviceSchema)
        .refine((services) => Object.keys(services).length > 0, { error: "at least one service is required" }),
});
type PlainConfig = z.infer<typeof plainSchema>;

/** The Kubernetes Secret holding a stack's database URLs, unless `database.secretName` says otherwise (team D's name). */
export const DEFAULT_DATABASE_SECRET = "db-credentials";

/** Secrets the program reads, by name → full config key. They are only ever read with `getSecret`. */
export const SECRET_KEYS = {
    registryToken: "esteira:registryToken",
    // Token that may push; least privilege keeps it apart from the pull token. Default: registryToken.
    registryPushToken: "esteira:registryPushToken",
    kubeconfig: "esteira:kubeconfig",
    databaseUrl: "esteira:databaseUrl",
    // The DigitalOcean provider's own key: the kubeconfig built for DOKS authenticates with it too.
    digitaloceanToken: "digitalocean:token",
} as const;
export type SecretName = keyof typeof SECRET_KEYS;

type Secret = pulumi.Output<string>;
type DigitalOceanClusterConfig = Extract<ClusterConfig, { mode: "digitalocean" }>;
type KubeconfigClusterConfig = Extract<ClusterConfig, { mode: "kubeconfig" }>;

/** The validated configuration of one stack, secrets attached where they are used. */
export interface EsteiraConfig {
    /** The stack name (`pulumi stack`). */
    readonly stack: string;
    /** The Pulumi project name. */
    readonly project: string;
    /** Environment name, used in labels and the default namespace. Default: the stack name. */
    readonly environment: string;
    /** Namespace the workloads run in. Default: `<project>-<environment>`. */
    readonly namespace: string;
    /** Whether stateful resources carry `protect` (required in every stack, declared in Pulumi.yaml). */
    readonly protect: boolean;
    readonly cluster:
        | (DigitalOceanClusterConfig & { readonly apiToken: Secret })
        | (KubeconfigClusterConfig & { readonly kubeconfig?: Secret })
        | Extract<ClusterConfig, { mode: "stack" }>;
    /** Absent when the stack has no database. `secretName` is always set (default `db-credentials`). */
    readonly database?:
        | Extract<DatabaseConfig, { mode: "digitalocean" | "shared" }>
        | (Extract<DatabaseConfig, { mode: "external" }> & { readonly url: Secret });
    /** The stack's GitHub environment; absent where the repository is not managed (local stacks). */
    readonly github?: GitHubConfig;
    readonly registry: PlainConfig["registry"] & { readonly token: Secret; readonly pushToken: Secret };
    /** Where built images go; present when a service builds. */
    readonly images?: ImagesConfig;
    /** The commit being deployed, when known (GITHUB_SHA or the checkout's HEAD); tags built images. */
    readonly commitSha?: string;
    readonly services: Readonly<Record<string, ServiceConfig>>;
}

/** Raised for invalid stack configuration; Pulumi prints a RunError's message without a stack trace. */
export class ConfigError extends pulumi.RunError {
    constructor(
        readonly stack: string,
        readonly problems: readonly string[],
    ) {
        super(
            `invalid configuration for stack "${stack}" (fix Pulumi.${stack}.yaml or \`pulumi config set\`):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
    }
}

/** What the parser needs from the stack: plain values and which secret keys are set. */
export interface RawConfig {
    readonly stack: string;
    readonly project: string;
    /** Plain `esteira:` values, already parsed from their YAML/JSON form. */
    readonly values: Readonly<Record<string, unknown>>;
    /** Secret values that are set, by name. */
    readonly secrets: Readonly<Partial<Record<SecretName, Secret>>>;
    /** The commit being deployed, when known. */
    readonly commitSha?: string;
}

function describe(value: unknown): string {
    if (value === undefined) return "nothing";
    return JSON.stringify(value);
}

/** Follows a zod issue path into the raw input, to show the value that was received. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let node = root;
    for (const key of path) {
        if (node === null || typeof node !== "object") return undefined;
        node = (node as Record<PropertyKey, unknown>)[key];
    }
    return node;
}

/** One line per problem: `<stack>: <key path>: <what is wrong, with the value received>`. */
function formatIssue(stack: string, issue: z.core.$ZodIssue, input: unknown): string {
    const received = valueAt(input, issue.path);
    let message: string;
    switch (issue.code) {
        case "invalid_type": {
            const expected = issue.expected === "record" ? "a map" : issue.expected;
            // zod's own messages start with "Invalid"; anything else is a schema's own wording.
            const own = !issue.message.startsWith("Invalid");
            if (received === undefined) message = own ? issue.message : `is required (expected ${expected})`;
            else message = `expected ${expected}, received ${describe(received)}`;
            break;
        }
        case "invalid_value":
            message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}; received ${describe(received)}`;
            break;
        case "unrecognized_keys":
            message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}: check the spelling against the README's config reference`;
            break;
        case "too_small":
            if (issue.origin === "array") message = `${issue.message}; received ${describe(received)}`;
            else if (issue.origin === "string" && issue.minimum === 1) message = `must not be empty; received ${describe(received)}`;
            else message = `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}; received ${describe(received)}`;
            break;
        case "too_big":
            message =
                issue.origin === "string"
                    ? `${issue.message}; received ${describe(received)}`
                    : `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}; received ${describe(received)}`;
            break;
        case "invalid_format":
        case "invalid_union":
            message = `${issue.message}; received ${describe(received)}`;
            break;
        case "invalid_key":
            // A map key broke its own rule (e.g. a service name): show the key, not its settings.
            message = `${issue.issues[0]?.message ?? issue.message}; received ${describe(issue.path.at(-1))}`;
            break;
        default:
            message = issue.message;
    }
    const path = issue.path.map(String).join(".");
    return `${stack}: ${path || CONFIG_NAMESPACE}: ${message}`;
}

/**
 * Validates one stack's raw configuration. Pure: no Pulumi engine needed, so every rule is
 * unit-tested against its exact message.
 */
export function parseConfig(raw: RawConfig): EsteiraConfig {
    const problems: string[] = [];
    const parsed = plainSchema.safeParse(raw.values);
    if (!parsed.success) {
        for (const issue of parsed.error.issues) {
            problems.push(formatIssue(raw.stack, issue, raw.values));
        }
    }
    const missingSecret = (name: SecretName, why: string, example: string) =>
        problems.push(
            `${raw.stack}: ${SECRET_KEYS[name]}: is required ${why}; set it with \`pulumi config set --secret ${SECRET_KEYS[name]} ${example} -s ${raw.stack}\``,
        );
    const { secrets } = raw;
    if (!secrets.registryToken) missingSecret("registryToken", "(a registry token with pull rights)", "<token>");
    if (parsed.success) {
        const { cluster, database } = parsed.data;
        if (cluster?.mode === "digitalocean" && !secrets.digitaloceanToken) {
            missingSecret("digitaloceanToken", "when cluster.mode is digitalocean (the provider and the kubeconfig use it)", "<token>");
        }
        if (database?.mode === "external" && !secrets.databaseUrl) {
            missingSecret("databaseUrl", "when database.mode is external", "'postgresql://user:password@host:5432/db?sslmode=require'");
        }
        for (const [name, svc] of Object.entries(parsed.data.services)) {
            if (svc.image.build && !parsed.data.images) {
                problems.push(
                    `${raw.stack}: services.${name}.image.build: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to push the image to`,
                );
            }
            if (database && (svc.database ?? true) && (svc.env?.DATABASE_URL !== undefined || svc.secretEnv?.DATABASE_URL !== undefined)) {
                problems.push(
                    `${raw.stack}: services.${name}: DATABASE_URL comes from the ${database.secretName ?? DEFAULT_DATABASE_SECRET} secret when the stack has a database; remove it from env/secretEnv, or set database: false on the service`,
                );
            }
        }
        if (database?.mode === "digitalocean" && cluster?.mode !== "digitalocean" && cluster?.mode !== "stack") {
            problems.push(
                `${raw.stack}: database.mode: "digitalocean" admits only the DOKS cluster through its firewall, so it needs cluster.mode "digitalocean" or "stack"; received cluster.mode ${describe(cluster?.mode ?? "kubeconfig")} (use database.mode "external" with esteira:databaseUrl instead)`,
            );
        }
    }
    if (problems.length > 0 || !parsed.success) {
        throw new ConfigError(raw.stack, problems);
    }

    const plain = parsed.data;
    const environment = plain.environment ?? raw.stack;
    if (plain.environment === undefined && !dns1123Label("environment").safeParse(environment).success) {
        throw new ConfigError(raw.stack, [
            `${raw.stack}: environment: the stack name ${describe(raw.stack)} is not a DNS-1123 label, so it cannot name the namespace; name the stack like pr-123 (lower case, digits, '-') or set esteira:environment`,
        ]);
    }
    const namespace = plain.namespace ?? `${raw.project}-${environment}`;
    // The derived namespace must satisfy the same rule as an explicit one.
    const derived = dns1123Label("namespace").safeParse(namespace);
    if (!derived.success) {
        throw new ConfigError(raw.stack, [
            `${raw.stack}: namespace: the default "<project>-<environment>" gives ${describe(namespace)}, which is not a DNS-1123 label; set esteira:namespace explicitly`,
        ]);
    }
    const cluster = plain.cluster ?? { mode: "kubeconfig" };
    const database = plain.database;
    // The checks above guarantee every secret used below is set.
    return {
        stack: raw.stack,
        project: raw.project,
        environment,
        namespace,
        protect: plain.protect,
        cluster:
            cluster.mode === "digitalocean"
                ? { ...cluster, apiToken: secrets.digitaloceanToken! }
                : cluster.mode === "kubeconfig"
                  ? { ...cluster, kubeconfig: secrets.kubeconfig }
                  : cluster,
        github: plain.github,
        database:
            database?.mode === "external"
                ? { ...database, secretName: database.secretName ?? DEFAULT_DATABASE_SECRET, url: secrets.databaseUrl! }
                : database && { ...database, secretName: database.secretName ?? DEFAULT_DATABASE_SECRET },
        registry: { ...plain.registry, token: secrets.registryToken!, pushToken: secrets.registryPushToken ?? secrets.registryToken! },
        images: plain.images,
        commitSha: raw.commitSha,
        services: plain.services,
    };
}

/** Plain keys read from `esteira:`; everything else under the namespace is either secret or unknown. */
const PLAIN_KEYS = Object.keys(plainSchema.shape);

/**
 * Reads the running stack's configuration and validates it. Call before registering any resource.
 * `commitSha` is the commit being deployed, when known (see {@link deployedCommit}).
 */
export function loadConfig(commitSha?: string): EsteiraConfig {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const values: Record<string, unknown> = {};
    // Unknown keys (typos such as `esteira:servces`) are passed on so the strict schema names them;
    // only the key is looked at, never its value, which might be a secret.
    const known = new Set<string>([...PLAIN_KEYS.map((key) => `${CONFIG_NAMESPACE}:${key}`), ...Object.values(SECRET_KEYS)]);
    for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
        const [namespace, key] = fullKey.split(":", 2);
        if (namespace === CONFIG_NAMESPACE && !known.has(fullKey)) values[key] = null;
    }
    for (const key of PLAIN_KEYS) {
        const text = config.get(key);
        if (text === undefined) continue;
        // Structured values arrive as JSON; plain strings do not parse and stay strings.
        try {
            values[key] = JSON.parse(text);
        } catch {
            values[key] = text;
        }
    }
    const secrets: Partial<Record<SecretName, Secret>> = {};
    for (const [name, fullKey] of Object.entries(SECRET_KEYS) as [SecretName, string][]) {
        const [namespace, key] = fullKey.split(":", 2);
        const value = new pulumi.Config(namespace).getSecret(key);
        if (value !== undefined) secrets[name] = value;
    }
    return parseConfig({ stack: pulumi.getStack(), project: pulumi.getProject(), values, secrets, commitSha });
}

/**
 * The commit being deployed: GITHUB_SHA in Actions, else the checkout's HEAD, else unknown. Read by
 * the program's entry point, apart from parsing, so parsing stays pure.
 */
export function deployedCommit(): string | undefined {
    if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
    try {
        return execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
    } catch {
        return undefined;
    }
}
