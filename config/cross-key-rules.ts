/**
 * Rules that span keys (and secrets), which no single key's schema can see: a list of named rules,
 * as the policy pack's (policy/src/policies). Each rule reads the stack and returns its messages,
 * each naming the stack, the key path, the value received and the fix; test/config.test.ts has a
 * test per rule with its exact message. A new rule is one entry here and its test there.
 *
 * Rules run in list order, and their messages come in that order.
 */
import * as os from "os";
import * as path from "path";
import type { z } from "zod";
import { tlsAnnotations, zoneProblem } from "../components/parts/tls";
import { DATABASE_DEFAULTS, ENVIRONMENT_NAMESPACE_DEFAULTS, WEB_SERVICE_DEFAULTS } from "../vocabulary/defaults";
import { fullStackName, imageHost, registryHost } from "../vocabulary/rules";
import {
    SECRET_KEYS,
    SECRET_LIKE_BUILD_ARG,
    SECRET_LIKE_ENV,
    SECRET_MAPS,
    SecretMaps,
    SecretName,
    ServiceSettings,
    StackSettings,
    URL_WITH_PASSWORD,
} from "../vocabulary/schema";
import { describe } from "./errors";
import { renameProblems } from "./renames";
import { DATABASE_SIZES, DROPLET_SIZES } from "../vocabulary/sizes";
import { AnyWorkloadSettings, KIND_NOUN, RawConfig, setSecretValue, SYSTEM_NAMESPACES, WorkloadKind, workloadsOf } from "./stack";

/** What every rule sees: the raw configuration and the stack's validated values. */
export interface StackSubject {
    readonly raw: RawConfig;
    readonly plain: StackSettings;
}
/** What a secret-map rule sees besides: the secret maps, validated. */
export interface SecretMapSubject extends StackSubject {
    readonly maps: SecretMaps;
}
/** What a workload rule sees besides: one workload, and its place among the stack's (services first). */
export interface WorkloadSubject extends StackSubject {
    readonly kind: WorkloadKind;
    readonly name: string;
    readonly workload: AnyWorkloadSettings;
    readonly index: number;
}

/** A rule's messages: none (`undefined` or `[]`), one, or several. */
type Found = string | readonly string[] | undefined;

/** A named rule: `check` returns its messages for the subject. */
export interface Rule<Subject> {
    readonly name: string;
    readonly check: (subject: Subject) => Found;
}

/** Every message of the rules, in their order. */
export function problemsOf<Subject>(rules: readonly Rule<Subject>[], subject: Subject): string[] {
    return rules.flatMap((rule) => {
        const found = rule.check(subject);
        return found === undefined ? [] : typeof found === "string" ? [found] : [...found];
    });
}

/** A Secret's key as a `--path` segment: one with a dot in it (`.dockerconfigjson`) is quoted, never `a..b`. */
function secretValuePath(secretName: string, key: string): string {
    return /^[A-Za-z0-9_-]+$/.test(key) ? `${secretName}.${key}` : `${secretName}[${JSON.stringify(key)}]`;
}

/** Levenshtein distance: how many characters to add, drop or change to turn one slug into the other. */
function editDistance(a: string, b: string): number {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const next = [i];
        for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        row = next;
    }
    return row[b.length];
}

/** A whole number as plain decimal: what YAML and the container read alike. */
const PLAIN_DECIMAL = /^-?(0|[1-9][0-9]*)$/;

/** A workload's `env` as the stack file gave it, before its values became strings. */
function rawEnvOf(raw: RawConfig, kind: string, name: string): Record<string, unknown> {
    const workloads = raw.values[kind] as Record<string, { env?: Record<string, unknown> }> | undefined;
    const env = workloads?.[name]?.env;
    return env !== null && typeof env === "object" ? env : {};
}

/** Database names PostgreSQL and DigitalOcean keep for themselves. */
const RESERVED_DATABASES = ["postgres", "template0", "template1", "defaultdb", "_dodb"];
/** Role names PostgreSQL refuses (or keeps) and DigitalOcean's own administrator. */
const RESERVED_ROLES = ["postgres", "public", "none", "current_user", "session_user", "current_role", "doadmin", "_dodb"];
/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
const POSTGRES_MAX_NAME_BYTES = 63;

/** Why PostgreSQL or DigitalOcean would refuse or change a database or role name, if they would. */
function postgresNameProblem(value: string, reserved: readonly string[]): string | undefined {
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > POSTGRES_MAX_NAME_BYTES) {
        return `is ${bytes} bytes, and PostgreSQL cuts names to ${POSTGRES_MAX_NAME_BYTES}, so two stacks could share one; shorten it`;
    }
    if (/^pg_/i.test(value)) return 'starts with "pg_", which PostgreSQL keeps for its own roles and schemas; name it otherwise';
    if (reserved.includes(value.toLowerCase()))
        return `is one PostgreSQL or DigitalOcean keeps for itself (${reserved.join(", ")}); name it otherwise`;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(value)) {
        return "must start with a letter or underscore and hold only letters, digits, underscores and hyphens (DigitalOcean's rule), e.g. shop-homolog";
    }
    return undefined;
}

/** A secret the stack needs and lacks, and the command that sets it. */
function missingSecret(raw: RawConfig, name: SecretName, why: string, example: string): string {
    return `${raw.stack}: ${SECRET_KEYS[name].key}: is required ${why}; set it with \`pulumi config set --secret ${SECRET_KEYS[name].key} ${example} -s ${raw.stack}\``;
}

/** A key naming a stack that is this stack itself, where another is meant. */
function selfReference(raw: RawConfig, key: string, stack: string | undefined, fix: string): string | undefined {
    const here = { organization: raw.organization, project: raw.project };
    return stack !== undefined && fullStackName(stack, here) === fullStackName(raw.stack, here)
        ? `${raw.stack}: ${key}: names this stack itself (${describe(stack)}); ${fix}`
        : undefined;
}

/** The keys of the database Secret. */
const DATABASE_KEYS = ["DATABASE_URL", "DATABASE_DIRECT_URL"];
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
            const pullSecret = plain.registry?.pullSecretName ?? ENVIRONMENT_NAMESPACE_DEFAULTS.pullSecretName;
            if (ref.secretName === pullSecret) {
                problems.push(
                    `${at}: "${pullSecret}" is the registry pull secret this stack creates for the kubelet (registry.pullSecretName); it holds only the registry's .dockerconfigjson, not meant for a container; to give a workload a registry token, set it in a Secret of its own with ${setSecretValue(raw.stack, "secrets", `registry.${variable}`)} and read it with secretName: registry, key: ${variable}`,
                );
                continue;
            }
            const secret = appSecrets[ref.secretName];
            if (!secret) {
                problems.push(
                    `${at}: the Secret "${ref.secretName}" is not created by this stack; set its values with ${setSecretValue(raw.stack, "secrets", secretValuePath(ref.secretName, ref.key))}, or mark the reference external: true if something else creates it in the namespace`,
                );
                continue;
            }
            read.add(ref.secretName);
            if (!(ref.key in secret)) {
                problems.push(
                    `${at}: the Secret "${ref.secretName}" has no key ${describe(ref.key)} (it has ${Object.keys(secret).join(", ")}); set it with ${setSecretValue(raw.stack, "secrets", secretValuePath(ref.secretName, ref.key))}`,
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

/** How a service is exposed: HTTPS where it is asked for (and wherever it is public on a DigitalOcean cluster of its own, or in production), /metrics never public. */
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
        if (clusterMode !== "digitalocean") {
            problems.push(
                `${at}.service.tls: the certificate, the DNS record and the load balancer are DigitalOcean's, so it needs cluster.mode "digitalocean"; received cluster.mode ${describe(clusterMode)}`,
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
    } else if (type === "LoadBalancer" && tlsWaiver === undefined && (plain.production || clusterMode === "digitalocean")) {
        // Wherever esteira can terminate TLS (a DigitalOcean cluster of the stack's own), and in
        // production whatever the cluster: HTTPS, or a reviewed reason in the stack file.
        const why = plain.production
            ? "a production stack (esteira:production: true)"
            : 'a stack on its own DigitalOcean cluster (cluster.mode "digitalocean")';
        problems.push(
            `${at}.service: ${why} serves its public services over HTTPS: set service.tls: {hostname: <a name in a DigitalOcean DNS zone>}, or record why this one may not with service.tlsWaiver: "<reason>"`,
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

/** Rules about one workload, applied to each in turn (services, then workers, then jobs). */
export const WORKLOAD_RULES: readonly Rule<WorkloadSubject>[] = [
    {
        name: "workload-name-unique",
        check: ({ raw, plain, kind, name, index }) => {
            const other = workloadsOf(plain)
                .slice(0, index)
                .filter(([, earlier]) => earlier === name)
                .pop();
            return other
                ? `${raw.stack}: ${kind}.${name}: the name "${name}" is taken by ${other[0]}.${name}; services, workers and jobs name their Kubernetes objects and images alike, so use each name once`
                : undefined;
        },
    },
    {
        name: "workload-namespace-declared",
        check: ({ raw, plain, kind, name, workload }) =>
            workload.namespace !== undefined && !(workload.namespace in (plain.namespaces ?? {}))
                ? `${raw.stack}: ${kind}.${name}.namespace: ${describe(workload.namespace)} is not a key of esteira:namespaces; declare it there (esteira:namespaces: {${workload.namespace}: {}}), or remove the key to run in the stack's namespace`
                : undefined,
    },
    {
        name: "build-needs-images",
        check: ({ raw, plain, kind, name, workload }) =>
            "build" in workload.image && !plain.images
                ? `${raw.stack}: ${kind}.${name}.image.build: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to push the image to`
                : undefined,
    },
    {
        name: "verified-needs-images",
        check: ({ raw, plain, kind, name, workload }) =>
            "verifiedIn" in workload.image && !plain.images
                ? `${raw.stack}: ${kind}.${name}.image.verifiedIn: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to find the verified image in`
                : undefined,
    },
    {
        name: "verified-needs-commit",
        check: ({ raw, plain, kind, name, workload }) =>
            "verifiedIn" in workload.image && !raw.commitSha && plain.pins?.[name] === undefined
                ? `${raw.stack}: ${kind}.${name}.image.verifiedIn: needs the commit being deployed (ESTEIRA_COMMIT or GITHUB_SHA, else a git checkout) to find the image verified for it`
                : undefined,
    },
    // The CLI hands over parsed YAML: 1.0 arrives as 1, 1e3 as 1000, 0123 as 83, 0x1F as 31. Only the
    // stack file's text tells them from a plain 1; a number it does not show written in plain
    // decimal is refused, and so is any number when the text is not at hand.
    {
        name: "env-number-as-written",
        check: ({ raw, kind, name }) =>
            Object.entries(rawEnvOf(raw, kind, name)).flatMap(([variable, value]) => {
                if (typeof value !== "number" || !Number.isSafeInteger(value)) return [];
                const written = raw.envWrittenAs?.(kind, name, variable);
                if (written !== undefined && PLAIN_DECIMAL.test(written)) return [];
                const at = `${raw.stack}: ${kind}.${name}.env.${variable}`;
                return written !== undefined
                    ? `${at}: written ${written}, which YAML reads as the number ${value}: the container would get "${value}"; quote it to keep it as written (${variable}: "${written}")`
                    : `${at}: the number ${value}, and Pulumi.${raw.stack}.yaml does not show how it was written (1.0, 1e3, 0123 and 0x1F reach the program changed); quote it (${variable}: "${value}")`;
            }),
    },
    // Plain env lands in the Deployment, the state and every preview in plain text.
    {
        name: "env-credential-in-secrets",
        check: ({ raw, kind, name, workload }) => {
            const notSecret = new Set(workload.envNotSecret ?? []);
            const at = `${raw.stack}: ${kind}.${name}`;
            const instead = (variable: string) =>
                `put it in esteira:secrets (${setSecretValue(raw.stack, "secrets", `<secret>.${variable}`)}) and read it with ${kind}.${name}.secretEnv.${variable}: {secretName: <secret>, key: ${variable}}`;
            const problems = Object.entries(workload.env ?? {}).flatMap(([variable, value]) => {
                if (URL_WITH_PASSWORD.test(value)) {
                    return `${at}.env.${variable}: a URL with a password (${value.replace(/:\/\/([^/@:\s]*):[^/@\s]+@/, "://$1:***@")}) in plain env would be stored and shown in plain text; ${instead(variable)}`;
                }
                if (!SECRET_LIKE_ENV.test(variable) || notSecret.has(variable) || value === "") return [];
                return `${at}.env.${variable}: the name of a credential, and plain env would store and show its value in plain text; ${instead(variable)}, or, if it is no secret (e.g. PASSWORD_MIN_LENGTH), list it in ${kind}.${name}.envNotSecret`;
            });
            const stale = [...notSecret].filter((variable) => !(variable in (workload.env ?? {})));
            if (stale.length > 0) problems.push(`${at}.envNotSecret: ${describe(stale)} is not in env; remove it from envNotSecret`);
            return problems;
        },
    },
    {
        name: "build-paths-exist",
        check: ({ raw, kind, name, workload }) => {
            if (!("build" in workload.image) || !raw.pathExists) return undefined;
            const { context, dockerfile } = workload.image.build;
            const file = dockerfile ?? path.posix.join(context, "Dockerfile");
            if (!raw.pathExists(context)) {
                return `${raw.stack}: ${kind}.${name}.image.build.context: ${describe(context)} does not exist (paths are relative to the project directory, where Pulumi.yaml is)`;
            }
            return raw.pathExists(file)
                ? undefined
                : `${raw.stack}: ${kind}.${name}.image.build.dockerfile: ${describe(file)} does not exist (paths are relative to the project directory, where Pulumi.yaml is)`;
        },
    },
    {
        name: "promote-from-another-stack",
        check: ({ raw, kind, name, workload }) =>
            "promoteFrom" in workload.image
                ? selfReference(
                      raw,
                      `${kind}.${name}.image.promoteFrom`,
                      workload.image.promoteFrom,
                      "promote from the stack before this one in the line, or build the image here (image.build)",
                  )
                : undefined,
    },
    {
        name: "release-steps",
        check: ({ raw, plain, kind, name, workload }) =>
            kind === "services" ? releaseStepProblems(raw, name, workload as ServiceSettings, plain.database !== undefined) : undefined,
    },
    {
        name: "database-url-from-database",
        check: ({ raw, plain: { database }, kind, name, workload }) =>
            database &&
            (workload.database ?? true) &&
            (workload.env?.DATABASE_URL !== undefined || workload.secretEnv?.DATABASE_URL !== undefined)
                ? `${raw.stack}: ${kind}.${name}: DATABASE_URL comes from the ${database.secretName ?? DATABASE_DEFAULTS.secretName} secret when the stack has a database; remove it from env/secretEnv, or set database: false on the ${KIND_NOUN[kind]}`
                : undefined,
    },
];

/** Rules across the stack's keys and secrets; they run once every key is valid and none holds a secret. */
export const CROSS_KEY_RULES: readonly Rule<StackSubject>[] = [
    {
        name: "backups-need-database",
        check: ({ raw, plain: { backups, database } }) =>
            backups && !database
                ? `${raw.stack}: backups: dumps the environment's database, and the stack has none; set esteira:database, or remove esteira:backups`
                : undefined,
    },
    {
        name: "spaces-need-digitalocean",
        check: ({ raw, plain: { backups, cluster } }) =>
            backups?.storage.mode === "spaces" && cluster?.mode !== "digitalocean"
                ? `${raw.stack}: backups.storage: a Spaces bucket needs a DigitalOcean account, so cluster.mode "digitalocean"; received cluster.mode ${describe(cluster?.mode ?? "kubeconfig")}; elsewhere use storage.mode "s3"`
                : undefined,
    },
    {
        name: "s3-credentials-required",
        check: ({ raw, plain: { backups } }) =>
            backups?.storage.mode === "s3"
                ? (["backupAccessKeyId", "backupSecretAccessKey"] as const)
                      .filter((name) => !raw.secrets[name])
                      .map((name) =>
                          missingSecret(raw, name, 'when backups.storage.mode is "s3"', "'<a key that reaches only the bucket>'"),
                      )
                : undefined,
    },
    {
        name: "s3-credentials-need-s3",
        check: ({ raw, plain: { backups } }) =>
            backups?.storage.mode !== "s3"
                ? (["backupAccessKeyId", "backupSecretAccessKey"] as const)
                      .filter((name) => raw.secrets[name])
                      .map(
                          (name) =>
                              `${raw.stack}: ${SECRET_KEYS[name].key}: is set, but backups.storage.mode is not "s3"; remove it with \`pulumi config rm ${SECRET_KEYS[name].key} -s ${raw.stack}\``,
                      )
                : undefined,
    },
    {
        name: "backup-name-reserved",
        check: ({ raw, plain }) =>
            plain.backups && workloadsOf(plain).some(([, name]) => name === "backup")
                ? `${raw.stack}: backups: the images output and esteira:pins name the backups' image "backup", which a workload of this stack is named too; rename that workload`
                : undefined,
    },
    {
        name: "restore-drill-service-migrates",
        check: ({ raw, plain: { backups, services } }) => {
            const named = backups?.restoreDrill?.service;
            if (named === undefined) return undefined;
            return services?.[named]?.migrate === undefined
                ? `${raw.stack}: backups.restoreDrill.service: ${describe(named)} is no service of this stack with \`migrate\`; name the one whose migrations the drill runs against the restored copy`
                : undefined;
        },
    },
    {
        name: "digitalocean-token-required",
        check: ({ raw, plain: { cluster } }) =>
            cluster?.mode === "digitalocean" && !cluster.tokenFromEnvironment && !raw.secrets.digitaloceanToken
                ? missingSecret(
                      raw,
                      "digitaloceanToken",
                      "when cluster.mode is digitalocean (the provider and the kubeconfig use it)",
                      "<token>",
                  )
                : undefined,
    },
    {
        name: "digitalocean-token-from-environment-only",
        check: ({ raw, plain: { cluster } }) =>
            cluster?.mode === "digitalocean" && cluster.tokenFromEnvironment && raw.secrets.digitaloceanToken
                ? `${raw.stack}: ${SECRET_KEYS.digitaloceanToken.key}: must not be set when cluster.tokenFromEnvironment is true: the stack's config, which everyone holding its passphrase decrypts, would hold the token; remove it with \`pulumi config rm ${SECRET_KEYS.digitaloceanToken.key} -s ${raw.stack}\` and give the deploying job DIGITALOCEAN_TOKEN`
                : undefined,
    },
    {
        name: "slack-webhook-required",
        check: ({ raw, plain: { monitoring } }) =>
            monitoring?.slackChannel !== undefined && !raw.secrets.slackWebhookUrl
                ? missingSecret(raw, "slackWebhookUrl", "when monitoring.slackChannel is set", "'https://hooks.slack.com/services/…'")
                : undefined,
    },
    {
        name: "watch-error-rate-needs-metrics",
        check: ({ raw, plain: { watch, services } }) =>
            watch?.errorRate && !Object.values(services ?? {}).some((service) => service.metrics !== undefined)
                ? `${raw.stack}: watch.errorRate: reads each service's metrics endpoint, and no service sets \`metrics\`; set services.<name>.metrics (e.g. \`metrics: {}\` for /metrics on the service's port), or remove watch.errorRate`
                : undefined,
    },
    {
        name: "monitoring-needs-digitalocean",
        check: ({ raw, plain: { monitoring, cluster } }) =>
            monitoring && cluster?.mode !== "digitalocean"
                ? `${raw.stack}: monitoring: DigitalOcean checks and alerts need a DigitalOcean account, so cluster.mode "digitalocean"; received cluster.mode ${describe(cluster?.mode ?? "kubeconfig")}`
                : undefined,
    },
    {
        name: "database-url-required",
        check: ({ raw, plain: { database } }) =>
            database?.mode === "external" && !raw.secrets.databaseUrl
                ? missingSecret(
                      raw,
                      "databaseUrl",
                      "when database.mode is external",
                      "'postgresql://user:password@host:5432/db?sslmode=require'",
                  )
                : undefined,
    },
    {
        name: "database-admin-url-required",
        check: ({ raw, plain: { database } }) =>
            database?.mode === "server" && !raw.secrets.databaseAdminUrl
                ? missingSecret(
                      raw,
                      "databaseAdminUrl",
                      "when database.mode is server (its database and role are made through it)",
                      "'postgresql://admin:password@host:5432/postgres?sslmode=require'",
                  )
                : undefined,
    },
    // The sweep reads it from the pull requests' template; anywhere else it would expire nothing.
    {
        name: "expiry-pull-requests-only",
        check: ({ raw, plain }) =>
            plain.expiry !== undefined && !/^pr-[0-9]+$/.test(raw.stack)
                ? `${raw.stack}: expiry: the nightly sweep expires pull requests' stacks (pr-<number>) only, never ${raw.stack}; remove esteira:expiry from Pulumi.${raw.stack}.yaml (set it in stacks/pr.template.yaml)`
                : undefined,
    },
    {
        name: "system-namespace-adopted",
        check: ({ raw, plain }) =>
            plain.namespace !== undefined && SYSTEM_NAMESPACES.includes(plain.namespace) && !plain.adoptNamespace
                ? `${raw.stack}: namespace: ${describe(plain.namespace)} is one Kubernetes creates itself: this stack would take it over and delete it, with everything in it, when it goes; name a namespace of the stack's own, or set esteira:adoptNamespace: true to use it without ever deleting it`
                : undefined,
    },
    // Read here, not by the provider: a missing file then fails before the first resource, naming the key.
    {
        name: "kubeconfig-path-exists",
        check: ({ raw, plain: { cluster } }) => {
            if (cluster?.mode !== "kubeconfig" || cluster.kubeconfigPath === undefined || !raw.pathExists) return undefined;
            const file = cluster.kubeconfigPath;
            const expanded = file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
            return raw.pathExists(expanded)
                ? undefined
                : `${raw.stack}: cluster.kubeconfigPath: ${describe(file)} does not exist${expanded !== file ? ` (${expanded})` : ""} (a relative path starts in the project directory, where Pulumi.yaml is); write the cluster's kubeconfig there (e.g. \`kind get kubeconfig > ${file}\`), or leave kubeconfigPath out and give its contents with \`pulumi config set --secret esteira:kubeconfig -s ${raw.stack} < <file>\``;
        },
    },
    // A secret the mode never reads is a credential kept (and rotated) for nothing, or a mode mistaken.
    {
        name: "secret-keys-the-mode-uses",
        check: ({ raw, plain: { cluster, database } }) => {
            const unused: [SecretName, string][] = [];
            const clusterMode = cluster?.mode ?? "kubeconfig";
            if (raw.secrets.kubeconfig && clusterMode !== "kubeconfig")
                unused.push(["kubeconfig", `cluster.mode is ${describe(clusterMode)}`]);
            if (raw.secrets.databaseUrl && database?.mode !== "external") {
                unused.push([
                    "databaseUrl",
                    database ? `database.mode is ${describe(database.mode)}` : "the stack has no esteira:database",
                ]);
            }
            if (raw.secrets.databaseAdminUrl && database?.mode !== "server") {
                unused.push([
                    "databaseAdminUrl",
                    database ? `database.mode is ${describe(database.mode)}` : "the stack has no esteira:database",
                ]);
            }
            return unused.map(
                ([secret, why]) =>
                    `${raw.stack}: ${SECRET_KEYS[secret].key}: is set but unused: ${why}, which does not read it; remove it (\`pulumi config rm ${SECRET_KEYS[secret].key} -s ${raw.stack}\`), or set the mode that uses it`,
            );
        },
    },
    {
        name: "size-slugs-offered",
        check: ({ raw, plain: { cluster, database, extraSizes } }) => {
            const sizes: [string, string | undefined, readonly string[], string][] = [
                [
                    "cluster.nodePool.size",
                    cluster?.mode === "digitalocean" ? cluster.nodePool.size : undefined,
                    DROPLET_SIZES,
                    "doctl kubernetes options sizes",
                ],
                [
                    "cluster.systemPool.size",
                    cluster?.mode === "digitalocean" ? cluster.systemPool?.size : undefined,
                    DROPLET_SIZES,
                    "doctl kubernetes options sizes",
                ],
                [
                    "database.size",
                    database?.mode === "digitalocean" ? database.size : undefined,
                    DATABASE_SIZES,
                    "doctl databases options slugs --engine pg",
                ],
            ];
            return sizes.flatMap(([key, size, offered, list]) => {
                if (size === undefined || offered.includes(size) || extraSizes?.includes(size)) return [];
                const near = offered.filter((slug) => editDistance(slug, size) <= 2);
                return `${raw.stack}: ${key}: ${describe(size)} is not a size DigitalOcean offers${near.length > 0 ? ` (close: ${near.slice(0, 4).join(", ")})` : ""}; pick one from \`${list}\`, or, if DigitalOcean offers it and esteira's list lags, add it to esteira:extraSizes`;
            });
        },
    },
    {
        name: "postgres-names",
        check: ({ raw, plain: { database } }) => {
            if (!database || database.mode === "external") return undefined;
            const names: [string, string | undefined, readonly string[]][] = [
                ["database.databaseName", database.databaseName, RESERVED_DATABASES],
                ["database.user", database.user, RESERVED_ROLES],
            ];
            return names.flatMap(([key, value, reserved]) => {
                if (value === undefined) return [];
                const problem = postgresNameProblem(value, reserved);
                return problem ? `${raw.stack}: ${key}: ${problem}; received ${describe(value)}` : [];
            });
        },
    },
    {
        name: "github-reviewers-unique",
        check: ({ raw, plain: { github } }) =>
            (["users", "teams"] as const).flatMap((kind) => {
                const names = github?.reviewers?.[kind] ?? [];
                const twice = names.filter((n, i) => names.findIndex((m) => m.toLowerCase() === n.toLowerCase()) !== i);
                return twice.length > 0
                    ? `${raw.stack}: github.reviewers.${kind}: ${describe([...new Set(twice)])} listed more than once (GitHub names are case-insensitive); list each once`
                    : [];
            }),
    },
    {
        name: "workloads",
        check: (stack) =>
            workloadsOf(stack.plain).flatMap(([kind, name, workload], index) =>
                problemsOf(WORKLOAD_RULES, { ...stack, kind, name, workload, index }),
            ),
    },
    {
        name: "pins-name-workloads",
        check: ({ raw, plain }) => {
            // The backups' image is pinned as `backup`, as the `images` output names it.
            const names = new Set([...workloadsOf(plain).map(([, name]) => name), ...(plain.backups ? ["backup"] : [])]);
            return Object.keys(plain.pins ?? {})
                .filter((pinned) => !names.has(pinned))
                .map(
                    (name) =>
                        `${raw.stack}: pins.${name}: no service, worker or job ${describe(name)} in this stack; pin only workloads the stack runs`,
                );
        },
    },
    {
        name: "repository-needs-github",
        check: ({ raw, plain }) =>
            plain.repository && !plain.github
                ? `${raw.stack}: repository: needs esteira:github.repository, the repository these settings apply to`
                : undefined,
    },
    {
        name: "service-exposure",
        check: ({ raw, plain }) => Object.entries(plain.services ?? {}).flatMap(([name, svc]) => exposureProblems(raw, plain, name, svc)),
    },
    {
        name: "restore-from-another-cluster",
        check: ({ raw, plain: { database, environment } }) => {
            if (database?.mode !== "digitalocean" || !database.restoreFrom) return undefined;
            const own = database.name ?? `${raw.project}-${environment ?? raw.stack}-db`;
            return database.restoreFrom.cluster === own
                ? `${raw.stack}: database.restoreFrom.cluster: ${describe(own)} is this stack's own database cluster; name the cluster whose backup to restore (e.g. esteira-prod-db)`
                : undefined;
        },
    },
    // A managed database joins the VPC of the DOKS cluster this stack creates and admits only that
    // cluster; a cluster of another stack's has no VPC here.
    {
        name: "database-region-is-cluster-region",
        check: ({ raw, plain: { database, cluster } }) =>
            database?.mode === "digitalocean" && cluster?.mode === "digitalocean" && database.region && database.region !== cluster.region
                ? `${raw.stack}: database.region: must be the cluster's region (${describe(cluster.region)}), the one region its private network reaches; received ${describe(database.region)} (leave it out: it defaults to the cluster's)`
                : undefined,
    },
    {
        name: "digitalocean-database-needs-digitalocean-cluster",
        check: ({ raw, plain: { database, cluster } }) =>
            database?.mode === "digitalocean" && cluster?.mode !== "digitalocean"
                ? `${raw.stack}: database.mode: "digitalocean" joins the VPC of the DOKS cluster this stack creates and admits only that cluster through its firewall, so it needs cluster.mode "digitalocean"; received cluster.mode ${describe(cluster?.mode ?? "kubeconfig")} (use database.mode "external" with esteira:databaseUrl, "server" with esteira:databaseAdminUrl, or "namespace")`
                : undefined,
    },
    {
        name: "images-on-registry",
        check: ({ raw, plain: { images, registry } }) =>
            images && registry && imageHost(images.repository) !== registryHost(registry.server)
                ? `${raw.stack}: images.repository: pushes to ${describe(imageHost(images.repository))}, but esteira:registry.server is ${describe(registry.server)}, the only registry the push token authenticates to; put the images on ${registryHost(registry.server)} or point esteira:registry at ${imageHost(images.repository)}`
                : undefined,
    },
    {
        name: "github-owner-required",
        check: ({ raw, plain }) =>
            plain.github && !raw.githubOwner
                ? `${raw.stack}: github:owner: is required when esteira:github is set (the owner of esteira:github.repository); set it with \`pulumi config set github:owner <owner> -s ${raw.stack}\``
                : undefined,
    },
    {
        name: "github-variables-limit",
        check: ({ raw, plain }) => {
            if (!plain.github) return undefined;
            const variables = FIXED_VARIABLES + Object.keys(plain.services ?? {}).length;
            const own = Object.keys(plain.github.environmentVariables ?? {}).length;
            if (variables > MAX_ENVIRONMENT_VARIABLES) {
                return `${raw.stack}: github: the environment would get ${variables} Actions variables (ESTEIRA_STACK, ESTEIRA_NAMESPACE and one URL per service), more than the ${MAX_ENVIRONMENT_VARIABLES} GitHub allows; split the services across stacks`;
            }
            return variables + own > MAX_ENVIRONMENT_VARIABLES
                ? `${raw.stack}: github.environmentVariables: ${own} variables beside the ${variables} esteira writes (ESTEIRA_STACK, ESTEIRA_NAMESPACE and one URL per service) make ${variables + own}, more than the ${MAX_ENVIRONMENT_VARIABLES} GitHub allows per environment; keep at most ${MAX_ENVIRONMENT_VARIABLES - variables}, or move some to github.repositoryVariables`
                : undefined;
        },
    },
];

/** Rules across the stack's keys and its secret maps; they run once the maps' shapes are valid too. */
export const SECRET_MAP_RULES: readonly Rule<SecretMapSubject>[] = [
    {
        name: "github-secrets-need-github",
        check: ({ raw, plain, maps }) =>
            maps.githubSecrets && !plain.github
                ? `${raw.stack}: ${SECRET_MAPS.githubSecrets.key}: needs esteira:github (its repository is where they are written); set esteira:github.repository`
                : undefined,
    },
    { name: "secret-references", check: ({ raw, plain, maps }) => secretReferenceProblems(raw, plain, maps.secrets ?? {}) },
    { name: "build-secrets", check: ({ raw, plain, maps }) => buildSecretProblems(raw, plain, maps.buildSecrets ?? {}) },
];

/** A key of the stack file as written, when it is a map. */
const rawMap = (raw: RawConfig, key: string): Record<string, unknown> | undefined => {
    const value = raw.values[key];
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
};

/** A value esteira no longer accepts: the rule, and which of the schema's issues its message replaces. */
export interface RetiredRule extends Rule<RawConfig> {
    /** True for a schema issue the rule's message says better (the schema no longer knows the value). */
    readonly replaces: (issue: z.core.$ZodIssue) => boolean;
}

/** How a stack deploys into a cluster another stack owns, since cluster.mode "stack" was retired. */
const KUBECONFIG_INSTEAD = (stack: string) =>
    `use cluster.mode "kubeconfig" and set a credential scoped to this stack's namespace as the secret ${SECRET_KEYS.kubeconfig.key} (\`pulumi config set --secret ${SECRET_KEYS.kubeconfig.key} -s ${stack} < <file>\`), as a pull-request stack gets it from \`scripts/pr-stack.sh grant <number>\``;

/**
 * Values that ran on another stack's credentials, read through a StackReference: a base hands no
 * credential of its own, or of its tenant issuer, to another stack through its state. Checked on the
 * stack file as written, before its schema (which no longer knows them), so the message says why and
 * what replaces them; test/config.test.ts holds each message.
 */
export const RETIRED_RULES: readonly RetiredRule[] = [
    {
        name: "cluster-mode-stack-retired",
        check: (raw) =>
            rawMap(raw, "cluster")?.mode === "stack"
                ? `${raw.stack}: cluster.mode: "stack" is no longer supported: it deployed with the \`tenantKubeconfig\` its base exported, and a base hands no credential of its own or of its tenant issuer to another stack through its state (the issuer may only create and grant pull-request namespaces, so nothing could deploy with it); ${KUBECONFIG_INSTEAD(raw.stack)}`
                : undefined,
        replaces: (issue) => issue.path[0] === "cluster",
    },
    {
        name: "database-mode-shared-retired",
        check: (raw) =>
            rawMap(raw, "database")?.mode === "shared"
                ? `${raw.stack}: database.mode: "shared" is no longer supported: it made this stack's database in another stack's DigitalOcean database cluster, whose firewall admits only that stack's Kubernetes cluster, reached through cluster.mode "stack", which is retired; use database.mode "namespace" (a PostgreSQL of this stack's own in its namespace, as pull-request stacks do), "server" with an admin connection of this stack's own in the secret ${SECRET_KEYS.databaseAdminUrl.key}, or "external" with ${SECRET_KEYS.databaseUrl.key}`
                : undefined,
        replaces: (issue) => issue.path[0] === "database",
    },
    {
        name: "database-stack-retired",
        check: (raw) => {
            const database = rawMap(raw, "database");
            if (database?.stack === undefined || database.mode === "shared") return undefined;
            return `${raw.stack}: database.stack: ${describe(database.stack)} is no longer read: a base hands no database admin connection to another stack through its state (every stack that read it held the server's admin login); remove database.stack and set an admin connection of this stack's own as the secret ${SECRET_KEYS.databaseAdminUrl.key} (\`pulumi config set --secret ${SECRET_KEYS.databaseAdminUrl.key} 'postgresql://admin:password@host:5432/postgres?sslmode=require' -s ${raw.stack}\`), or use database.mode "namespace"`;
        },
        replaces: (issue) =>
            issue.code === "unrecognized_keys" && issue.path.length === 1 && issue.path[0] === "database" && issue.keys.includes("stack"),
    },
];

/** What a rule on the configuration as built sees: the stack, and the names of what holds data. */
export interface BuiltSubject extends StackSubject {
    readonly statefulNames: Record<string, string>;
}

/** Rules on what the configuration builds, once every other rule holds. */
export const BUILT_RULES: readonly Rule<BuiltSubject>[] = [
    {
        name: "stateful-rename-acknowledged",
        check: ({ raw, plain, statefulNames }) => renameProblems(raw, statefulNames, plain.acknowledgedRenames),
    },
];

/** The name of every rule, each list's in order. */
export const RULE_NAMES: readonly string[] = [RETIRED_RULES, CROSS_KEY_RULES, WORKLOAD_RULES, SECRET_MAP_RULES, BUILT_RULES].flatMap(
    (rules) => rules.map((rule) => rule.name),
);
