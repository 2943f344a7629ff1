import * as digitalocean from "@pulumi/digitalocean";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_DEFAULTS } from "../vocabulary/defaults";
import { OWNED_BY_PULUMI } from "./parts/ownership";
import type { SecretKeyRef } from "./parts/pod-spec";
import { ScheduledJob } from "./scheduled-job";

/** A Spaces bucket the stack creates, with a key that reaches only it. */
export interface SpacesStorage {
    mode: "spaces";
    region: string;
    bucket: string;
}

/** A bucket that exists on any S3-compatible service, with a key that should reach only it. */
export interface S3Storage {
    mode: "s3";
    endpoint: string;
    bucket: string;
    region?: string;
    accessKeyId: pulumi.Input<string>;
    secretAccessKey: pulumi.Input<string>;
}

/** The app's migrations, which the restore drill runs against the restored copy. */
export interface DrillMigration {
    image: pulumi.Input<string>;
    command: string[];
}

export interface DatabaseBackupsArgs {
    /** Cron schedule of the dumps. Default: hourly in a production stack, else daily at 03:00. */
    schedule?: string;
    /** Days a dump is kept. Default: 30 in a production stack, else 7. */
    retentionDays?: number;
    /** Whether the stack is a production one (esteira:production), which makes the defaults stricter. Default: false. */
    production?: boolean;
    /** Seconds a dump, restore or drill may run. Default: 3600. */
    timeoutSeconds?: number;
    /** The image with pg_dump, pg_restore, psql, rclone and images/backup's commands, pinned by digest. */
    image: pulumi.Input<string>;
    namespace: pulumi.Input<string>;
    imagePullSecrets?: pulumi.Input<string>[];
    environment?: pulumi.Input<string>;
    partOf?: pulumi.Input<string>;
    /** The environment's database Secret: the dump reads its `DATABASE_DIRECT_URL` (no pool). */
    databaseSecretName: pulumi.Input<string>;
    databaseSecretChecksum?: pulumi.Input<string>;
    storage: SpacesStorage | S3Storage;
    /** The DigitalOcean token the Spaces bucket is made with, when the stack's config holds it. Default: DIGITALOCEAN_TOKEN. */
    digitaloceanToken?: pulumi.Input<string>;
    /**
     * A connection to the database server as a role that may create databases: the restore and the
     * drill make their scratch database with it. Without it, neither exists. Default: none.
     */
    adminUrl?: pulumi.Input<string>;
    /** The name of the database the dumps are of; the scratch one is `<it>_restore_drill`. */
    databaseName: pulumi.Input<string>;
    /** The drill's schedule; without one it runs on demand only. Default: none. */
    restoreDrillSchedule?: string;
    /** The app's migrations the drill runs against the restored copy. Default: none (the drill then only restores and checks). */
    migration?: DrillMigration;
    /** `<table>.<column>` → blank or hash, applied to every restored copy. Default: none. */
    masking?: Record<string, "blank" | "hash">;
    /**
     * A Slack incoming webhook (secret, the stack's esteira:slackWebhookUrl): a dump or restore that
     * fails, and each drill's result, are posted to it. Default: none (the Job's status alone says so).
     */
    webhookUrl?: pulumi.Input<string>;
}

/**
 * The environment's database, dumped (`pg_dump`) on a schedule to S3-compatible storage and kept
 * for a retention; a restore (on demand) and a restore drill (on a schedule and on demand) into a
 * scratch database. Each is a {@link ScheduledJob}: the same hardened pod, pinned image, pull
 * secret, limits and network policy as every workload. On DigitalOcean the bucket is the stack's
 * own: private, versioned, its lifecycle rule expiring what the retention drops.
 */
export class DatabaseBackups extends pulumi.ComponentResource {
    public readonly bucket: pulumi.Output<string>;
    public readonly endpoint: pulumi.Output<string>;
    public readonly backupJob: ScheduledJob;
    public readonly restoreJob?: ScheduledJob;
    public readonly drillJob?: ScheduledJob;

    constructor(name: string, args: DatabaseBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:database:DatabaseBackups", name, {}, opts);
        const d = BACKUP_DEFAULTS;
        const strictness = args.production ? d.production : d.other;
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };
        const store = storageOf(this, name, args, args.retentionDays ?? strictness.retentionDays);
        this.bucket = store.bucket;
        this.endpoint = store.endpoint;

        const credentials = credentialsSecret(name, args, store, childOpts);
        const ref = (key: string): SecretKeyRef => ({ secretName: credentials.metadata.name, key });
        const common = {
            image: args.image,
            namespace: args.namespace,
            imagePullSecrets: args.imagePullSecrets,
            environment: args.environment,
            partOf: args.partOf,
            timeoutSeconds: args.timeoutSeconds ?? d.timeoutSeconds,
            // The env every command reads: where the dumps are, and the key that reaches only that bucket.
            env: {
                NOTIFY_STACK: args.environment ?? name,
                BACKUP_BUCKET: store.bucket,
                BACKUP_PREFIX: d.prefix,
                RCLONE_CONFIG_STORE_TYPE: "s3",
                RCLONE_CONFIG_STORE_PROVIDER: args.storage.mode === "spaces" ? "DigitalOcean" : "Other",
                RCLONE_CONFIG_STORE_ENDPOINT: store.endpoint,
                RCLONE_CONFIG_STORE_REGION: store.region,
            },
            storageSecretEnv: {
                RCLONE_CONFIG_STORE_ACCESS_KEY_ID: ref("accessKeyId"),
                RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY: ref("secretAccessKey"),
                ...(args.webhookUrl !== undefined ? { NOTIFY_WEBHOOK_URL: ref("webhookUrl") } : {}),
            },
        };
        this.backupJob = new ScheduledJob(
            `${name}-backup`,
            {
                ...common,
                schedule: args.schedule ?? strictness.schedule,
                command: ["esteira-backup"],
                env: {
                    ...common.env,
                    BACKUP_RETENTION_DAYS: String(args.retentionDays ?? strictness.retentionDays),
                    NOTIFY_EVENT: "backup",
                },
                secretEnv: {
                    ...common.storageSecretEnv,
                    DATABASE_DIRECT_URL: { secretName: args.databaseSecretName, key: "DATABASE_DIRECT_URL" },
                },
                // Its runs read the Secret afresh; the checksum shows a new URL in the preview.
                databaseSecretName: args.databaseSecretName,
                databaseSecretChecksum: args.databaseSecretChecksum,
            },
            childOpts,
        );
        if (args.adminUrl !== undefined) {
            const restoring = restoreJobs(name, args, common, ref, childOpts);
            this.restoreJob = restoring.restoreJob;
            this.drillJob = restoring.drillJob;
        }
        const ports = [store.port, ...(args.webhookUrl !== undefined ? [webhookPortOf(args.webhookUrl)] : [])];
        storageEgress(name, args.namespace, ports, childOpts);
        this.registerOutputs({ bucket: this.bucket, endpoint: this.endpoint });
    }
}

/** The jobs every command shares: the pod, where the dumps are, and the bucket's key (and the webhook). */
interface CommonJob {
    image: pulumi.Input<string>;
    namespace: pulumi.Input<string>;
    imagePullSecrets?: pulumi.Input<string>[];
    environment?: pulumi.Input<string>;
    partOf?: pulumi.Input<string>;
    timeoutSeconds: number;
    env: Record<string, pulumi.Input<string>>;
    storageSecretEnv: Record<string, SecretKeyRef>;
}

/** The restore (on demand) and the drill (on its schedule, else on demand), both into the scratch database. */
function restoreJobs(
    name: string,
    args: DatabaseBackupsArgs,
    common: CommonJob,
    ref: (key: string) => SecretKeyRef,
    opts: pulumi.ComponentResourceOptions,
): { restoreJob: ScheduledJob; drillJob: ScheduledJob } {
    const restoring = {
        ...common,
        env: { ...common.env, BACKUP_MASKING: maskingOf(args.masking) },
        secretEnv: { ...common.storageSecretEnv, BACKUP_ADMIN_URL: ref("adminUrl"), BACKUP_SCRATCH_URL: ref("scratchUrl") },
    };
    const restoreJob = new ScheduledJob(
        `${name}-restore`,
        // On demand only: `kubectl create job --from=cronjob/<name>-restore`.
        {
            ...restoring,
            env: { ...restoring.env, NOTIFY_EVENT: "restore" },
            schedule: "@yearly",
            suspend: true,
            command: ["esteira-restore"],
        },
        opts,
    );
    const drillEnv = { ...restoring.env, NOTIFY_EVENT: "restore drill" };
    const drillJob = new ScheduledJob(
        `${name}-restore-drill`,
        {
            ...restoring,
            env: drillEnv,
            schedule: args.restoreDrillSchedule ?? "@yearly",
            suspend: args.restoreDrillSchedule === undefined,
            command: ["esteira-drill-check"],
            steps: drillSteps(drillEnv, restoring.secretEnv, args.migration),
        },
        opts,
    );
    return { restoreJob, drillJob };
}

/** The Secret the jobs read: the bucket's key and, for the restore and the drill, the admin and scratch URLs. */
function credentialsSecret(name: string, args: DatabaseBackupsArgs, store: Store, opts: pulumi.CustomResourceOptions) {
    return new k8s.core.v1.Secret(
        `${name}-backup-credentials`,
        {
            metadata: { name: `${name}-backup-credentials`, namespace: args.namespace, annotations: { ...OWNED_BY_PULUMI } },
            stringData: {
                accessKeyId: store.accessKeyId,
                secretAccessKey: store.secretAccessKey,
                ...(args.adminUrl !== undefined
                    ? { adminUrl: pulumi.secret(args.adminUrl), scratchUrl: scratchUrlOf(args.adminUrl, args.databaseName) }
                    : {}),
                ...(args.webhookUrl !== undefined ? { webhookUrl: pulumi.secret(args.webhookUrl) } : {}),
            },
        },
        opts,
    );
}

/** The webhook's port (443 for https), which alone leaves the secret: it says nothing of the URL's path. */
const webhookPortOf = (url: pulumi.Input<string>) =>
    pulumi.unsecret(
        pulumi.output(url).apply((value) => {
            try {
                const parsed = new URL(value);
                return Number(parsed.port || (parsed.protocol === "http:" ? 80 : 443));
            } catch {
                return 443; // not a URL: the post fails, and its Job's log says so
            }
        }),
    );

/**
 * The jobs' way out to the storage and, with a webhook, to it, on their ports: the namespace's
 * default-deny admits only DNS and the database.
 */
function storageEgress(name: string, namespace: pulumi.Input<string>, ports: pulumi.Input<number>[], opts: pulumi.CustomResourceOptions) {
    return new k8s.networking.v1.NetworkPolicy(
        `${name}-backup-egress`,
        {
            metadata: { name: `${name}-backup-egress`, namespace, annotations: { ...OWNED_BY_PULUMI } },
            spec: {
                podSelector: {
                    matchExpressions: [
                        {
                            key: "app.kubernetes.io/name",
                            operator: "In",
                            values: [`${name}-backup`, `${name}-restore`, `${name}-restore-drill`],
                        },
                    ],
                },
                policyTypes: ["Egress"],
                egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: ports.map((port) => ({ protocol: "TCP", port })) }],
            },
        },
        opts,
    );
}

/** The drill restores, then runs the app's migrations against the copy (as the app would), then checks and drops it. */
function drillSteps(env: Record<string, pulumi.Input<string>>, secretEnv: Record<string, SecretKeyRef>, migration?: DrillMigration) {
    return [
        { name: "restore", command: ["esteira-restore"], env, secretEnv },
        ...(migration
            ? [
                  {
                      name: "migrate",
                      image: migration.image,
                      command: migration.command,
                      secretEnv: { DATABASE_URL: secretEnv.BACKUP_SCRATCH_URL },
                  },
              ]
            : []),
    ];
}

/** BACKUP_MASKING: `<table>.<column>=<how>` pairs, space-separated. */
const maskingOf = (masking?: Record<string, "blank" | "hash">) =>
    Object.entries(masking ?? {})
        .map(([column, how]) => `${column}=${how}`)
        .join(" ");

/** The scratch database's URL: the admin connection's, on `<database>_restore_drill`. */
function scratchUrlOf(adminUrl: pulumi.Input<string>, databaseName: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all([adminUrl, databaseName]).apply(([url, database]) => {
            // Unknown in a preview of a cluster not made yet (and in the docs' evaluation).
            if (!url) return url;
            const scratch = new URL(url);
            scratch.pathname = `/${database}${BACKUP_DEFAULTS.scratchSuffix}`;
            return scratch.toString();
        }),
    );
}

interface Store {
    bucket: pulumi.Output<string>;
    endpoint: pulumi.Output<string>;
    region: pulumi.Output<string>;
    port: pulumi.Output<number>;
    accessKeyId: pulumi.Output<string>;
    secretAccessKey: pulumi.Output<string>;
}

/** Where the dumps go, and the key that reaches only that bucket; on Spaces, the bucket and the key are made here. */
function storageOf(owner: pulumi.Resource, name: string, args: DatabaseBackupsArgs, retentionDays: number): Store {
    const { storage } = args;
    if (storage.mode === "s3") {
        const endpoint = new URL(storage.endpoint);
        return {
            bucket: pulumi.output(storage.bucket),
            endpoint: pulumi.output(storage.endpoint),
            region: pulumi.output(storage.region ?? "us-east-1"),
            port: pulumi.output(Number(endpoint.port || (endpoint.protocol === "https:" ? 443 : 80))),
            accessKeyId: pulumi.secret(storage.accessKeyId),
            secretAccessKey: pulumi.secret(storage.secretAccessKey),
        };
    }
    // Creating a bucket takes a Spaces key: one with full access, made with the account's token, which
    // only this stack's provider holds (in the state, a secret); the jobs get another, for this bucket alone.
    const admin = new digitalocean.SpacesKey(
        `${name}-backup-admin-key`,
        { name: `${storage.bucket}-admin`, grants: [{ bucket: "", permission: "fullaccess" }] },
        { parent: owner, additionalSecretOutputs: ["secretKey"] },
    );
    const provider = new digitalocean.Provider(
        `${name}-backup-spaces`,
        { token: args.digitaloceanToken, spacesAccessId: admin.accessKey, spacesSecretKey: admin.secretKey },
        { parent: owner },
    );
    const bucket = new digitalocean.SpacesBucket(
        `${name}-backup-bucket`,
        {
            name: storage.bucket,
            region: storage.region,
            acl: "private",
            // A dump deleted or overwritten (by a stolen job key, say) stays a noncurrent version for the retention again.
            versioning: { enabled: true },
            lifecycleRules: [
                {
                    id: "retention",
                    enabled: true,
                    prefix: `${BACKUP_DEFAULTS.prefix}/`,
                    expiration: { days: retentionDays },
                    noncurrentVersionExpiration: { days: retentionDays },
                    abortIncompleteMultipartUploadDays: 1,
                },
            ],
        },
        // The dumps outlive a destroyed stack only on purpose: Pulumi refuses to delete a bucket with objects in it.
        { parent: owner, provider },
    );
    const key = new digitalocean.SpacesKey(
        `${name}-backup-key`,
        { name: `${storage.bucket}-backup`, grants: [{ bucket: bucket.name, permission: "readwrite" }] },
        { parent: owner, additionalSecretOutputs: ["secretKey"] },
    );
    return {
        bucket: bucket.name,
        endpoint: pulumi.output(`https://${storage.region}.digitaloceanspaces.com`),
        region: pulumi.output(storage.region),
        port: pulumi.output(443),
        accessKeyId: pulumi.secret(key.accessKey),
        secretAccessKey: pulumi.secret(key.secretKey),
    };
}
