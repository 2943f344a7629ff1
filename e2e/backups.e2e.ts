/**
 * Backups end to end on the local line, against versitygw (the S3-compatible stand-in for Spaces,
 * scripts/local-services.sh), whose accounts each reach only the bucket they own: the stack's
 * scheduled dump written to its bucket with the key of that bucket alone, the retention applied,
 * the newest dump restored into a scratch database that the sample app then serves from, its
 * masked column differing from the source's, and the restore drill (restore, the app's
 * migrations, the check, the scratch database dropped) passing.
 */
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
    databaseAdminUrl,
    eventually,
    FINISH_SETUP_TIMEOUT_MS,
    finishSetup,
    flushTimings,
    kube,
    localStack,
    LocalStack,
    psql,
    timed,
    Webhook,
    workDir,
} from "./harness";

const STACK = "backups";
const NAMESPACE = `esteira-${STACK}`;
const BUCKET = "esteira-e2e-backups";
const OTHER_BUCKET = "esteira-e2e-other-env";
const SCRATCH = `esteira_${STACK}_restore_drill`;
/** The stack's own database and role, which `database.mode: server` makes with the admin login. */
const DATABASE = "esteira_backups_e2e";
const appDatabaseUrl = databaseAdminUrl.replace(/\/postgres$/, `/${DATABASE}`);
const env = (name: string) => process.env[name] ?? assert.fail(`${name} is not set: source scripts/env.sh`);

describe("backups: dumps with retention, a restore the app serves from, a masked copy, the drill", function () {
    this.timeout(20 * 60 * 1000);

    let stack: LocalStack;
    const hook = new Webhook();
    let sampleImage: string;
    const key = { id: `e2e-dumps-${crypto.randomBytes(3).toString("hex")}`, secret: crypto.randomBytes(18).toString("hex") };
    const other = { id: `e2e-other-${crypto.randomBytes(3).toString("hex")}`, secret: crypto.randomBytes(18).toString("hex") };
    const { core, batch } = kube();
    const versitygw = (args: string[]) =>
        execFileSync(
            path.join(env("ESTEIRA_BIN"), `versitygw-${env("ESTEIRA_VERSITYGW_VERSION")}`, "versitygw"),
            [
                "admin",
                "-a",
                env("ESTEIRA_S3_ROOT_USER"),
                "-s",
                fs.readFileSync(env("ESTEIRA_S3_ROOT_SECRET_FILE"), "utf8").trim(),
                "-er",
                `http://127.0.0.1:${env("ESTEIRA_S3_PORT")}`,
                ...args,
            ],
            { encoding: "utf8" },
        );
    /** rclone on the host, as the holder of `as`'s key. */
    const rclone = (as: { id: string; secret: string }, args: string[]) => {
        const { AWS_CA_BUNDLE: _bundle, ...rest } = process.env; // rclone 1.60 cannot load a CA bundle for plain HTTP
        const result = spawnSync("rclone", args, {
            encoding: "utf8",
            env: {
                ...rest,
                RCLONE_CONFIG: "/dev/null",
                RCLONE_S3_NO_CHECK_BUCKET: "true",
                RCLONE_CONFIG_STORE_TYPE: "s3",
                RCLONE_CONFIG_STORE_PROVIDER: "Other",
                RCLONE_CONFIG_STORE_ENDPOINT: `http://127.0.0.1:${env("ESTEIRA_S3_PORT")}`,
                RCLONE_CONFIG_STORE_REGION: "us-east-1",
                RCLONE_CONFIG_STORE_ACCESS_KEY_ID: as.id,
                RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY: as.secret,
            },
        });
        return { code: result.status, output: `${result.stdout}${result.stderr}` };
    };
    const dumps = () =>
        rclone(key, ["lsf", "--files-only", `store:${BUCKET}/dumps`])
            .output.split("\n")
            .filter(Boolean)
            .sort();
    /** Runs a Job made from one of the stack's CronJobs and resolves with its logs, every container's, once it finished. */
    const runFrom = async (cronJob: string, env: Record<string, string> = {}) => {
        const name = `${cronJob}-${Date.now().toString(36)}`;
        const template = (await batch.readNamespacedCronJob({ name: cronJob, namespace: NAMESPACE })).spec!.jobTemplate;
        // A variable changed for this run alone, as `kubectl create job --from` then `kubectl set env` would.
        for (const container of template.spec!.template.spec!.containers) {
            container.env = [
                ...(container.env ?? []).filter((e) => !(e.name in env)),
                ...Object.entries(env).map(([n, value]) => ({ name: n, value })),
            ];
        }
        await batch.createNamespacedJob({
            namespace: NAMESPACE,
            body: { metadata: { name, labels: template.metadata?.labels }, spec: template.spec },
        });
        const job = await eventually(
            `Job ${name} to finish`,
            async () => {
                const status = (await batch.readNamespacedJob({ name, namespace: NAMESPACE })).status;
                return status?.succeeded || status?.failed ? status : undefined;
            },
            10 * 60 * 1000,
        );
        const [pod] = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `job-name=${name}` })).items;
        const containers = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers].map((c) => c.name);
        const logs: string[] = [];
        for (const container of containers) {
            logs.push(await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: NAMESPACE, container }).catch(() => ""));
        }
        // Gone with its pods, so that a failed one is not tried again (its backoffLimit) behind the next case.
        await batch.deleteNamespacedJob({ name, namespace: NAMESPACE, propagationPolicy: "Background" });
        return { succeeded: job.succeeded === 1, logs: logs.join("\n") };
    };

    // versitygw, the S3 store, builds in the background while the suites before this one run.
    before(function () {
        this.timeout(FINISH_SETUP_TIMEOUT_MS);
        finishSetup();
    });

    before(async () => {
        // One account and one bucket per environment, as a Spaces key is granted one bucket.
        versitygw(["create-user", "-a", key.id, "-s", key.secret, "-r", "user"]);
        versitygw(["create-user", "-a", other.id, "-s", other.secret, "-r", "user"]);
        for (const [bucket, owner] of [
            [BUCKET, key.id],
            [OTHER_BUCKET, other.id],
        ]) {
            if (!versitygw(["list-buckets"]).includes(bucket)) versitygw(["create-bucket", "--bucket", bucket, "--owner", owner]);
            else versitygw(["change-bucket-owner", "--bucket", bucket, "--owner", owner]);
        }
        rclone(key, ["delete", `store:${BUCKET}/dumps`]);
        // What a run cut short left: the stack's database, its role and the scratch copy.
        for (const sql of [
            `DROP DATABASE IF EXISTS ${SCRATCH} WITH (FORCE)`,
            `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`,
            `DROP ROLE IF EXISTS ${DATABASE}`,
        ]) {
            psql(sql, databaseAdminUrl);
        }
        // The stack's Slack webhook, standing in on the node's address, where the jobs' pods reach it.
        await hook.start(env("ESTEIRA_NODE_IP"));
        const work = workDir(STACK);
        fs.copyFileSync(path.join(work.dir, "Pulumi.local.yaml"), path.join(work.dir, `Pulumi.${STACK}.yaml`));
        stack = await localStack(STACK, { work });
        // The restore and the drill make their scratch database with the server's admin login, which
        // a stack has with `database.mode: server` (the local stack's database is external).
        await stack.stack.removeConfig("esteira:databaseUrl");
        await stack.stack.setConfig("esteira:databaseAdminUrl", { value: databaseAdminUrl, secret: true });
        await stack.stack.setConfig("esteira:slackWebhookUrl", { value: hook.url, secret: true });
        await stack.stack.setConfig("esteira:backupAccessKeyId", { value: key.id, secret: true });
        await stack.stack.setConfig("esteira:backupSecretAccessKey", { value: key.secret, secret: true });
        stack.editConfig((config) => {
            // A stack of its own beside the pull-request base: no tenants here.
            delete config["esteira:tenants"];
            config["esteira:database"] = { mode: "server", databaseName: DATABASE, user: DATABASE };
            config["esteira:backups"] = {
                retentionDays: 7,
                image: {
                    build: { context: "images/backup", args: { BASE_IMAGE: `${env("ESTEIRA_REGISTRY")}/esteira/node-base:bookworm` } },
                },
                storage: { mode: "s3", endpoint: env("ESTEIRA_S3_ENDPOINT"), bucket: BUCKET },
                masking: { "notes.text": "hash" },
            };
        });
        const up = await timed("up (backups)", () => stack.stack.up({ color: "never" }));
        assert.strictEqual(up.summary.result, "succeeded");
        sampleImage = (up.outputs.images.value as Record<string, string>).sample;
        psql(`INSERT INTO notes (text) VALUES ('backed up: ${STACK}')`, appDatabaseUrl);
    });

    after(async () => {
        flushTimings();
        psql(`DROP DATABASE IF EXISTS ${SCRATCH} WITH (FORCE)`, databaseAdminUrl);
        await stack?.stack.destroy({ color: "never" }).catch(() => undefined);
        stack?.dispose();
        await hook.close();
    });

    it("each environment's key reaches its own bucket and no other", () => {
        assert.strictEqual(rclone(key, ["lsf", `store:${BUCKET}`]).code, 0);
        const denied = rclone(key, ["lsf", `store:${OTHER_BUCKET}`]);
        assert.notStrictEqual(denied.code, 0);
        assert.match(denied.output, /403|AccessDenied/);
    });

    it("the scheduled dump writes a dump to the bucket and applies the retention", async () => {
        // A dump older than the retention, as a week-old run would have left it.
        assert.strictEqual(rclone(key, ["touch", "-t", "2020-01-01T00:00:00", `store:${BUCKET}/dumps/20200101T000000Z.dump`]).code, 0);
        const run = await timed("backup Job", () => runFrom(`${STACK}-backup`));
        assert.ok(run.succeeded, run.logs);
        assert.match(run.logs, new RegExp(`dump written: ${BUCKET}/dumps/\\d{8}T\\d{6}Z\\.dump \\(\\d+ bytes\\)`));
        assert.match(run.logs, /retention 7 days: 1 dump\(s\) kept/);
        const kept = dumps();
        assert.strictEqual(kept.length, 1, kept.join(" "));
        assert.notStrictEqual(kept[0], "20200101T000000Z.dump", "the old dump is gone");
    });

    it("a dump that fails fails its Job and tells the stack's webhook, never printing its URL", async () => {
        const from = hook.received.length;
        // The other environment's bucket, which this key is refused: the upload fails.
        const run = await timed("failing backup Job", () => runFrom(`${STACK}-backup`, { BACKUP_BUCKET: OTHER_BUCKET }));
        assert.ok(!run.succeeded, run.logs);
        assert.match(run.logs, /esteira-backup: FAILED: the dump did not complete/);
        assert.match(run.logs, /esteira-notify: told the stack's webhook: FAILED/);
        assert.ok(!run.logs.includes("e2e-secret-path"), "the webhook's URL is never printed");
        assert.strictEqual(hook.texts(from)[0], `${STACK} backup: FAILED: no dump written (exit status 1): its Job's log says why`);
        assert.deepStrictEqual(dumps().length, 1, "the dump written before is all the bucket holds");
    });

    it("the restore puts the newest dump into a scratch database, masked, and the app serves from it", async () => {
        const run = await timed("restore Job", () => runFrom(`${STACK}-restore`));
        assert.ok(run.succeeded, run.logs);
        assert.match(run.logs, /masked notes\.text \(hash\): \d+ row\(s\)/);
        const scratchUrl = databaseAdminUrl.replace(/\/postgres$/, `/${SCRATCH}`);
        const source = psql("SELECT id || ':' || text FROM notes ORDER BY id", appDatabaseUrl).split("\n");
        const copy = psql("SELECT id || ':' || text FROM notes ORDER BY id", scratchUrl).split("\n");
        assert.deepStrictEqual(
            copy.map((row) => row.split(":")[0]),
            source.map((row) => row.split(":")[0]),
            "every row restored",
        );
        for (const [i, row] of copy.entries()) {
            const [id, text] = row.split(/:(.*)/s);
            assert.notStrictEqual(row, source[i], `note ${id}'s text is masked`);
            assert.strictEqual(text, crypto.createHash("md5").update(source[i].split(/:(.*)/s)[1]).digest("hex"));
        }
        // The sample app, on the restored copy: it answers with the copy's notes (a page holds up to 100).
        assert.ok(copy.length < 100, `${copy.length} notes fit one page`);
        const port = 18000 + Math.floor(Math.random() * 1000);
        const container = execFileSync(
            "docker",
            ["run", "-d", "--network", "host", "-e", `PORT=${port}`, "-e", `DATABASE_URL=${scratchUrl}`, sampleImage],
            { encoding: "utf8" },
        ).trim();
        try {
            const notes = await eventually("the app on the restored copy to answer", async () => {
                const response = await fetch(`http://127.0.0.1:${port}/api/notes?limit=100`);
                return response.ok ? ((await response.json()) as { notes: { id: number | string; text: string }[] }).notes : undefined;
            }).catch((err: Error) => {
                const logs = spawnSync("docker", ["logs", "--tail", "30", container], { encoding: "utf8" });
                throw new Error(`${err.message}\nthe app's container log:\n${logs.stdout}${logs.stderr}`);
            });
            assert.deepStrictEqual(
                notes.map((n) => `${n.id}:${n.text}`).sort(),
                [...copy].sort(),
                "the app serves the restored, masked notes",
            );
        } finally {
            spawnSync("docker", ["rm", "-f", container]);
        }
    });

    it("the drill restores the newest dump, runs the app's migrations on it, checks it, reports and drops it", async () => {
        const from = hook.received.length;
        const run = await timed("restore drill Job", () => runFrom(`${STACK}-restore-drill`));
        assert.ok(run.succeeded, run.logs);
        assert.match(run.logs, /esteira-drill: PASSED: \d{8}T\d{6}Z\.dump restored, the app's migrations ran, \d+ table\(s\): .*notes=\d+/);
        assert.match(run.logs, new RegExp(`scratch database ${SCRATCH} dropped`));
        assert.strictEqual(psql(`SELECT count(*) FROM pg_database WHERE datname = '${SCRATCH}'`, databaseAdminUrl), "0");
        // Its result, reported to the stack's webhook.
        const told = hook.texts(from).filter((text) => text.startsWith(`${STACK} restore drill:`));
        assert.strictEqual(told.length, 1, hook.texts(from).join("\n"));
        assert.match(told[0], new RegExp(`^${STACK} restore drill: PASSED: \\d{8}T\\d{6}Z\\.dump restored, the app's migrations ran`));
    });
});
