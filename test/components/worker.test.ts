import * as assert from "assert";
import { Worker, WorkerArgs } from "../../components/worker";
import { assertHardened, FakeResource, Recorder } from "../mocks";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";

async function build(args: Partial<WorkerArgs> = {}, name = "mailer") {
    const recorder = new Recorder();
    await recorder.install("test");
    new Worker(name, { namespace: "shop-homolog", image: "ghcr.io/acme/api@sha256:abc", ...args });
    await recorder.settle();
    const deployment = recorder.get(DEPLOYMENT, `${name}-deployment`);
    const pod = deployment.inputs.spec.template.spec;
    return { recorder, deployment, pod, container: pod.containers[0] };
}

describe("Worker", () => {
    it("registers esteira:kubernetes:Worker with a Deployment child and no Service", async () => {
        const { recorder, deployment } = await build();
        assert.strictEqual(recorder.parentOf(deployment)?.urn, recorder.get("esteira:kubernetes:Worker", "mailer").urn);
        assert.deepStrictEqual(
            recorder.resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => r.type),
            [DEPLOYMENT],
            "a worker serves nothing: no Service",
        );
    });

    it("runs one replica of the command, labelled as a worker, with no port and no probe unless given", async () => {
        const { deployment, container } = await build({ command: ["celery", "-A", "app", "worker"], args: ["-c", "2"] });
        assert.strictEqual(deployment.inputs.spec.replicas, 1);
        assert.strictEqual(deployment.inputs.metadata.labels["app.kubernetes.io/component"], "worker");
        assert.deepStrictEqual(deployment.inputs.spec.selector.matchLabels, {
            "app.kubernetes.io/name": "mailer",
            "app.kubernetes.io/instance": "mailer",
        });
        assert.deepStrictEqual(container.command, ["celery", "-A", "app", "worker"]);
        assert.deepStrictEqual(container.args, ["-c", "2"]);
        assert.strictEqual(container.ports, undefined);
        for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) assert.strictEqual(container[probe], undefined);
    });

    it("is hardened like a service and rolls out without removing a running pod", async () => {
        const { deployment, pod, container } = await build({ imagePullSecrets: ["ghcr-secret"] });
        assertHardened(pod, container);
        assert.deepStrictEqual(pod.imagePullSecrets, [{ name: "ghcr-secret" }]);
        assert.deepStrictEqual(container.resources, {
            requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
            limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "512Mi" },
        });
        assert.deepStrictEqual(deployment.inputs.spec.strategy, {
            type: "RollingUpdate",
            rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
        });
    });

    it("has no preStop sleep (nothing routes to it), and leaves delete-first to the provider", async () => {
        const { recorder, container } = await build({ autoscaling: { minReplicas: 2, maxReplicas: 4 } });
        assert.strictEqual(container.lifecycle, undefined);
        for (const part of [...recorder.all(DEPLOYMENT), ...recorder.all(HPA), ...recorder.all(PDB)]) {
            assert.strictEqual(part.deleteBeforeReplace, false, `${part.type} ${part.name}`);
        }
    });

    it("rolls when a Secret it reads changes: the database's, and each of esteira:secrets by name", async () => {
        const { deployment } = await build({
            databaseSecretName: "db-credentials",
            databaseSecretChecksum: "c0ffee",
            secretEnv: { STRIPE_KEY: { secretName: "stripe", key: "STRIPE_KEY" } },
            secretChecksums: { stripe: "beef" },
        });
        assert.deepStrictEqual(deployment.inputs.spec.template.metadata.annotations, {
            "checksum/database-secret": "c0ffee",
            "checksum/secrets": "stripe=beef",
        });
        assert.strictEqual((await build()).deployment.inputs.spec.template.metadata.annotations, undefined, "none when it reads none");
    });

    it("probes by a command or a TCP port, each timing defaulted like a service's", async () => {
        const { container } = await build({
            probes: { liveness: { exec: ["celery", "inspect", "ping"], timeoutSeconds: 10 }, readiness: { tcpPort: 5555 } },
        });
        assert.deepStrictEqual(container.livenessProbe, {
            exec: { command: ["celery", "inspect", "ping"] },
            initialDelaySeconds: 0,
            periodSeconds: 10,
            timeoutSeconds: 10,
            failureThreshold: 3,
        });
        assert.deepStrictEqual(container.readinessProbe, {
            tcpSocket: { port: 5555 },
            initialDelaySeconds: 0,
            periodSeconds: 5,
            timeoutSeconds: 2,
            failureThreshold: 3,
        });
    });

    it("reads the database URL through the pool and its Secrets through secretKeyRef", async () => {
        const { container } = await build({
            databaseSecretName: "db-credentials",
            env: { QUEUE: "mail" },
            secretEnv: { BROKER_URL: { secretName: "api-secrets", key: "BROKER_URL" } },
        });
        assert.deepStrictEqual(container.env, [
            { name: "QUEUE", value: "mail" },
            { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db-credentials", key: "DATABASE_URL" } } },
            { name: "BROKER_URL", valueFrom: { secretKeyRef: { name: "api-secrets", key: "BROKER_URL" } } },
        ]);
    });

    it("scales under an autoscaler with a disruption budget above one replica", async () => {
        const { recorder, deployment } = await build({ autoscaling: { minReplicas: 2, maxReplicas: 5 } });
        assert.strictEqual(deployment.inputs.spec.replicas, undefined);
        assert.strictEqual(recorder.get(HPA, "mailer-hpa").inputs.spec.minReplicas, 2);
        recorder.get(PDB, "mailer-pdb");
    });

    it("with a persistent path: a claim, one pod at a time, replaced Recreate", async () => {
        const { recorder, deployment, pod, container } = await build({ writablePaths: { "/data": { sizeMiB: 1024, persistent: true } } });
        const claim = recorder.get(PVC, "mailer-volume-data");
        assert.deepStrictEqual(claim.inputs.spec, { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1024Mi" } } });
        assert.deepStrictEqual(pod.volumes, [
            { name: "tmp", emptyDir: { sizeLimit: "512Mi" } },
            { name: "data", persistentVolumeClaim: { claimName: "mailer-data" } },
        ]);
        assert.deepStrictEqual(container.volumeMounts, [
            { name: "tmp", mountPath: "/tmp" },
            { name: "data", mountPath: "/data" },
        ]);
        assert.deepStrictEqual(deployment.inputs.spec.strategy, { type: "Recreate" });
    });

    it("passes deletedWith on to every object it creates", async () => {
        const recorder = new Recorder();
        await recorder.install("test");
        const owner = new FakeResource("owner");
        new Worker(
            "mailer",
            { namespace: "ns", image: "img", replicas: 2, writablePaths: { "/cache": { sizeMiB: 64 } } },
            { deletedWith: owner },
        );
        await recorder.settle();
        const ownerUrn = recorder.get("test:index:Cluster", "owner").urn;
        const objects = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
        assert.strictEqual(objects.length, 2, "Deployment and PDB");
        for (const resource of objects)
            assert.strictEqual(resource.deletedWith, ownerUrn, `${resource.name} must be deletedWith the cluster`);
    });

    describe("invariants, enforced by the component itself", () => {
        const refuses = (args: Partial<WorkerArgs>, message: string) =>
            assert.rejects(build(args), (err: Error) => {
                assert.strictEqual(err.message, message);
                return true;
            });

        it("a probe is a command or a TCP port, not both", () =>
            refuses(
                { probes: { liveness: { exec: ["true"], tcpPort: 80 } } },
                "mailer: probes.liveness: set exactly one of exec or tcpPort; received exec and tcpPort",
            ));

        it("a persistent path serves a single replica", () =>
            refuses(
                { replicas: 2, writablePaths: { "/data": { sizeMiB: 10, persistent: true } } },
                "mailer: writablePaths: a persistent writable path (ReadWriteOnce) serves one pod at a time; received replicas 2: set replicas to 1, or make the path an emptyDir (persistent: false)",
            ));

        it("replicas and autoscaling exclude each other", () =>
            refuses(
                { replicas: 2, autoscaling: { minReplicas: 2, maxReplicas: 4 } },
                "mailer: replicas: replicas (2) cannot be set together with autoscaling: the HorizontalPodAutoscaler owns the replica count; remove replicas or autoscaling",
            ));
    });
    it("owns what it creates entirely: the next up takes back what a kubectl rollout undo or edit changed (patchForce)", async () => {
        const scaled = await build({ autoscaling: { minReplicas: 2, maxReplicas: 4 } });
        const stateful = await build({ writablePaths: { "/data": { sizeMiB: 64, persistent: true } } });
        const objects = [scaled, stateful].flatMap(({ recorder }) => recorder.resources.filter((r) => r.type.startsWith("kubernetes:")));
        assert.deepStrictEqual([...new Set(objects.map((o) => o.type))].sort(), [DEPLOYMENT, HPA, PDB, PVC].sort());
        for (const object of objects) {
            assert.strictEqual(object.inputs.metadata.annotations?.["pulumi.com/patchForce"], "true", `${object.type} ${object.name}`);
        }
    });
});
