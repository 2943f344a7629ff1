import * as assert from "assert";
import { ScheduledJob, ScheduledJobArgs } from "../../components/scheduled-job";
import { assertHardened, FakeResource, Recorder } from "../mocks";

const CRONJOB = "kubernetes:batch/v1:CronJob";

async function build(args: Partial<ScheduledJobArgs> = {}, name = "backup") {
    const recorder = new Recorder();
    await recorder.install("test");
    new ScheduledJob(name, { namespace: "shop-prod", image: "postgres@sha256:abc", schedule: "30 2 * * *", ...args });
    await recorder.settle();
    const cronJob = recorder.get(CRONJOB, `${name}-cronjob`);
    const pod = cronJob.inputs.spec.jobTemplate.spec.template.spec;
    return { recorder, cronJob, pod, container: pod.containers[0] };
}

describe("ScheduledJob", () => {
    it("registers esteira:kubernetes:ScheduledJob with its CronJob as a child, named after it", async () => {
        const { recorder, cronJob } = await build();
        assert.strictEqual(recorder.parentOf(cronJob)?.urn, recorder.get("esteira:kubernetes:ScheduledJob", "backup").urn);
        assert.strictEqual(cronJob.inputs.metadata.name, "backup");
        assert.strictEqual(cronJob.inputs.metadata.labels["app.kubernetes.io/component"], "scheduled-job");
        assert.strictEqual(cronJob.deleteBeforeReplace, false, "it leaves delete-first to the provider");
    });

    it("its runs carry the checksums of the Secrets they read, so a preview shows the CronJob change with them", async () => {
        const { cronJob } = await build({
            databaseSecretName: "db-credentials",
            databaseSecretChecksum: "c0ffee",
            secretChecksums: { "backup-target": "beef" },
        });
        assert.deepStrictEqual(cronJob.inputs.spec.jobTemplate.spec.template.metadata.annotations, {
            "checksum/database-secret": "c0ffee",
            "checksum/secrets": "backup-target=beef",
        });
    });

    it("defaults: no overlapping runs, a five-minute start deadline, a one-hour run, two retries, three runs of each outcome kept", async () => {
        const { cronJob } = await build();
        const { jobTemplate, ...spec } = cronJob.inputs.spec;
        assert.deepStrictEqual(spec, {
            schedule: "30 2 * * *",
            concurrencyPolicy: "Forbid",
            startingDeadlineSeconds: 300,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            suspend: false,
        });
        assert.strictEqual(jobTemplate.spec.activeDeadlineSeconds, 3600);
        assert.strictEqual(jobTemplate.spec.backoffLimit, 2);
        assert.strictEqual(jobTemplate.spec.template.spec.restartPolicy, "Never");
    });

    it("takes every schedule setting", async () => {
        const { cronJob } = await build({
            timeZone: "America/Sao_Paulo",
            concurrencyPolicy: "Replace",
            startingDeadlineSeconds: 60,
            timeoutSeconds: 120,
            backoffLimit: 0,
            successfulJobsHistoryLimit: 1,
            failedJobsHistoryLimit: 5,
            suspend: true,
        });
        const spec = cronJob.inputs.spec;
        assert.strictEqual(spec.timeZone, "America/Sao_Paulo");
        assert.strictEqual(spec.concurrencyPolicy, "Replace");
        assert.strictEqual(spec.startingDeadlineSeconds, 60);
        assert.strictEqual(spec.jobTemplate.spec.activeDeadlineSeconds, 120);
        assert.strictEqual(spec.jobTemplate.spec.backoffLimit, 0);
        assert.strictEqual(spec.successfulJobsHistoryLimit, 1);
        assert.strictEqual(spec.failedJobsHistoryLimit, 5);
        assert.strictEqual(spec.suspend, true);
    });

    it("runs the command in the same hardened pod as a service, with the image's pull secret, database URL and Secrets", async () => {
        const { pod, container } = await build({
            command: ["sh", "-c", "pg_dump"],
            imagePullSecrets: ["ghcr-secret"],
            databaseSecretName: "db-credentials",
            secretEnv: { SPACES_KEY: { secretName: "backup-secrets", key: "SPACES_KEY" } },
            runAsUser: 70,
        });
        assert.deepStrictEqual(container.command, ["sh", "-c", "pg_dump"]);
        assert.strictEqual(container.image, "postgres@sha256:abc");
        assert.deepStrictEqual(pod.imagePullSecrets, [{ name: "ghcr-secret" }]);
        assertHardened(pod, container, 70);
        assert.deepStrictEqual(container.env, [
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db-credentials", key: "DATABASE_URL" } } },
            { name: "SPACES_KEY", valueFrom: { secretKeyRef: { name: "backup-secrets", key: "SPACES_KEY" } } },
        ]);
        assert.deepStrictEqual(container.resources, {
            requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
            limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "512Mi" },
        });
    });

    it("mounts a persistent path from its own claim", async () => {
        const { recorder, pod } = await build({
            writablePaths: { "/backups": { sizeMiB: 20480, persistent: true, storageClass: "do-block-storage-xfs" } },
        });
        const claim = recorder.get("kubernetes:core/v1:PersistentVolumeClaim", "backup-volume-backups");
        assert.strictEqual(claim.inputs.metadata.name, "backup-backups");
        assert.strictEqual(claim.inputs.spec.storageClassName, "do-block-storage-xfs");
        assert.deepStrictEqual(pod.volumes[1], { name: "backups", persistentVolumeClaim: { claimName: "backup-backups" } });
    });

    it("passes deletedWith on to every object it creates", async () => {
        const recorder = new Recorder();
        await recorder.install("test");
        const owner = new FakeResource("owner");
        new ScheduledJob("backup", { namespace: "ns", image: "img", schedule: "@daily" }, { deletedWith: owner });
        await recorder.settle();
        assert.strictEqual(recorder.get(CRONJOB, "backup-cronjob").deletedWith, recorder.get("test:index:Cluster", "owner").urn);
    });

    it("refuses Allow with a persistent path, which two runs on two nodes cannot share", () =>
        assert.rejects(build({ concurrencyPolicy: "Allow", writablePaths: { "/backups": { sizeMiB: 10, persistent: true } } }), {
            message:
                "backup: concurrencyPolicy: Allow can run two pods at once, which a persistent writable path (ReadWriteOnce) cannot serve on two nodes; use Forbid or Replace",
        }));
    it("owns its CronJob entirely: the next up takes back what a kubectl edit changed (patchForce)", async () => {
        const { cronJob } = await build();
        assert.strictEqual(cronJob.inputs.metadata.annotations?.["pulumi.com/patchForce"], "true");
    });
});
