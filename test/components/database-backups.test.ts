import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { DatabaseBackups, DatabaseBackupsArgs } from "../../components/database-backups";
import { assertHardened, isSecretInput, Recorder } from "../mocks";

const CRONJOB = "kubernetes:batch/v1:CronJob";
const S3 = {
    mode: "s3" as const,
    endpoint: "http://10.0.0.5:7070",
    bucket: "shop-dev-backups",
    accessKeyId: pulumi.secret("AKID"),
    secretAccessKey: pulumi.secret("s3cr3t"),
};

async function build(args: Partial<DatabaseBackupsArgs> = {}) {
    const recorder = new Recorder();
    await recorder.install("test");
    const component = new DatabaseBackups("dev", {
        image: "registry.example/shop/backup@sha256:abc",
        namespace: "shop-dev",
        imagePullSecrets: ["registry-credentials"],
        databaseSecretName: "db-credentials",
        databaseName: "shop_dev",
        storage: S3,
        ...args,
    });
    await recorder.settle();
    const cron = (name: string) => recorder.get(CRONJOB, `${name}-cronjob`);
    const pod = (name: string) => cron(name).inputs.spec.jobTemplate.spec.template.spec;
    const env = (container: any) => Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom.secretKeyRef]));
    return { recorder, component, cron, pod, env };
}

describe("DatabaseBackups", () => {
    it("dumps on a schedule as a hardened scheduled job: the pinned image, the pull secret, the direct database URL and the bucket's key from Secrets", async () => {
        const { cron, pod, env, recorder } = await build();
        assert.strictEqual(cron("dev-backup").inputs.spec.schedule, "0 3 * * *", "a stack that is not production: daily at 03:00");
        const backup = pod("dev-backup");
        assertHardened(backup, backup.containers[0]);
        assert.deepStrictEqual(backup.imagePullSecrets, [{ name: "registry-credentials" }]);
        assert.strictEqual(backup.containers[0].image, "registry.example/shop/backup@sha256:abc");
        assert.deepStrictEqual(backup.containers[0].command, ["esteira-backup"]);
        const vars = env(backup.containers[0]);
        assert.strictEqual(vars.BACKUP_RETENTION_DAYS, "7", "kept a week when not production");
        assert.strictEqual(vars.BACKUP_BUCKET, "shop-dev-backups");
        assert.strictEqual(vars.RCLONE_CONFIG_STORE_ENDPOINT, "http://10.0.0.5:7070");
        assert.deepStrictEqual(vars.DATABASE_DIRECT_URL, { name: "db-credentials", key: "DATABASE_DIRECT_URL" });
        assert.deepStrictEqual(vars.RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY, { name: "dev-backup-credentials", key: "secretAccessKey" });
        const secret = recorder.get("kubernetes:core/v1:Secret", "dev-backup-credentials");
        assert.ok(isSecretInput(secret, "stringData.secretAccessKey"), "the key stays a secret");
    });

    it("a production stack's defaults are stricter: hourly, kept 30 days; the stack file's schedule and retention win", async () => {
        const strict = await build({ production: true });
        assert.strictEqual(strict.cron("dev-backup").inputs.spec.schedule, "0 * * * *");
        assert.strictEqual(strict.env(strict.pod("dev-backup").containers[0]).BACKUP_RETENTION_DAYS, "30");
        const own = await build({ production: true, schedule: "*/15 * * * *", retentionDays: 45 });
        assert.strictEqual(own.cron("dev-backup").inputs.spec.schedule, "*/15 * * * *");
        assert.strictEqual(own.env(own.pod("dev-backup").containers[0]).BACKUP_RETENTION_DAYS, "45");
    });

    it("the jobs reach the storage's port and nothing more than the namespace's policies admit", async () => {
        const { recorder } = await build();
        const policy = recorder.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "dev-backup-egress");
        assert.deepStrictEqual(policy.inputs.spec.policyTypes, ["Egress"]);
        assert.deepStrictEqual(policy.inputs.spec.egress[0].ports, [{ protocol: "TCP", port: 7070 }]);
        assert.deepStrictEqual(policy.inputs.spec.podSelector.matchExpressions[0].values, [
            "dev-backup",
            "dev-restore",
            "dev-restore-drill",
        ]);
    });

    it("with the stack's webhook, every job can tell it: its URL from the Secret, the event named, its port let out", async () => {
        const adminUrl = pulumi.secret("postgresql://admin:pw@10.0.0.9:5432/postgres");
        const { recorder, pod, env } = await build({ adminUrl, webhookUrl: pulumi.secret("https://hooks.slack.com/services/T0/B0/x") });
        const secret = recorder.get("kubernetes:core/v1:Secret", "dev-backup-credentials");
        assert.ok(isSecretInput(secret, "stringData.webhookUrl"), "the webhook's URL stays a secret");
        const events = { "dev-backup": "backup", "dev-restore": "restore", "dev-restore-drill": "restore drill" };
        for (const [job, event] of Object.entries(events)) {
            const spec = pod(job);
            for (const container of [...(spec.initContainers ?? []), ...spec.containers].filter((c: any) => c.name !== "migrate")) {
                const vars = env(container);
                assert.deepStrictEqual(
                    vars.NOTIFY_WEBHOOK_URL,
                    { name: "dev-backup-credentials", key: "webhookUrl" },
                    `${job}/${container.name}`,
                );
                assert.strictEqual(vars.NOTIFY_EVENT, event, `${job}/${container.name}`);
                assert.strictEqual(vars.NOTIFY_STACK, "dev", `${job}/${container.name}`);
            }
        }
        const policy = recorder.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "dev-backup-egress");
        assert.deepStrictEqual(policy.inputs.spec.egress[0].ports, [
            { protocol: "TCP", port: 7070 },
            { protocol: "TCP", port: 443 },
        ]);
    });

    it("without a webhook no job holds one, and only the storage's port is let out", async () => {
        const { recorder, pod, env } = await build();
        assert.strictEqual(env(pod("dev-backup").containers[0]).NOTIFY_WEBHOOK_URL, undefined);
        assert.ok(!("webhookUrl" in recorder.get("kubernetes:core/v1:Secret", "dev-backup-credentials").inputs.stringData));
    });

    it("without the server's admin connection there is no restore and no drill", async () => {
        const { recorder } = await build();
        assert.deepStrictEqual(
            recorder.all(CRONJOB).map((c) => c.name),
            ["dev-backup-cronjob"],
        );
    });

    it("a restore on demand, and a drill that restores, runs the app's migrations on the copy, then checks and drops it", async () => {
        const { cron, pod, env, recorder } = await build({
            adminUrl: pulumi.secret("postgresql://admin:pw@db.internal:5432/postgres?sslmode=require"),
            restoreDrillSchedule: "0 5 * * 1",
            migration: { image: "registry.example/shop/sample@sha256:def", command: ["node", "dist/migrate.js"] },
            masking: { "users.email": "hash", "notes.body": "blank" },
        });
        assert.strictEqual(cron("dev-restore").inputs.spec.suspend, true, "the restore runs on demand only");
        const drill = cron("dev-restore-drill").inputs.spec;
        assert.strictEqual(drill.schedule, "0 5 * * 1");
        assert.strictEqual(drill.suspend, false);
        const spec = pod("dev-restore-drill");
        assert.deepStrictEqual(
            spec.initContainers.map((c: any) => [c.name, c.image, c.command]),
            [
                ["restore", "registry.example/shop/backup@sha256:abc", ["esteira-restore"]],
                ["migrate", "registry.example/shop/sample@sha256:def", ["node", "dist/migrate.js"]],
            ],
        );
        for (const container of [...spec.initContainers, ...spec.containers]) assertHardened(spec, container);
        assert.deepStrictEqual(env(spec.initContainers[1]).DATABASE_URL, { name: "dev-backup-credentials", key: "scratchUrl" });
        assert.deepStrictEqual(spec.containers[0].command, ["esteira-drill-check"]);
        assert.strictEqual(env(spec.initContainers[0]).BACKUP_MASKING, "users.email=hash notes.body=blank");
        const secret = recorder.get("kubernetes:core/v1:Secret", "dev-backup-credentials");
        assert.strictEqual(
            secret.inputs.stringData.scratchUrl,
            "postgresql://admin:pw@db.internal:5432/shop_dev_restore_drill?sslmode=require",
        );
        assert.ok(
            isSecretInput(secret, "stringData.scratchUrl") && isSecretInput(secret, "stringData.adminUrl"),
            "the admin URLs stay secret",
        );
    });

    it("a drill without a schedule runs on demand only", async () => {
        const { cron } = await build({ adminUrl: pulumi.secret("postgresql://admin:pw@db:5432/postgres") });
        assert.strictEqual(cron("dev-restore-drill").inputs.spec.suspend, true);
    });

    it("on DigitalOcean: a private, versioned Spaces bucket whose lifecycle expires dumps after the retention, and a key that reaches only it", async () => {
        const { recorder, env, pod } = await build({
            storage: { mode: "spaces", region: "nyc3", bucket: "shop-prod-backups" },
            production: true,
        });
        const bucket = recorder.get("digitalocean:index/spacesBucket:SpacesBucket", "dev-backup-bucket").inputs;
        assert.strictEqual(bucket.acl, "private");
        assert.deepStrictEqual(bucket.versioning, { enabled: true });
        assert.deepStrictEqual(bucket.lifecycleRules, [
            {
                id: "retention",
                enabled: true,
                prefix: "dumps/",
                expiration: { days: 30 },
                noncurrentVersionExpiration: { days: 30 },
                abortIncompleteMultipartUploadDays: 1,
            },
        ]);
        const key = recorder.get("digitalocean:index/spacesKey:SpacesKey", "dev-backup-key").inputs;
        assert.deepStrictEqual(key.grants, [{ bucket: "shop-prod-backups", permission: "readwrite" }]);
        const vars = env(pod("dev-backup").containers[0]);
        assert.strictEqual(vars.RCLONE_CONFIG_STORE_ENDPOINT, "https://nyc3.digitaloceanspaces.com");
        assert.strictEqual(vars.RCLONE_CONFIG_STORE_PROVIDER, "DigitalOcean");
    });
});
