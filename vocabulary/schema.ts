/**
 * The vocabulary: every key a stack file may set under `esteira:`, with its rule, its description
 * and its default. The components take these same shapes as their Args, so a key has one name
 * from stack file to component. Defaults are never applied here: `default` in a key's metadata
 * points at the defaults object (defaults.ts, access-defaults.ts) the component applies with `??`;
 * the reference (docs/configuration.md) and the stack files' JSON Schema are generated from this
 * file (`npm run docs`).
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
    GITHUB_ENVIRONMENT_DEFAULTS,
    GITHUB_ENVIRONMENT_SECRETS,
    MAX_REVIEWERS,
    REPOSITORY_SETTINGS_DEFAULTS,
    SERVICE_ACCOUNT_NAMES,
} from "./access-defaults";
import {
    CLUSTER_DEFAULTS,
    BACKUP_DEFAULTS,
    DATABASE_DEFAULTS,
    ENVIRONMENT_NAMESPACE_DEFAULTS,
    IMAGE_DEFAULTS,
    MONITORING_DEFAULTS,
    NAMESPACE_DATABASE_DEFAULTS,
    SCHEDULED_JOB_DEFAULTS,
    WEB_SERVICE_DEFAULTS,
    WORKER_DEFAULTS,
    WATCH_DEFAULTS,
    WORKLOAD_DEFAULTS,
} from "./defaults";
import { ephemeralStorageProblem, hasPersistentPath, writablePathsProblems } from "./writable-paths";
import {
    type Compute,
    dns1035Label,
    dns1123Label,
    DOKS_VERSION_SLUG,
    ENV_VAR_NAME,
    imageReferenceProblem,
    int,
    isCronSchedule,
    nonEmpty,
    percent,
    portNumber,
    POSTGRES_MAJOR,
    rangeProblem,
    regionSlug,
    replicasProblem,
    requestProblems,
    singlePodProblem,
    sizeSlug,
    stackName,
} from "./rules";

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
/** Whether a stack file runs any service, worker or job (a base stack may run none). */
const hasWorkloads = (stack: { services?: unknown; workers?: unknown; jobs?: unknown }) =>
    [stack.services, stack.workers, stack.jobs].some((map) => isObject(map) && Object.keys(map).length > 0);

/** A default that is no literal value (it depends on the stack, or on another key), as the reference shows it. */
class DefaultText {
    constructor(readonly text: string) {}
}
const text = (t: string) => new DefaultText(t);

/** A key's metadata: its description and its default, a literal (what the component applies) or a {@link text}. */
function doc(description: string, dflt?: unknown) {
    if (dflt instanceof DefaultText) return { description, defaultText: dflt.text };
    return dflt === undefined ? { description } : { description, default: dflt };
}

const ws = WEB_SERVICE_DEFAULTS;
const wk = WORKER_DEFAULTS;
const jd = SCHEDULED_JOB_DEFAULTS;

/** An IPv4 range, e.g. `10.10.0.0/16`. */
const cidr = (what: string) => z.cidrv4({ error: `${what} must be an IPv4 range such as 10.10.0.0/16` });

// ---- services ------------------------------------------------------------------------------

const probe = (
    defaults: { path?: string; initialDelaySeconds: number; periodSeconds: number; timeoutSeconds: number; failureThreshold: number },
    pathText?: DefaultText,
) =>
    z.strictObject({
        path: z
            .string()
            .startsWith("/", { error: "path must start with '/'" })
            .optional()
            .meta(doc("HTTP path", defaults.path ?? pathText)),
        port: portNumber.optional().meta(doc("port to probe", text("the container port"))),
        initialDelaySeconds: int(0).optional().meta(doc("seconds before the first probe", defaults.initialDelaySeconds)),
        periodSeconds: int(1).optional().meta(doc("seconds between probes", defaults.periodSeconds)),
        timeoutSeconds: int(1).optional().meta(doc("seconds a probe may take", defaults.timeoutSeconds)),
        failureThreshold: int(1).optional().meta(doc("failures in a row that count", defaults.failureThreshold)),
    });

const compute = (defaults: { cpuMillicores: number; memoryMiB: number; ephemeralStorageMiB: number }) =>
    z.strictObject({
        cpuMillicores: int(1).optional().meta(doc("CPU in millicores", defaults.cpuMillicores)),
        memoryMiB: int(1).optional().meta(doc("memory in MiB", defaults.memoryMiB)),
        ephemeralStorageMiB: int(1)
            .optional()
            .meta(doc("local disk in MiB: container logs, writable layer and the /tmp emptyDir", defaults.ephemeralStorageMiB)),
    });

/** How a service's image is built: paths are relative to the project. */
export const buildSchema = z.strictObject({
    context: nonEmpty().meta(doc("build context directory, relative to the project")),
    dockerfile: nonEmpty()
        .optional()
        .meta(doc("Dockerfile", text("<context>/Dockerfile"))),
    args: z.record(z.string(), z.string()).optional().meta(doc("build arguments")),
    target: nonEmpty()
        .optional()
        .meta(doc("build stage to stop at", text("the last stage"))),
    secrets: z
        .array(nonEmpty())
        .optional()
        .meta(doc("ids of esteira:buildSecrets the build reads as BuildKit secrets (`RUN --mount=type=secret,id=<id>`)", text("none"))),
});
export type BuildSettings = z.infer<typeof buildSchema>;

const IMAGE_SOURCES = ["ref", "build", "promoteFrom", "verifiedIn"] as const;

const imageFields = z
    .strictObject(
        {
            ref: nonEmpty()
                .superRefine((ref, ctx) => {
                    const problem = imageReferenceProblem(ref);
                    if (problem) ctx.addIssue({ code: "custom", message: `${problem}; received ${JSON.stringify(ref)}` });
                })
                .optional()
                .meta(doc("an image reference; one by tag runs on the digest the tag points at when deployed")),
            build: buildSchema.optional().meta(doc("build from a context and push to `<images.repository>/<name>`")),
            promoteFrom: stackName("promoteFrom must be a stack name or <organization>/<project>/<stack>")
                .optional()
                .meta(doc("take the digest-pinned image another stack exports in its `images` output")),
            verifiedIn: dns1123Label("verifiedIn")
                .optional()
                .meta(
                    doc(
                        "take the image that stack verified for the commit being deployed: the digest of `<images.repository>/<service>:verified-<stack>-<first 12 of the commit>`, pushed by the deploy workflow once that stack's smoke test passed",
                    ),
                ),
        },
        {
            error: (issue) =>
                issue.input === undefined
                    ? "is required: an image reference, build: {context, …}, promoteFrom: <stack> or verifiedIn: <stack>"
                    : undefined,
        },
    )
    .superRefine((image, ctx) => {
        const set = IMAGE_SOURCES.filter((key) => image[key] !== undefined);
        if (set.length !== 1) {
            ctx.addIssue({
                code: "custom",
                message: `set exactly one of ref, build, promoteFrom or verifiedIn; received ${set.length === 0 ? "none" : set.join(" and ")}`,
            });
        }
    });

/** Where a service's image comes from: exactly one of the four. */
export type ImageSource<Build = BuildSettings> = { ref: string } | { build: Build } | { promoteFrom: string } | { verifiedIn: string };

/** The object form of `image`, which JSON Schema shows beside the string shorthand. */
export const imageObjectSchema = imageFields;
export const imageSchema = z
    // A plain string is shorthand for a prebuilt image reference.
    .preprocess((value) => (typeof value === "string" ? { ref: value } : value), imageFields)
    // The refinement guarantees exactly one source; the type says so.
    .transform((image) => image as ImageSource)
    .meta(doc("where the image comes from: a reference, `build: {…}`, `promoteFrom: <stack>` or `verifiedIn: <stack>`"));

const secretKeyRef = z.strictObject({
    secretName: dns1123Label("secretName"),
    key: nonEmpty(),
    external: z
        .boolean()
        .optional()
        .meta(doc("the Secret is created by something else (by hand, an operator); esteira does not check it exists", false)),
});

/** A step run as a Job with the new image before each rollout (`migrate`, `seed`). */
const releaseStep = (defaults: { timeoutSeconds: number; backoffLimit: number }, description: string) =>
    z
        .strictObject({
            command: z
                .array(nonEmpty())
                .min(1, { error: "command must have at least one element" })
                .meta(doc("command, e.g. `[node, dist/migrate.js]`")),
            timeoutSeconds: int(1).optional().meta(doc("how long the Job may run", defaults.timeoutSeconds)),
            backoffLimit: int(0).optional().meta(doc("retries before the Job fails", defaults.backoffLimit)),
        })
        .optional()
        .meta(doc(description, text("none")));

/** A probe that runs a command in the container or connects to one of its TCP ports (workers have no HTTP). */
const commandProbe = (defaults: { initialDelaySeconds: number; periodSeconds: number; timeoutSeconds: number; failureThreshold: number }) =>
    z
        .strictObject({
            exec: z
                .array(nonEmpty())
                .min(1, { error: "exec must have at least one element" })
                .optional()
                .meta(doc("command run in the container; exit 0 passes, e.g. `[celery, inspect, ping]`")),
            tcpPort: portNumber.optional().meta(doc("port that must accept a TCP connection")),
            initialDelaySeconds: int(0).optional().meta(doc("seconds before the first probe", defaults.initialDelaySeconds)),
            periodSeconds: int(1).optional().meta(doc("seconds between probes", defaults.periodSeconds)),
            timeoutSeconds: int(1).optional().meta(doc("seconds a probe may take", defaults.timeoutSeconds)),
            failureThreshold: int(1).optional().meta(doc("failures in a row that count", defaults.failureThreshold)),
        })
        .superRefine((probe, ctx) => {
            const set = (["exec", "tcpPort"] as const).filter((key) => probe[key] !== undefined);
            if (set.length !== 1) {
                ctx.addIssue({
                    code: "custom",
                    message: `set exactly one of exec or tcpPort; received ${set.length === 0 ? "none" : set.join(" and ")}`,
                });
            }
        });

const writablePathsSchema = z
    .record(
        z.string(),
        z.strictObject({
            sizeMiB: int(1).meta(doc("size limit of the emptyDir, or size of the persistent volume")),
            persistent: z
                .boolean()
                .optional()
                .meta(doc("a PersistentVolumeClaim (ReadWriteOnce) that outlives the pod; one pod at a time", false)),
            storageClass: nonEmpty()
                .optional()
                .meta(doc("storage class of the persistent volume", text("the cluster's default (`do-block-storage` on DOKS)"))),
        }),
    )
    .superRefine((paths, ctx) => {
        for (const message of writablePathsProblems(paths)) ctx.addIssue({ code: "custom", message });
    });

/** Keys every workload kind (service, worker, scheduled job) has, with the same meaning. */
const workloadKeys = {
    image: imageSchema,
    namespace: dns1123Label("namespace")
        .optional()
        .meta(doc("key of esteira:namespaces to run in", text("the stack's namespace (esteira:namespace)"))),
    command: z
        .array(nonEmpty())
        .min(1, { error: "command must have at least one element" })
        .optional()
        .meta(doc("replaces the image's entrypoint", text("the image's"))),
    args: z
        .array(z.string())
        .optional()
        .meta(doc("arguments to the entrypoint", text("the image's"))),
    // YAML turns `true` and `8000` into booleans and numbers; containers only take strings. Only
    // whole numbers survive that as written: `1.10` arrives as 1.1, and long numbers lose digits.
    env: z
        .record(
            z.string(),
            z
                .union([z.string(), z.number(), z.boolean()])
                .superRefine((value, ctx) => {
                    if (typeof value === "number" && !Number.isSafeInteger(value)) {
                        ctx.addIssue({
                            code: "custom",
                            message: `YAML read this as the number ${value}, which may not be what the file says (1.10 reads as 1.1, long numbers lose digits): quote it`,
                        });
                    }
                })
                .transform(String),
        )
        .optional()
        .meta(doc("plain variables: strings, booleans and whole numbers (quote anything else)")),
    envNotSecret: z
        .array(nonEmpty())
        .optional()
        .meta(doc("names in `env` that only look like credentials (e.g. `PASSWORD_MIN_LENGTH`), kept in plain env", text("none"))),
    secretEnv: z.record(z.string(), secretKeyRef).optional().meta(doc("variables from Secrets, through `secretKeyRef`")),
    resources: z
        .strictObject({
            requests: compute(ws.resources.requests).optional().meta(doc("requests")),
            limits: compute(ws.resources.limits).optional().meta(doc("limits; requests must not exceed them")),
        })
        .optional()
        .meta(doc("container resources")),
    runAsUser: int(1)
        .optional()
        .meta(doc("UID the containers run as; the image must work as that user (e.g. 101 for nginx-unprivileged)", ws.runAsUser)),
    runAsGroup: int(0)
        .optional()
        .meta(doc("GID the containers run as, and the group that owns their volumes", text("runAsUser"))),
    writablePaths: writablePathsSchema
        .optional()
        .meta(doc("absolute path → an emptyDir of `sizeMiB`, or a persistent volume; `/tmp` itself sets /tmp's size limit", text("none"))),
    database: z
        .boolean()
        .optional()
        .meta(doc("inject `DATABASE_URL` from the database secret", text("true when the stack has a database"))),
};

/** What a workload runs and where: first in every kind's keys. */
const workloadSource = { image: workloadKeys.image, namespace: workloadKeys.namespace };
/** What a workload's containers may read and write, and as whom: last in every kind's keys. */
const workloadAccess = {
    database: workloadKeys.database,
    runAsUser: workloadKeys.runAsUser,
    runAsGroup: workloadKeys.runAsGroup,
    writablePaths: workloadKeys.writablePaths,
};

/** Keys of the workloads that run as a Deployment (services and workers). */
const deploymentKeys = {
    replicas: int(0).optional().meta(doc("fixed replicas; not with `autoscaling`", ws.replicas)),
    autoscaling: z
        .strictObject({
            minReplicas: int(1).meta(doc("fewest replicas")),
            maxReplicas: int(1).meta(doc("most replicas")),
            cpuUtilizationPercent: percent
                .optional()
                .meta(doc("target CPU, in percent of the request", ws.autoscaling.cpuUtilizationPercent)),
            memoryUtilizationPercent: percent.optional().meta(doc("target memory, in percent of the request", text("none"))),
        })
        .optional()
        .meta(doc("HorizontalPodAutoscaler (autoscaling/v2); the Deployment then leaves `replicas` to it", text("off"))),
    revisionHistoryLimit: z
        .number()
        .int()
        .min(1, { error: "0 keeps no earlier ReplicaSet, so `kubectl rollout undo` has nothing to return to; use at least 1" })
        .optional()
        .meta(doc("ReplicaSets kept for `kubectl rollout undo`", ws.revisionHistoryLimit)),
    rolloutTimeoutSeconds: int(1).optional().meta(doc("how long `pulumi up` waits for the rollout", ws.rolloutTimeoutSeconds)),
};

type WorkloadShape = {
    env?: Record<string, string>;
    secretEnv?: Record<string, unknown>;
    resources?: { requests?: Partial<Compute>; limits?: Partial<Compute> };
    writablePaths?: Record<string, { sizeMiB: number; persistent?: boolean }>;
    replicas?: number;
    autoscaling?: { minReplicas: number; maxReplicas: number };
};

/** The rules every workload kind shares, reported on its keys. */
function workloadRules(workload: WorkloadShape, ctx: z.RefinementCtx, runsAsDeployment: boolean) {
    const issue = (path: string, message: string | undefined) => message && ctx.addIssue({ code: "custom", path: [path], message });
    const scaling = workload.autoscaling;
    if (runsAsDeployment) {
        if (scaling) issue("autoscaling", rangeProblem("minReplicas", scaling.minReplicas, "maxReplicas", scaling.maxReplicas));
        issue("replicas", replicasProblem(workload.replicas, scaling));
    }
    for (const [field, names] of [
        ["env", Object.keys(workload.env ?? {})],
        ["secretEnv", Object.keys(workload.secretEnv ?? {})],
    ] as const) {
        for (const name of names.filter((n) => !ENV_VAR_NAME.test(n))) {
            issue(field, `"${name}" is not a valid environment variable name: use letters, digits and '_', not starting with a digit`);
        }
    }
    for (const name of Object.keys(workload.secretEnv ?? {})) {
        if (ENV_VAR_NAME.test(name) && workload.env && name in workload.env) {
            issue("secretEnv", `"${name}" is set in both env and secretEnv; keep it in one of them`);
        }
    }
    for (const message of requestProblems(workload.resources?.requests, workload.resources?.limits, WORKLOAD_DEFAULTS.resources.limits)) {
        issue("resources", message);
    }
    const ephemeralLimit = workload.resources?.limits?.ephemeralStorageMiB ?? WORKLOAD_DEFAULTS.resources.limits.ephemeralStorageMiB;
    issue("writablePaths", ephemeralStorageProblem(workload.writablePaths, ephemeralLimit));
    if (runsAsDeployment && hasPersistentPath(workload.writablePaths)) {
        issue("writablePaths", singlePodProblem(workload.replicas, scaling));
    }
}

export const serviceSchema = z
    .strictObject({
        ...workloadSource,
        migrate: releaseStep(ws.migrate, "a migration Job run with the new image before each rollout"),
        seed: releaseStep(
            ws.seed,
            "a seed Job run with the new image after the migration, before the rollout; it must be safe to run twice",
        ),
        port: portNumber.optional().meta(doc("container port", ws.port)),
        replicas: deploymentKeys.replicas,
        command: workloadKeys.command,
        args: workloadKeys.args,
        env: workloadKeys.env,
        envNotSecret: workloadKeys.envNotSecret,
        secretEnv: workloadKeys.secretEnv,
        probes: z
            .strictObject({
                readiness: probe(ws.probes.readiness).optional().meta(doc("readiness probe")),
                liveness: probe(ws.probes.liveness).optional().meta(doc("liveness probe")),
                startup: probe(ws.probes.startup, text("the liveness path"))
                    .optional()
                    .meta(doc("startup probe; holds off liveness until it passes", text("none"))),
            })
            .optional()
            .meta(doc("HTTP probes")),
        resources: workloadKeys.resources,
        service: z
            .strictObject({
                type: z.enum(["LoadBalancer", "ClusterIP", "NodePort"]).optional().meta(doc("Service type", ws.service.type)),
                port: portNumber.optional().meta(doc("Service port, forwarded to the container port", ws.service.port)),
                annotations: z.record(z.string(), z.string()).optional().meta(doc("e.g. DigitalOcean load balancer settings")),
                tls: z
                    .strictObject({
                        hostname: z
                            .string()
                            .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z][-a-z0-9]*[a-z0-9]$/, {
                                error: "hostname must be a fully qualified domain name in lower case, such as shop.example.com",
                            })
                            .meta(doc("the name the certificate is for and the DNS record points at the load balancer")),
                        zone: nonEmpty()
                            .optional()
                            .meta(doc("the DigitalOcean DNS zone the hostname is in", text("the hostname without its first label"))),
                    })
                    .optional()
                    .meta(
                        doc(
                            "HTTPS at the DigitalOcean load balancer: a Let's Encrypt certificate, HTTP redirected, an A record",
                            text("none: plain HTTP"),
                        ),
                    ),
                tlsWaiver: nonEmpty()
                    .optional()
                    .meta(
                        doc(
                            "why a public service (on a DigitalOcean cluster of the stack's own, or in a production stack) may serve plain HTTP (a reviewed exception)",
                            text("none"),
                        ),
                    ),
            })
            .optional()
            .meta(doc("the Service in front of the pods")),
        autoscaling: deploymentKeys.autoscaling,
        metrics: z
            .strictObject({
                path: z
                    .string()
                    .startsWith("/", { error: "path must start with '/'" })
                    .optional()
                    .meta(doc("scrape path", ws.metrics.path)),
                port: portNumber.optional().meta(doc("scrape port", text("the container port"))),
            })
            .optional()
            .meta(doc("Prometheus scrape annotations on the pods; `{}` turns them on", text("off"))),
        revisionHistoryLimit: deploymentKeys.revisionHistoryLimit,
        rolloutTimeoutSeconds: deploymentKeys.rolloutTimeoutSeconds,
        shutdownDelaySeconds: int(0, 120)
            .optional()
            .meta(
                doc(
                    "a stopping pod keeps serving this long (a `preStop` sleep) while every node stops routing to it; 0 turns it off",
                    ws.shutdownDelaySeconds,
                ),
            ),
        ...workloadAccess,
    })
    .superRefine((svc, ctx) => workloadRules(svc, ctx, true));
export type ServiceSettings = z.infer<typeof serviceSchema>;

export const workerSchema = z
    .strictObject({
        ...workloadSource,
        command: workloadKeys.command,
        args: workloadKeys.args,
        replicas: deploymentKeys.replicas,
        env: workloadKeys.env,
        envNotSecret: workloadKeys.envNotSecret,
        secretEnv: workloadKeys.secretEnv,
        probes: z
            .strictObject({
                readiness: commandProbe(wk.probes.readiness).optional().meta(doc("readiness probe")),
                liveness: commandProbe(wk.probes.liveness).optional().meta(doc("liveness probe: the container restarts when it fails")),
                startup: commandProbe(wk.probes.startup).optional().meta(doc("startup probe; holds off liveness until it passes")),
            })
            .optional()
            .meta(doc("command (`exec`) or TCP probes, each `{exec: [...]}` or `{tcpPort: n}`", text("none"))),
        resources: workloadKeys.resources,
        autoscaling: deploymentKeys.autoscaling,
        revisionHistoryLimit: deploymentKeys.revisionHistoryLimit,
        rolloutTimeoutSeconds: deploymentKeys.rolloutTimeoutSeconds,
        ...workloadAccess,
    })
    .superRefine((worker, ctx) => workloadRules(worker, ctx, true));
export type WorkerSettings = z.infer<typeof workerSchema>;

export const jobSchema = z
    .strictObject({
        ...workloadSource,
        schedule: z
            .string({ error: (issue) => (issue.input === undefined ? 'is required: a cron schedule such as "0 3 * * *"' : undefined) })
            .refine(isCronSchedule, {
                error: (issue) =>
                    `schedule must be a cron schedule of five fields, e.g. "*/15 * * * *", or @hourly, @daily, …; received ${JSON.stringify(issue.input)}`,
            })
            .meta(doc("cron schedule, e.g. `0 3 * * *` (03:00 every day)")),
        timeZone: nonEmpty()
            .optional()
            .meta(doc("IANA time zone of the schedule, e.g. `America/Sao_Paulo`", text("the cluster's (UTC on DOKS)"))),
        command: workloadKeys.command,
        args: workloadKeys.args,
        env: workloadKeys.env,
        envNotSecret: workloadKeys.envNotSecret,
        secretEnv: workloadKeys.secretEnv,
        concurrencyPolicy: z
            .enum(["Forbid", "Replace", "Allow"])
            .optional()
            .meta(doc("a run still going when the next is due: skip the new one, replace it, or run both", jd.concurrencyPolicy)),
        startingDeadlineSeconds: int(1)
            .optional()
            .meta(doc("a run that could not start within this many seconds of its time is skipped", jd.startingDeadlineSeconds)),
        timeoutSeconds: int(1).optional().meta(doc("how long a run may take before it is stopped", jd.timeoutSeconds)),
        backoffLimit: int(0).optional().meta(doc("retries before a run fails", jd.backoffLimit)),
        successfulJobsHistoryLimit: int(0).optional().meta(doc("finished runs kept (with their logs)", jd.successfulJobsHistoryLimit)),
        failedJobsHistoryLimit: int(0).optional().meta(doc("failed runs kept (with their logs)", jd.failedJobsHistoryLimit)),
        suspend: z.boolean().optional().meta(doc("schedule no new runs", jd.suspend)),
        resources: workloadKeys.resources,
        ...workloadAccess,
    })
    .superRefine((job, ctx) => {
        workloadRules(job, ctx, false);
        if (hasPersistentPath(job.writablePaths) && job.concurrencyPolicy === "Allow") {
            ctx.addIssue({
                code: "custom",
                path: ["concurrencyPolicy"],
                message:
                    "Allow can run two pods at once, which a persistent writable path (ReadWriteOnce) cannot serve on two nodes; use Forbid or Replace",
            });
        }
    });
export type JobSettings = z.infer<typeof jobSchema>;

// ---- cluster -------------------------------------------------------------------------------

const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "any"] as const;
const cd = CLUSTER_DEFAULTS;

const nodePoolSchema = z
    .strictObject({
        size: sizeSlug("s-2vcpu-4gb", "doctl kubernetes options sizes").meta(doc("Droplet size slug, e.g. `s-2vcpu-4gb`")),
        minNodes: int(1).meta(doc("fewest nodes")),
        maxNodes: int(1).meta(doc("most nodes; above `minNodes` the pool autoscales")),
        name: nonEmpty()
            .optional()
            .meta(
                doc(
                    "node pool name; the size is appended, so a new size brings a new pool up before the old one drains",
                    text("<cluster name>-workers"),
                ),
            ),
        labels: z.record(z.string(), z.string()).optional().meta(doc("Kubernetes labels of the nodes")),
    })
    .superRefine((pool, ctx) => {
        const message = rangeProblem("minNodes", pool.minNodes, "maxNodes", pool.maxNodes);
        if (message) ctx.addIssue({ code: "custom", message });
    });

const systemPoolSchema = z.strictObject({
    size: sizeSlug("s-2vcpu-4gb", "doctl kubernetes options sizes")
        .optional()
        .meta(doc("Droplet size slug; fixed for the cluster's life: a new size replaces the cluster", cd.systemPool.size)),
    nodeCount: int(1).optional().meta(doc("nodes", cd.systemPool.nodeCount)),
    name: nonEmpty()
        .optional()
        .meta(doc("node pool name", text("<cluster name>-pool"))),
});

const digitalOceanCluster = z.strictObject({
    mode: z.literal("digitalocean").meta(doc("this stack creates a VPC and a DOKS cluster in it")),
    name: dns1123Label("name")
        .optional()
        .meta(doc("cluster name", text("<project>-<environment>"))),
    region: regionSlug().meta(doc("region slug, e.g. `nyc1`")),
    version: z
        .string()
        .regex(DOKS_VERSION_SLUG, {
            error: "version must be a pinned DOKS version slug such as 1.33.1-do.0 (`doctl kubernetes options versions`), so an upgrade is a reviewed change",
        })
        .meta(doc("pinned DOKS version slug (`doctl kubernetes options versions`)")),
    ha: z.boolean().optional().meta(doc("highly available control plane", cd.ha)),
    autoUpgrade: z.boolean().optional().meta(doc("let DigitalOcean apply patch upgrades in the maintenance window", cd.autoUpgrade)),
    maintenance: z
        .strictObject({
            day: z.enum(WEEKDAYS).optional().meta(doc("a weekday or `any`", cd.maintenance.day)),
            startTime: z
                .string()
                .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { error: "startTime must be HH:MM (24-hour, UTC)" })
                .optional()
                .meta(doc("HH:MM, UTC", cd.maintenance.startTime)),
        })
        .optional()
        .meta(doc("maintenance window")),
    vpcIpRange: z
        .cidrv4({ error: "vpcIpRange must be an IPv4 CIDR range such as 10.10.0.0/16" })
        .superRefine((range, ctx) => {
            // zod goes on after a failed format; only a well-formed range is checked further.
            if (!z.cidrv4().safeParse(range).success) return;
            const [address, prefix] = range.split("/");
            const [a, b] = address.split(".").map(Number);
            const isPrivate = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
            if (!isPrivate || Number(prefix) < 16 || Number(prefix) > 28) {
                ctx.addIssue({
                    code: "custom",
                    message: `vpcIpRange must be a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) from /16 to /28, as DigitalOcean requires; received ${JSON.stringify(range)}`,
                });
            }
        })
        .optional()
        .meta(doc("IP range of the VPC, e.g. `10.10.0.0/16`", text("chosen by DigitalOcean"))),
    nodePool: nodePoolSchema.meta(
        doc(
            "the workers: a node pool of its own, so a new size replaces the pool, never the cluster; the autoscaled node count never shows up as a diff",
        ),
    ),
    systemPool: systemPoolSchema
        .optional()
        .meta(
            doc(
                "the cluster's own node pool, which DOKS requires and whose size cannot change without replacing the cluster: keep it small",
            ),
        ),
    tags: z.array(z.string()).optional().meta(doc("DigitalOcean tags")),
    tokenFromEnvironment: z
        .boolean()
        .optional()
        .meta(
            doc(
                "take the DigitalOcean token from the deploying job's `DIGITALOCEAN_TOKEN` instead of `digitalocean:token`: the kubeconfig reads it at run time, so neither the stack's config nor its state holds it",
                cd.tokenFromEnvironment,
            ),
        ),
});

const kubeconfigCluster = z.strictObject({
    mode: z.literal("kubeconfig").meta(doc("an existing cluster (kind, minikube, any other)")),
    kubeconfigPath: nonEmpty()
        .optional()
        .meta(doc("kubeconfig file (`~` expanded)", text("esteira:kubeconfig, else the ambient kubeconfig"))),
    context: nonEmpty()
        .optional()
        .meta(doc("kubeconfig context", text("the current context"))),
    clusterIdentifier: nonEmpty()
        .optional()
        .meta(
            doc(
                "the provider (and every object) is replaced only when this changes, not when credentials do",
                text("the context, else kubeconfig"),
            ),
        ),
});

export const clusterSchema = z.discriminatedUnion("mode", [digitalOceanCluster, kubeconfigCluster], {
    error: (issue) => (issue.code === "invalid_union" ? `mode must be one of: digitalocean, kubeconfig` : undefined),
});
export type ClusterSettings = z.infer<typeof clusterSchema>;

// ---- database ------------------------------------------------------------------------------

const dd = DATABASE_DEFAULTS;
const secretName = dns1123Label("secretName")
    .optional()
    .meta(doc("Kubernetes Secret that holds `DATABASE_URL` and `DATABASE_DIRECT_URL`", dd.secretName));

const digitalOceanDatabase = z.strictObject({
    mode: z.literal("digitalocean").meta(doc("a managed PostgreSQL cluster in the Kubernetes cluster's VPC, reachable only from it")),
    region: regionSlug()
        .optional()
        .meta(doc("region slug; only the cluster's, the one region its private network reaches", text("the cluster's region"))),
    retainOnDelete: z
        .boolean()
        .optional()
        .meta(
            doc(
                "a replaced or destroyed database cluster, with its database, user and firewall, is left in DigitalOcean, data and all, instead of deleted (delete it by hand when done)",
                dd.retainOnDelete,
            ),
        ),
    name: dns1123Label("name")
        .optional()
        .meta(doc("database cluster name", text("<project>-<environment>-db"))),
    version: z
        .string()
        .regex(POSTGRES_MAJOR, { error: "version must be a PostgreSQL major version such as 16" })
        .optional()
        .meta(doc("PostgreSQL major version", dd.version)),
    size: sizeSlug("db-s-1vcpu-1gb", "doctl databases options slugs --engine pg").optional().meta(doc("size slug", dd.size)),
    nodeCount: int(1, 3).optional().meta(doc("nodes; 2 or more keeps a hot standby", dd.nodeCount)),
    databaseName: nonEmpty().optional().meta(doc("database", dd.databaseName)),
    user: nonEmpty().optional().meta(doc("database user (DigitalOcean generates its password)", dd.user)),
    pool: z
        .strictObject({
            size: int(1).meta(doc("connections")),
            mode: z.enum(["transaction", "session", "statement"]).optional().meta(doc("pool mode", dd.pool.mode)),
        })
        .optional()
        .meta(doc("PgBouncer pool; pods connect through it, migrations never do", text("none"))),
    secretName,
    tags: z.array(z.string()).optional().meta(doc("DigitalOcean tags")),
    restoreFrom: z
        .strictObject({
            cluster: dns1123Label("cluster").meta(doc("name of the database cluster whose backup to restore, e.g. `esteira-prod-db`")),
            at: z
                .string()
                .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, {
                    error: "at must be a UTC time such as 2026-03-01T02:30:00Z, within the source's last 7 days",
                })
                .optional()
                .meta(doc("the point in time to restore to, UTC", text("the latest"))),
        })
        .optional()
        .meta(
            doc(
                "create the cluster from another cluster's backup (its databases, users and data); only when the cluster is created",
                text("none: an empty cluster"),
            ),
        ),
});

const externalDatabase = z.strictObject({
    mode: z.literal("external").meta(doc("a database this stack does not manage; its URL is the secret esteira:databaseUrl")),
    secretName,
    cidr: cidr("cidr").optional().meta(doc("address range the database is in; pods may connect to its URL's port only there", dd.cidr)),
});

const serverDatabase = z.strictObject({
    mode: z
        .literal("server")
        .meta(
            doc(
                "a database and role of this stack's own in any PostgreSQL server, made through its admin connection (the secret esteira:databaseAdminUrl)",
            ),
        ),
    databaseName: nonEmpty()
        .optional()
        .meta(doc("database", text("<project>-<environment>"))),
    user: nonEmpty()
        .optional()
        .meta(doc("its owner, a login role with a generated password", text("<project>-<environment>"))),
    cidr: cidr("cidr").optional().meta(doc("address range the server is in; pods may connect to its port only there", dd.cidr)),
    secretName,
});

const nd = NAMESPACE_DATABASE_DEFAULTS;
const namespaceDatabase = z.strictObject({
    mode: z
        .literal("namespace")
        .meta(
            doc(
                "a throwaway PostgreSQL of the stack's own, running in its namespace (a pull request's): its data and generated password go with the namespace; no server, no admin login shared",
            ),
        ),
    image: nonEmpty()
        .superRefine((ref, ctx) => {
            const problem = imageReferenceProblem(ref);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
        })
        .meta(
            doc(
                "PostgreSQL image with the official image's contract (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA; uid 999); one by tag runs on the digest the tag points at when deployed",
            ),
        ),
    databaseName: nonEmpty().optional().meta(doc("database", nd.databaseName)),
    user: nonEmpty().optional().meta(doc("its owner, with a generated password", nd.user)),
    dataMiB: int(64).optional().meta(doc("size limit of the data directory, an emptyDir: the data lives as long as the pod", nd.dataMiB)),
    resources: compute(nd.resources)
        .optional()
        .meta(doc("requests, and limits at the same values", text("the defaults of each field"))),
    secretName,
});

export const databaseSchema = z.discriminatedUnion("mode", [digitalOceanDatabase, externalDatabase, serverDatabase, namespaceDatabase], {
    error: (issue) => (issue.code === "invalid_union" ? `mode must be one of: digitalocean, external, server, namespace` : undefined),
});
export type DatabaseSettings = z.infer<typeof databaseSchema>;

// ---- registry, images, GitHub --------------------------------------------------------------

export const registrySchema = z.strictObject({
    server: nonEmpty().meta(doc("registry host, e.g. `ghcr.io`")),
    username: nonEmpty().meta(doc("account that owns esteira:registryToken")),
    pullSecretName: dns1123Label("pullSecretName")
        .optional()
        .meta(doc("name of the `kubernetes.io/dockerconfigjson` Secret", ENVIRONMENT_NAMESPACE_DEFAULTS.pullSecretName)),
});
export type RegistrySettings = z.infer<typeof registrySchema>;

const id = IMAGE_DEFAULTS;
const repositoryName = z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)+$/, {
    error: "repository must be <registry>/<path> in lower case, e.g. ghcr.io/acme/shop",
});
export const imagesSchema = z.strictObject({
    repository: repositoryName.meta(doc("images go to `<repository>/<service>`, e.g. `ghcr.io/<owner>/<repo>/<service>`")),
    buildOnPreview: z
        .boolean()
        .optional()
        .meta(doc("build during `pulumi preview` too; off, previews (PR checks) neither build nor push", id.buildOnPreview)),
    cache: z.boolean().optional().meta(doc("registry build cache at `<repository>/<service>:buildcache`", id.cache)),
    cacheFrom: z
        .array(repositoryName)
        .optional()
        .meta(
            doc(
                "other repositories whose build cache (`<repository>/<service>:buildcache`) builds read but never write, e.g. main's for a pull request's builds",
            ),
        ),
    platforms: z
        .array(z.enum(["linux/amd64", "linux/arm64"]))
        .min(1)
        .optional()
        .meta(doc("target platforms", id.platforms)),
    network: z
        .enum(["default", "host"])
        .optional()
        .meta(doc("build network; `host` where the build must reach a registry on loopback", text("the builder's default"))),
    exec: z
        .boolean()
        .optional()
        .meta(
            doc(
                "run the machine's `docker buildx` plugin instead of the provider's embedded client",
                text("false: the provider's own client"),
            ),
        ),
    builder: nonEmpty()
        .optional()
        .meta(doc("existing buildx builder, e.g. `default` (the Docker daemon's own)", text("one the provider creates"))),
});
export type ImagesSettings = z.infer<typeof imagesSchema>;

/** A GitHub Actions secret or variable name: letters, digits and '_', not starting with a digit or GITHUB_. */
const actionsName = (what: string) =>
    z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: `${what} is letters, digits and '_', not starting with a digit` })
        .refine((name) => !name.toUpperCase().startsWith("GITHUB_"), { error: `${what} must not start with GITHUB_, which GitHub keeps` });

const gd = GITHUB_ENVIRONMENT_DEFAULTS;
// GitHub's own rules: logins of letters, digits and single inner hyphens; team slugs in lower case.
const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const GITHUB_TEAM_SLUG = /^[a-z0-9][a-z0-9_-]*$/;
/** An environment's protection: who approves, after how long, from which refs, and whether admins may skip that. */
const protectionFields = {
    reviewers: z
        .strictObject({
            users: z
                .array(z.string().regex(GITHUB_LOGIN, { error: 'a user is a GitHub login alone, e.g. "alice" (no "@")' }))
                .optional()
                .meta(doc("logins")),
            teams: z
                .array(
                    z.string().regex(GITHUB_TEAM_SLUG, {
                        error: 'a team is its slug alone, e.g. "platform" (its organization is github:owner; no "@" or "org/")',
                    }),
                )
                .optional()
                .meta(doc("team slugs")),
        })
        .optional()
        .meta(doc(`whose approval a deployment waits for; at most ${MAX_REVIEWERS} in all`, text("none"))),
    preventSelfReview: z.boolean().optional().meta(doc("nobody approves their own deployment", gd.preventSelfReview)),
    waitTimerMinutes: int(0, 43200).optional().meta(doc("wait before a deployment proceeds", gd.waitTimerMinutes)),
    deployFrom: z
        .union(
            [
                z.enum(["all", "protected"]),
                z.strictObject({
                    branches: z.array(nonEmpty()).optional().meta(doc("branch patterns")),
                    tags: z.array(nonEmpty()).optional().meta(doc("tag patterns, e.g. `v*`")),
                }),
            ],
            {
                error: 'deployFrom is "all", "protected", or patterns {branches: [...], tags: [...]}, e.g. deployFrom: protected or deployFrom: {branches: [main]}',
            },
        )
        .optional()
        .meta(doc("refs that may deploy: any, protected branches, or patterns", gd.deployFrom)),
    canAdminsBypass: z
        .boolean()
        .optional()
        .meta(doc("repository admins may deploy without the reviewers' approval (GitHub's default); `false` in prod", gd.canAdminsBypass)),
};

type Protection = { reviewers?: { users?: string[]; teams?: string[] }; deployFrom?: GitHubSettings["deployFrom"] };

/** Reports a protection's rules that span keys, on the paths of its own keys. */
function protectionProblems(protection: Protection, ctx: z.RefinementCtx): void {
    const count = (protection.reviewers?.users?.length ?? 0) + (protection.reviewers?.teams?.length ?? 0);
    if (count > MAX_REVIEWERS) {
        ctx.addIssue({
            code: "custom",
            path: ["reviewers"],
            message: `at most ${MAX_REVIEWERS} reviewers (users and teams together), as GitHub allows; received ${count}`,
        });
    }
    const from = protection.deployFrom;
    if (from && typeof from === "object" && (from.branches?.length ?? 0) + (from.tags?.length ?? 0) === 0) {
        ctx.addIssue({
            code: "custom",
            path: ["deployFrom"],
            message: "name at least one branch or tag pattern, or use all / protected",
        });
    }
}

export const githubSchema = z
    .strictObject({
        repository: z
            .string()
            .regex(/^[A-Za-z0-9._-]+$/, { error: "repository is the repository's name alone; its owner is github:owner" })
            .meta(doc("repository name (the owner is `github:owner`)")),
        environment: nonEmpty()
            .optional()
            .meta(doc("GitHub environment name", text("the environment name"))),
        ...protectionFields,
        actionsSecrets: z
            .strictObject({
                kubeconfig: z
                    .boolean()
                    .optional()
                    .meta(
                        doc(
                            "write `KUBECONFIG` (the environment's ServiceAccount: read-only in its namespace, port-forward for the smoke test)",
                            gd.actionsSecrets.kubeconfig,
                        ),
                    ),
                registryPushToken: z
                    .boolean()
                    .optional()
                    .meta(doc("write `REGISTRY_TOKEN` (the push token)", gd.actionsSecrets.registryPushToken)),
            })
            .optional()
            .meta(doc("which Actions environment secrets to write")),
        deployAfter: z
            .array(stackName())
            .optional()
            .meta(
                doc(
                    "stacks the workflows deploy (and smoke-test) first when one push or tag deploys this one too (`npm run -s stacks`)",
                    text("none; a stack it promotes from comes first anyway"),
                ),
            ),
        environmentVariables: z
            .record(actionsName("an Actions variable name"), z.string())
            .optional()
            .meta(doc("Actions variables of the environment, beside esteira's `ESTEIRA_*` ones", text("none"))),
        managedBy: stackName()
            .optional()
            .meta(
                doc(
                    "the stack whose `esteira:repository.environments` manages this environment (reviewers, rules): this stack then writes no GitHub resource, so its jobs need no GitHub token that could rewrite another environment",
                    text("none: this stack manages its own environment"),
                ),
            ),
        deployOn: z
            .enum(["push", "release"])
            .optional()
            .meta(
                doc(
                    "what deploys it: `push`, a push to a `deployFrom` branch; `release`, only a release run (deploy.yml's Run workflow on main with a release tag, through prod-preview's approval and this environment's)",
                    text('"push"'),
                ),
            ),
        repositoryVariables: z
            .record(actionsName("an Actions variable name"), z.string())
            .optional()
            .meta(doc("Actions variables of the repository; exactly one stack file sets each", text("none"))),
    })
    .superRefine((gh, ctx) => {
        for (const name of Object.keys(gh.environmentVariables ?? {}).filter((name) => name.toUpperCase().startsWith("ESTEIRA_"))) {
            ctx.addIssue({
                code: "custom",
                path: ["environmentVariables"],
                message: `"${name}": ESTEIRA_* are the variables esteira writes itself; choose another name`,
            });
        }
        protectionProblems(gh, ctx);
        if (gh.managedBy !== undefined) {
            const local = (
                ["reviewers", "preventSelfReview", "waitTimerMinutes", "canAdminsBypass", "actionsSecrets", "environmentVariables"] as const
            ).filter((key) => gh[key] !== undefined);
            for (const key of local) {
                ctx.addIssue({
                    code: "custom",
                    path: [key],
                    message: `the environment is managed by stack ${JSON.stringify(gh.managedBy)} (managedBy): set ${key} in its esteira:repository.environments, not here`,
                });
            }
        }
    });
export type GitHubSettings = z.infer<typeof githubSchema>;

// ---- network policy ------------------------------------------------------------------------

export const networkPolicySchema = z.strictObject({
    metricsNamespace: dns1123Label("metricsNamespace")
        .optional()
        .meta(
            doc("namespace of the Prometheus that scrapes services with `metrics`; it may reach their metrics port", ws.metricsNamespace),
        ),
    egress: z
        .array(
            z.strictObject({
                cidr: cidr("cidr").meta(doc("IPv4 range, e.g. `203.0.113.0/24`; `0.0.0.0/0` is any address")),
                ports: z.array(portNumber).min(1, { error: "ports must list at least one port" }).meta(doc("TCP ports")),
            }),
        )
        .optional()
        .meta(doc("further destinations every pod may reach (an API, a collector), beyond DNS and the database", text("none"))),
});
export type NetworkPolicySettings = z.infer<typeof networkPolicySchema>;

// ---- a base stack's tenants, pins, repository settings --------------------------------------

export const tenantsSchema = z.strictObject({
    serviceAccountName: dns1123Label("serviceAccountName")
        .optional()
        .meta(doc("name of the tenant issuer's ServiceAccount, ClusterRole and ClusterRoleBinding", SERVICE_ACCOUNT_NAMES.tenants)),
});

/** How long a pull request's stack may stay idle while its pull request is open (scripts/pr-stack.sh sweep). */
export const expirySchema = z.strictObject({
    idleHours: z
        .number()
        .positive({ error: "idleHours must be more than 0" })
        // 90 days.
        .max(24 * 90)
        .meta(doc("hours without a deploy after which the nightly sweep destroys the stack, though its pull request is open")),
    keepLabel: nonEmpty().meta(doc("a pull-request label that keeps the stack however long it is idle, e.g. `keep-environment`")),
});
export type ExpirySettings = z.infer<typeof expirySchema>;

/** A reference pinned by digest, the only form a pin or a promotion accepts. */
export const DIGEST_REF = /^[^\s@]+@sha256:[0-9a-f]{64}$/;

const rd = REPOSITORY_SETTINGS_DEFAULTS;
export const repositorySchema = z.strictObject({
    releaseManagers: z
        .array(nonEmpty())
        .min(1, { error: "name at least one team" })
        .meta(doc("team slugs that alone may create release tags (rulesets admit teams, not single users)")),
    releaseTags: nonEmpty()
        .optional()
        .meta(doc("tag pattern of releases: created by release managers only, never moved or deleted", rd.releaseTags)),
    requiredChecks: z
        .array(nonEmpty())
        .min(1, { error: "name at least one check" })
        .optional()
        .meta(doc("status checks a pull request needs before it merges into the default branch", rd.requiredChecks)),
    requiredApprovals: int(0, 10)
        .optional()
        .meta(doc("approvals a pull request needs, code owners' included, none from its last pusher", rd.requiredApprovals)),
    environments: z
        .record(nonEmpty(), z.strictObject(protectionFields).superRefine(protectionProblems))
        .optional()
        .meta(
            doc(
                "protection of the GitHub environments no stack deploys to but workflows use (e.g. `prod-preview`, `review`)",
                text("none"),
            ),
        ),
});
export type RepositorySettings = z.infer<typeof repositorySchema>;

// ---- the stack -----------------------------------------------------------------------------

// ---- monitoring ----------------------------------------------------------------------------

const md = MONITORING_DEFAULTS;
export const monitoringSchema = z
    .strictObject({
        emails: z
            .array(z.email({ error: "must be an email address" }))
            .optional()
            .meta(doc("addresses every alert is sent to")),
        slackChannel: nonEmpty()
            .optional()
            .meta(doc("Slack channel alerts are posted to, through the secret esteira:slackWebhookUrl", text("none"))),
        windowMinutes: z
            .literal([5, 10, 30, 60])
            .optional()
            .meta(doc("how long the database or a node must run high before an alert", md.windowMinutes)),
        thresholds: z
            .strictObject({
                cpuPercent: percent.optional().meta(doc("CPU", md.thresholds.cpuPercent)),
                memoryPercent: percent.optional().meta(doc("memory", md.thresholds.memoryPercent)),
                diskPercent: percent.optional().meta(doc("disk", md.thresholds.diskPercent)),
            })
            .optional()
            .meta(doc("alert above these, in percent, on the database cluster and on each node")),
        uptime: z
            .strictObject({
                path: z
                    .string()
                    .startsWith("/", { error: "path must start with '/'" })
                    .optional()
                    .meta(doc("path checked on every public endpoint", text("each service's readiness path"))),
                latencyMs: int(1).optional().meta(doc("alert when answers take longer", md.uptime.latencyMs)),
                sslExpiryDays: int(1).optional().meta(doc("alert when an HTTPS certificate expires sooner", md.uptime.sslExpiryDays)),
                regions: z
                    .array(z.enum(["us_east", "us_west", "eu_west", "se_asia"]))
                    .min(1)
                    .optional()
                    .meta(doc("where the checks run from", text("DigitalOcean's default"))),
            })
            .optional()
            .meta(doc("the uptime check of each public (LoadBalancer) service")),
    })
    .superRefine((monitoring, ctx) => {
        if ((monitoring.emails?.length ?? 0) === 0 && monitoring.slackChannel === undefined) {
            ctx.addIssue({ code: "custom", message: "name where alerts go: emails, slackChannel, or both" });
        }
    });
export type MonitoringSettings = z.infer<typeof monitoringSchema>;

// ---- drift -----------------------------------------------------------------------------------

/** What drift.yml (scripts/drift.sh) does when it finds the stack changed behind Pulumi's back. */
export const driftSchema = z.strictObject({
    remediate: z
        .boolean()
        .optional()
        .meta(
            doc(
                "on drift, run `pulumi up` to put the stack back instead of only reporting it; in an environment with reviewers, behind their approval of the plan the check saved",
                false,
            ),
        ),
});
export type DriftSettings = z.infer<typeof driftSchema>;

// ---- the watch window ------------------------------------------------------------------------

const wd = WATCH_DEFAULTS;
/** What scripts/deploy.sh watches after the smoke test, before the release counts as verified (scripts/watch.sh). */
export const watchSchema = z
    .strictObject({
        windowSeconds: int(0, 3600)
            .optional()
            .meta(doc("seconds the deploy keeps watching after the smoke test; 0: no watch", wd.windowSeconds)),
        intervalSeconds: int(1, 300).optional().meta(doc("seconds between two looks", wd.intervalSeconds)),
        maxRestarts: int(0)
            .optional()
            .meta(doc("container restarts, across the stack's pods, the window tolerates; one more rolls back", wd.maxRestarts)),
        errorRate: z
            .strictObject({
                metric: z
                    .string()
                    .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, { error: "must be a Prometheus metric name, e.g. http_requests_total" })
                    .optional()
                    .meta(doc("counter of requests, read from each pod's metrics endpoint (the service's `metrics`)", wd.errorRate.metric)),
                errorLabel: z
                    .string()
                    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: "must be a Prometheus label name, e.g. status_code" })
                    .optional()
                    .meta(doc("the counter's label that tells an error", wd.errorRate.errorLabel)),
                errorPattern: z
                    .string()
                    .min(1)
                    .refine(
                        (pattern) => {
                            try {
                                new RegExp(pattern);
                                return true;
                            } catch {
                                return false;
                            }
                        },
                        { error: (issue) => `must be a regular expression, e.g. ^5; received ${JSON.stringify(issue.input)}` },
                    )
                    .optional()
                    .meta(
                        doc("a label value matching this (an extended regular expression) counts as an error", wd.errorRate.errorPattern),
                    ),
                thresholdPercent: percent.meta(doc("roll back when more than this percentage of the window's requests are errors")),
                minRequests: int(1).optional().meta(doc("requests the window must see before the rate counts", wd.errorRate.minRequests)),
            })
            .optional()
            .meta(doc("the error-rate signal, from the services that set `metrics`", text("none"))),
    })
    .refine(
        (watch) => (watch.windowSeconds ?? wd.windowSeconds) === 0 || (watch.intervalSeconds ?? wd.intervalSeconds) <= watch.windowSeconds!,
        {
            path: ["intervalSeconds"],
            error: "must not exceed windowSeconds: the window would end before the first look",
        },
    );
export type WatchSettings = z.infer<typeof watchSchema>;

// ---- backups -------------------------------------------------------------------------------

const bd = BACKUP_DEFAULTS;
const cron = (description: string, dflt: DefaultText) =>
    z
        .string()
        .refine(isCronSchedule, {
            error: (issue) =>
                `must be a cron schedule of five fields, e.g. "*/15 * * * *", or @hourly, @daily, …; received ${JSON.stringify(issue.input)}`,
        })
        .optional()
        .meta(doc(description, dflt));
/** An S3 bucket name: 3 to 63 lowercase letters, digits, '-' and '.'. */
const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    error: "must be a bucket name: 3 to 63 lowercase letters, digits, '-' and '.'",
});

const spacesStorage = z.strictObject({
    mode: z
        .literal("spaces")
        .meta(
            doc("a DigitalOcean Spaces bucket the stack creates: private, versioned, its lifecycle expiring dumps after `retentionDays`"),
        ),
    region: regionSlug("region").meta(doc("the Spaces region, e.g. `nyc3`, `ams3`, `fra1`")),
    bucket: bucketName.optional().meta(doc("the bucket's name, unique across Spaces", text("<project>-<environment>-backups"))),
});
const s3Storage = z.strictObject({
    mode: z
        .literal("s3")
        .meta(
            doc(
                "a bucket that exists already on any S3-compatible service, reached with the secrets esteira:backupAccessKeyId and esteira:backupSecretAccessKey, which should reach only that bucket",
            ),
        ),
    endpoint: z
        .string()
        .regex(/^https?:\/\/[a-z0-9.-]+(:[0-9]{1,5})?\/?$/, { error: "must be the service's URL, e.g. https://s3.example.com" })
        .meta(doc("the S3 endpoint URL")),
    bucket: bucketName.meta(doc("the bucket's name")),
    region: nonEmpty().optional().meta(doc("the region the endpoint signs for", "us-east-1")),
});

/** Columns to blank or hash in a copy restored for a lower environment: `<table>.<column>` → how. */
const maskingSchema = z.record(
    z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, { error: "must be <table>.<column>, lowercase, e.g. users.email" }),
    z.enum(["blank", "hash"], { error: 'must be "blank" (an empty string) or "hash" (md5 of the value: equal values stay equal)' }),
);

export const backupsSchema = z.strictObject({
    schedule: cron(
        "when a logical dump (`pg_dump`) runs",
        text(`"${bd.production.schedule}" in a production stack, else "${bd.other.schedule}"`),
    ),
    retentionDays: int(1, 3650)
        .optional()
        .meta(
            doc(
                "days a dump is kept, then deleted",
                text(`${bd.production.retentionDays} in a production stack, else ${bd.other.retentionDays}`),
            ),
        ),
    image: imageSchema.meta(
        doc(
            "the image the dump, restore and drill run: `pg_dump`, `pg_restore`, `psql` and `rclone` on PATH, e.g. `{build: {context: images/backup}}`",
        ),
    ),
    storage: z
        .discriminatedUnion("mode", [spacesStorage, s3Storage], {
            error: (issue) => (issue.code === "invalid_union" ? 'mode must be "spaces" or "s3"' : undefined),
        })
        .meta(doc("where the dumps go: S3-compatible object storage")),
    timeoutSeconds: int(60).optional().meta(doc("how long a dump, restore or drill may take before it is stopped", bd.timeoutSeconds)),
    restoreDrill: z
        .strictObject({
            schedule: cron(
                "when the drill restores the newest dump into a scratch database, checks it and drops it",
                text("never: on demand only"),
            ),
            service: dns1035Label("a service name")
                .optional()
                .meta(
                    doc(
                        "the service whose `migrate` command the drill runs against the restored copy",
                        text("the one service with `migrate`"),
                    ),
                ),
        })
        .optional()
        .meta(doc("the restore drill, which also runs on demand (`kubectl create job --from=cronjob/<job>`)", text("on demand only"))),
    masking: maskingSchema
        .optional()
        .meta(doc("columns blanked or hashed in a masked restore (a lower environment rebuilt from this one's dump)", text("none"))),
});
export type BackupsSettings = z.infer<typeof backupsSchema>;

// ---- release gate --------------------------------------------------------------------------

/** A calendar day, YYYY-MM-DD, that exists (2027-02-30 does not). */
const isCalendarDay = (value: string) =>
    /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);

/** One accepted Critical finding: the release gate (scripts/vulnerability-gate.sh) lets it through until it expires. */
export const allowedVulnerabilitySchema = z.strictObject({
    id: z
        .string()
        .regex(/^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3})$/, {
            error: "must be a CVE id such as CVE-2024-12345 or a GitHub advisory id such as GHSA-xxxx-xxxx-xxxx",
        })
        .meta(doc("the advisory: a CVE id, or a GitHub advisory (GHSA) id; a finding whose related ids include it is covered too")),
    package: nonEmpty()
        .optional()
        .meta(doc("only in this package (its name as the SBOM lists it, e.g. `openssl` or `pg`)", text("any package"))),
    reason: z
        .string()
        .trim()
        .min(10, { error: "say why the finding is accepted (at least 10 characters): not reachable, no fix released yet, …" })
        .meta(doc("why the finding is accepted, for the approvers who read it in the release preview")),
    expires: z
        .string()
        // Unquoted in a stack file, 2027-01-31 is a YAML timestamp, which the Pulumi CLI hands the
        // program as "2027-01-31 00:00:00 +0000 UTC": the same day.
        .overwrite((value) => value.replace(/^(\d{4}-\d{2}-\d{2}) 00:00:00 \+0000 UTC$/, "$1"))
        .refine(isCalendarDay, { error: (issue) => `must be a day, YYYY-MM-DD, e.g. 2027-01-31; received ${JSON.stringify(issue.input)}` })
        .meta(doc("the last day (UTC) the entry covers the finding; after it, the release is refused again")),
});
export type AllowedVulnerability = z.infer<typeof allowedVulnerabilitySchema>;

export const vulnerabilityAllowListSchema = z.array(allowedVulnerabilitySchema).superRefine((entries, ctx) => {
    const seen = new Set<string>();
    entries.forEach((entry, index) => {
        const key = `${entry.id} ${entry.package ?? "*"}`;
        if (seen.has(key)) {
            ctx.addIssue({
                code: "custom",
                path: [index],
                message: `lists ${entry.id}${entry.package ? ` in ${entry.package}` : ""} a second time; keep one entry with one reason and one expiry`,
            });
        }
        seen.add(key);
    });
});

/** The plain (non-secret) keys under `esteira:`, as the stack file holds them. */
export const stackSchema = z
    .strictObject({
        protect: z
            .boolean()
            .meta(
                doc(
                    "`protect` on the cluster, the database cluster, the database and its user, and the GitHub environment (required in every stack; `true` in prod)",
                ),
            ),
        production: z
            .boolean()
            .optional()
            .meta(
                doc("a production stack: its public services must serve HTTPS (`service.tls`) or say why not (`service.tlsWaiver`)", false),
            ),
        smokeTestIdentity: z
            .boolean()
            .optional()
            .meta(
                doc(
                    "create the read-only ServiceAccount the workflows' smoke test uses, with a long-lived token, and export its kubeconfig; `false` in a stack that deploys with a pull request's short-lived tenant credential, which may mint no token (its smoke test uses that credential)",
                    true,
                ),
            ),
        environment: dns1123Label("environment")
            .optional()
            .meta(doc("environment name, in the `environment` label", text("the stack name"))),
        namespace: dns1123Label("namespace")
            .optional()
            .meta(doc("namespace the workloads run in", text("<project>-<environment>"))),
        extraSizes: z
            .array(nonEmpty())
            .optional()
            .meta(
                doc(
                    "size slugs DigitalOcean offers that esteira's list (vocabulary/sizes.ts) does not have yet; others are refused as typos",
                    text("none"),
                ),
            ),
        acknowledgedRenames: z
            .record(z.string(), nonEmpty())
            .optional()
            .meta(
                doc(
                    "a rename that replaces data, done on purpose: what (`namespace`, `namespaces.<key>`, `databaseCluster`, `database`, `databaseUser`, `githubEnvironment`) → its new name; without it, a change of a name the stack deployed last time is refused",
                    text("none"),
                ),
            ),
        adoptNamespace: z
            .boolean()
            .optional()
            .meta(
                doc(
                    "`namespace` exists already and this stack uses it without creating it or ever deleting it; otherwise an existing namespace is refused",
                    ENVIRONMENT_NAMESPACE_DEFAULTS.adoptNamespace,
                ),
            ),
        namespaces: z
            .record(
                dns1123Label("a namespace key"),
                z.strictObject({
                    name: dns1123Label("name")
                        .optional()
                        .meta(doc("the namespace's name", text("<project>-<environment>-<key>"))),
                    adoptNamespace: z
                        .boolean()
                        .optional()
                        .meta(
                            doc(
                                "the namespace exists already and this stack uses it without creating it or ever deleting it; otherwise an existing namespace is refused",
                                ENVIRONMENT_NAMESPACE_DEFAULTS.adoptNamespace,
                            ),
                        ),
                }),
            )
            .optional()
            .meta(doc("more namespaces, by key; a workload's `namespace: <key>` runs it there", text("none"))),
        cluster: clusterSchema.optional().meta(doc("the Kubernetes cluster", text("{mode: kubeconfig}"))),
        database: databaseSchema.optional().meta(doc("the environment's PostgreSQL", text("none"))),
        registry: registrySchema
            .optional()
            .meta(doc("the container registry the pull secret and the pushes authenticate to", text("required with workloads"))),
        images: imagesSchema.optional().meta(doc("where built images are pushed, and how they are built", text("none: no builds"))),
        github: githubSchema.optional().meta(doc("the stack's GitHub deployment environment", text("none: the repository is not managed"))),
        monitoring: monitoringSchema
            .optional()
            .meta(doc("DigitalOcean uptime checks and alerts on the public endpoints, the database and the nodes", text("none"))),
        watch: watchSchema
            .optional()
            .meta(
                doc(
                    "after the smoke test, how long the deploy keeps watching (restarts, readiness lost, a failing Job, the error rate) before the release counts as verified; a failure rolls back through Pulumi",
                    text("no watch"),
                ),
            ),
        drift: driftSchema
            .optional()
            .meta(doc("what the scheduled drift check (drift.yml) does on drift: report it, or put the stack back", text("report"))),
        networkPolicy: networkPolicySchema
            .optional()
            .meta(doc("what the namespace's NetworkPolicies admit beyond DNS, the database and each service's port")),
        services: z
            .record(dns1035Label("a service name"), serviceSchema)
            .optional()
            .meta(doc("one entry per service; the name is a DNS-1035 label", text("required, unless esteira:tenants"))),
        workers: z
            .record(dns1035Label("a worker name"), workerSchema)
            .optional()
            .meta(doc("one entry per worker (a Deployment with no Service); the name is a DNS-1035 label", text("none"))),
        jobs: z
            .record(
                dns1035Label("a job name").max(52, { error: "a job name must be at most 52 characters (each run's Job adds 11)" }),
                jobSchema,
            )
            .optional()
            .meta(doc("one entry per scheduled job (a CronJob); the name is a DNS-1035 label", text("none"))),
        tenants: tenantsSchema
            .optional()
            .meta(
                doc(
                    "this stack hosts pull requests: it creates their tenant issuer, a ServiceAccount that may only create, list and delete pull-request namespaces (`<project>-pr-<number>`), make the deployer ServiceAccount in one, bind it to the deployer ClusterRole there and mint its short-lived token; it exports the issuer's kubeconfig as `tenantKubeconfig` (secret), which only the base's side of `scripts/pr-stack.sh` uses (grant, destroy, destroy-base, sweep), never a stack; and it installs the admission policies that hold the issuer and every pull request to pull-request namespaces (components/tenant-policy.ts); such a base stack needs no workload of its own",
                    text("none"),
                ),
            ),
        expiry: expirySchema
            .optional()
            .meta(
                doc(
                    "pull requests' stacks only (stacks/pr.template.yaml): the nightly sweep (`scripts/pr-stack.sh sweep`) destroys a stack idle this long while its pull request is open, unless the pull request carries the label, and tells the pull request",
                    text("none: kept while the pull request is open"),
                ),
            ),
        pins: z
            .record(
                dns1035Label("a workload name"),
                z.string().regex(DIGEST_REF, { error: "must be pinned by digest: <repository>@sha256:<64 hex digits>" }),
            )
            .optional()
            .meta(
                doc(
                    "operations only, never committed: a service, worker or job → a digest-pinned image that replaces its `image` (a rollback, a chosen digest, prod's approved release; see scripts/pin-images.sh)",
                    text("none"),
                ),
            ),
        backups: backupsSchema
            .optional()
            .meta(
                doc("logical dumps of the environment's database on a schedule, kept for a retention, and the restore drill", text("none")),
            ),
        vulnerabilityAllowList: vulnerabilityAllowListSchema
            .optional()
            .meta(
                doc(
                    "Critical vulnerabilities a release may ship anyway, each with a reason and an expiry: the release preview (scripts/release-preview.sh) scans each digest's attested SBOM with grype and refuses any Critical finding no current entry covers",
                    text("none: every Critical finding stops the release"),
                ),
            ),
        repository: repositorySchema
            .optional()
            .meta(
                doc("the repository's own settings (rulesets, environments no stack owns); in one stack only", text("none: not managed")),
            ),
    })
    // Unlike a key's own rule, these depend on other keys, and run even when other keys are invalid.
    .refine((stack) => stack.services !== undefined || isObject(stack.tenants), {
        path: ["services"],
        error: "is required (expected a map)",
        when: () => true,
    })
    // Only once the rest is valid: a service name that breaks its rule is dropped from the map, which would look empty.
    .refine((stack) => !isObject(stack.services) || Object.keys(stack.services).length > 0 || isObject(stack.tenants), {
        path: ["services"],
        error: "at least one service is required",
    })
    .refine((stack) => stack.registry !== undefined || !hasWorkloads(stack), {
        path: ["registry"],
        error: "is required (expected object)",
        when: () => true,
    });
export type StackSettings = z.infer<typeof stackSchema>;

/** Secrets the program reads, by name → full config key and description. They are only ever read with `getSecret`. */
export const SECRET_KEYS = {
    registryToken: {
        key: "esteira:registryToken",
        description: "registry token with pull rights (GHCR: `read:packages`), for the pull secret",
    },
    registryPushToken: {
        key: "esteira:registryPushToken",
        // Least privilege keeps the pushing token apart from the pull token.
        description: "token that pushes built images (GHCR: `write:packages`); default: esteira:registryToken",
    },
    kubeconfig: {
        key: "esteira:kubeconfig",
        description:
            "kubeconfig contents for `cluster.mode: kubeconfig`, flattened (`kubectl config view --raw --flatten`): the stack's identities take its API server and CA from it",
    },
    databaseUrl: { key: "esteira:databaseUrl", description: "connection URL for `database.mode: external`" },
    databaseAdminUrl: {
        key: "esteira:databaseAdminUrl",
        description:
            "admin connection URL of a PostgreSQL server (a role with CREATEDB and CREATEROLE): `database.mode: server` makes the stack's database and role with it; never exported to another stack",
    },
    slackWebhookUrl: {
        key: "esteira:slackWebhookUrl",
        description:
            "Slack incoming-webhook URL the delivery notifications (scripts/notify.sh: deploys, promotions, rollbacks, the watch window, drift), the backups' failures and restore drills, and the alerts of `monitoring.slackChannel` post to",
    },
    backupAccessKeyId: {
        key: "esteira:backupAccessKeyId",
        description: "access key id of `backups.storage.mode: s3`, reaching only its bucket",
    },
    backupSecretAccessKey: {
        key: "esteira:backupSecretAccessKey",
        description: "secret access key of `backups.storage.mode: s3`",
    },
    // The DigitalOcean provider's own key: the kubeconfig built for DOKS authenticates with it too
    // (unless cluster.tokenFromEnvironment, where both read DIGITALOCEAN_TOKEN instead).
    digitaloceanToken: {
        key: "digitalocean:token",
        description: "DigitalOcean API token; required for `cluster.mode: digitalocean`, unless `cluster.tokenFromEnvironment`",
    },
} as const;
export type SecretName = keyof typeof SECRET_KEYS;

/**
 * Keys a stack file may still hold from an earlier esteira, by key (without `esteira:`) → how to
 * move to what replaced them: a message of their own instead of "unknown key".
 */
export const RETIRED_KEYS: Record<string, (stack: string) => string> = {
    alertSlackWebhookUrl: (stack) =>
        `was renamed esteira:slackWebhookUrl, which the delivery notifications post to as well as the alerts; move it with \`pulumi config get esteira:alertSlackWebhookUrl -s ${stack} | pulumi config set --secret esteira:slackWebhookUrl -s ${stack} && pulumi config rm esteira:alertSlackWebhookUrl -s ${stack}\``,
};

// ---- secret maps ---------------------------------------------------------------------------

/** A Kubernetes Secret's data key. */
export const SECRET_DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** A leaf of a secret map: its value, which the loader hands over only as a Pulumi secret. */
const secretLeaf = z.custom<pulumi.Output<string>>((value) => pulumi.Output.isInstance(value), {
    error: "must be a secret string, set with `pulumi config set --secret --path`",
});

/**
 * Maps of secret values under one key each, every value set with `pulumi config set --secret
 * --path '<key>.<path>'`: by name → full key, the path of one value, and description. The loader
 * reads them only as Pulumi secrets; their names (the map's keys) are not secret.
 */
export const SECRET_MAPS = {
    secrets: {
        key: "esteira:secrets",
        path: "<secret>.<KEY>",
        description: "Kubernetes Secrets the stack creates, Secret name → key → value; workloads read them through `secretEnv`",
    },
    githubSecrets: {
        key: "esteira:githubSecrets",
        path: "{environment|repository}.<NAME>",
        description:
            "Actions secrets the stack writes: `environment.<NAME>` to its GitHub environment, `repository.<NAME>` to the repository (exactly one stack file sets each)",
    },
    buildSecrets: {
        key: "esteira:buildSecrets",
        path: "<id>",
        description:
            "BuildKit secrets, id → value (a package index or model hub token); a build lists the ids it reads in `image.build.secrets`",
    },
} as const;
export type SecretMapName = keyof typeof SECRET_MAPS;

/** The shape of each secret map. */
export const secretMapsSchema = z.strictObject({
    secrets: z
        .record(
            dns1123Label("a Secret name"),
            z.record(
                z.string().max(253).regex(SECRET_DATA_KEY, { error: "a Secret key is letters, digits, '-', '_' and '.'" }),
                secretLeaf,
            ),
        )
        .optional(),
    buildSecrets: z
        .record(z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: "a build secret id is letters, digits, '-', '_' and '.'" }), secretLeaf)
        .optional(),
    githubSecrets: z
        .strictObject({
            environment: z
                .record(
                    actionsName("an Actions secret name").refine((name) => !GITHUB_ENVIRONMENT_SECRETS.includes(name), {
                        error: `${GITHUB_ENVIRONMENT_SECRETS.join(" and ")} are the environment secrets esteira writes itself (github.actionsSecrets); choose another name`,
                    }),
                    secretLeaf,
                )
                .optional(),
            repository: z.record(actionsName("an Actions secret name"), secretLeaf).optional(),
        })
        .optional(),
});
export type SecretMaps = z.infer<typeof secretMapsSchema>;

/** Environment variable names that look like they carry a credential, which belongs in `secretEnv` instead. */
export const SECRET_LIKE_ENV = /PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL/i;
/** A URL that carries a password: `scheme://user:password@host`. */
export const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:[^/@\s]+@/i;

/** Build argument names that look like they carry a secret, which belongs in a BuildKit secret instead. */
export const SECRET_LIKE_BUILD_ARG = /TOKEN|SECRET|PASSWORD|KEY/i;
