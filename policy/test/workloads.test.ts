import * as assert from "assert";
import {
    deploymentMaxUnavailableZero,
    imagePinnedByDigest,
    workloadEphemeralStorage,
    workloadNoAddedCapabilities,
    workloadNonRoot,
    workloadProbes,
    workloadReadOnlyRootFilesystem,
    workloadResources,
} from "../src/policies/workloads";
import { CRONJOB, DEPLOYMENT, IMAGE, JOB, SERVICE, STATEFULSET, container, cronJob, deployment, job, podSpec } from "./fixtures";
import { UNKNOWN_STRING, runResourcePolicy } from "./harness";

describe("workload-probes", () => {
    it("passes a Deployment whose container has both probes", async () => {
        assert.deepStrictEqual((await runResourcePolicy(workloadProbes, { type: DEPLOYMENT, props: deployment() })).violations, []);
    });

    it("reports each missing probe of a Deployment's container", async () => {
        const spec = podSpec([{ ...container(), readinessProbe: undefined, livenessProbe: undefined }]);
        const outcome = await runResourcePolicy(workloadProbes, { type: DEPLOYMENT, props: deployment(spec) });
        assert.deepStrictEqual(outcome.violations, ['container "sample" has no readinessProbe', 'container "sample" has no livenessProbe']);
    });

    it("holds for a StatefulSet too, and for a sidecar init container", async () => {
        const sidecar = { ...container("proxy"), restartPolicy: "Always", livenessProbe: undefined };
        const spec = { ...podSpec(), initContainers: [sidecar] };
        const outcome = await runResourcePolicy(workloadProbes, { type: STATEFULSET, props: deployment(spec) });
        assert.deepStrictEqual(outcome.violations, ['init container "proxy" has no livenessProbe']);
    });

    it("leaves plain init containers alone: Kubernetes forbids probes on them", async () => {
        const init = { ...container("wait"), readinessProbe: undefined, livenessProbe: undefined };
        const outcome = await runResourcePolicy(workloadProbes, {
            type: DEPLOYMENT,
            props: deployment({ ...podSpec(), initContainers: [init] }),
        });
        assert.deepStrictEqual(outcome.violations, []);
    });

    it("does not apply to a Job or CronJob, which run to completion", async () => {
        assert.strictEqual(
            (await runResourcePolicy(workloadProbes, { type: JOB, props: job() })).notApplicable,
            "a Job runs to completion",
        );
        assert.strictEqual(
            (await runResourcePolicy(workloadProbes, { type: CRONJOB, props: cronJob() })).notApplicable,
            "a CronJob runs to completion",
        );
    });

    it("does not apply to resources without a pod template", async () => {
        assert.strictEqual(
            (await runResourcePolicy(workloadProbes, { type: SERVICE, props: {} })).notApplicable,
            "carries no pod template",
        );
    });
});

describe("workload-resources", () => {
    it("passes containers with CPU and memory requests and limits (Deployment, Job, CronJob)", async () => {
        for (const [type, props] of [
            [DEPLOYMENT, deployment()],
            [JOB, job()],
            [CRONJOB, cronJob()],
        ] as const) {
            assert.deepStrictEqual((await runResourcePolicy(workloadResources, { type, props })).violations, [], type);
        }
    });

    it("lists what a container leaves out", async () => {
        const spec = podSpec([{ ...container(), resources: { requests: { cpu: "100m" } } }]);
        const outcome = await runResourcePolicy(workloadResources, { type: DEPLOYMENT, props: deployment(spec) });
        assert.deepStrictEqual(outcome.violations, [
            'container "sample" sets no resources.requests.memory, resources.limits.cpu, resources.limits.memory',
        ]);
    });

    it("counts init containers, and a CronJob's containers", async () => {
        const init = { ...container("wait"), resources: undefined };
        const spec = {
            ...podSpec([{ ...container("nightly"), readinessProbe: undefined, livenessProbe: undefined }]),
            initContainers: [init],
        };
        const outcome = await runResourcePolicy(workloadResources, { type: CRONJOB, props: cronJob(spec) });
        assert.deepStrictEqual(outcome.violations, [
            'init container "wait" sets no resources.requests.cpu, resources.requests.memory, resources.limits.cpu, resources.limits.memory',
        ]);
    });
});

describe("workload-ephemeral-storage", () => {
    it("is mandatory", () => assert.strictEqual(workloadEphemeralStorage.enforcementLevel, "mandatory"));

    it("passes a container with ephemeral-storage request and limit", async () => {
        assert.deepStrictEqual(
            (await runResourcePolicy(workloadEphemeralStorage, { type: DEPLOYMENT, props: deployment() })).violations,
            [],
        );
    });

    it("reports a container without them", async () => {
        const spec = podSpec([
            { ...container(), resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } } },
        ]);
        const outcome = await runResourcePolicy(workloadEphemeralStorage, { type: DEPLOYMENT, props: deployment(spec) });
        assert.deepStrictEqual(outcome.violations, [
            'container "sample" sets no resources.requests.ephemeral-storage, resources.limits.ephemeral-storage',
        ]);
    });
});

describe("workload-non-root", () => {
    it("passes runAsNonRoot set on the pod only", async () => {
        const spec = podSpec([{ ...container(), securityContext: { readOnlyRootFilesystem: true } }]);
        assert.deepStrictEqual((await runResourcePolicy(workloadNonRoot, { type: DEPLOYMENT, props: deployment(spec) })).violations, []);
    });

    it("reports a container that may run as root", async () => {
        const spec = { ...podSpec([{ ...container(), securityContext: {} }]), securityContext: {} };
        const outcome = await runResourcePolicy(workloadNonRoot, { type: JOB, props: job(spec) });
        assert.deepStrictEqual(outcome.violations, [
            'container "sample" may run as root: runAsNonRoot is not true in its securityContext or the pod\'s',
        ]);
    });

    it("lets the container's securityContext override the pod's", async () => {
        const spec = podSpec([{ ...container(), securityContext: { runAsNonRoot: false, runAsUser: 0 } }]);
        const outcome = await runResourcePolicy(workloadNonRoot, { type: DEPLOYMENT, props: deployment(spec) });
        assert.deepStrictEqual(outcome.violations, [
            'container "sample" may run as root: runAsNonRoot is not true in its securityContext or the pod\'s',
            'container "sample" runs as root: runAsUser is 0',
        ]);
    });
});

describe("workload-read-only-root-filesystem", () => {
    it("passes a read-only root filesystem", async () => {
        assert.deepStrictEqual((await runResourcePolicy(workloadReadOnlyRootFilesystem, { type: JOB, props: job() })).violations, []);
    });

    it("reports a writable one", async () => {
        const spec = podSpec([{ ...container(), securityContext: { runAsNonRoot: true } }]);
        const outcome = await runResourcePolicy(workloadReadOnlyRootFilesystem, { type: DEPLOYMENT, props: deployment(spec) });
        assert.deepStrictEqual(outcome.violations, [
            'container "sample" has a writable root filesystem: securityContext.readOnlyRootFilesystem is not true',
        ]);
    });
});

describe("workload-no-added-capabilities", () => {
    const withSecurity = (securityContext: object) =>
        deployment(podSpec([{ ...container(), securityContext: { ...container().securityContext, ...securityContext } }]));

    it("passes a container that only drops capabilities", async () => {
        assert.deepStrictEqual(
            (await runResourcePolicy(workloadNoAddedCapabilities, { type: DEPLOYMENT, props: deployment() })).violations,
            [],
        );
    });

    it("reports added capabilities and privileged mode", async () => {
        const props = withSecurity({ privileged: true, capabilities: { add: ["NET_ADMIN", "SYS_TIME"] } });
        const outcome = await runResourcePolicy(workloadNoAddedCapabilities, { type: DEPLOYMENT, props });
        assert.deepStrictEqual(outcome.violations, [
            'container "sample" is privileged',
            'container "sample" adds capabilities NET_ADMIN, SYS_TIME',
        ]);
    });

    it("accepts the capabilities configured as allowed", async () => {
        const props = withSecurity({ capabilities: { add: ["CAP_NET_BIND_SERVICE", "NET_RAW"] } });
        const outcome = await runResourcePolicy(
            workloadNoAddedCapabilities,
            { type: DEPLOYMENT, props },
            { allowedCapabilities: ["NET_BIND_SERVICE"] },
        );
        assert.deepStrictEqual(outcome.violations, ['container "sample" adds capabilities NET_RAW']);
    });
});

describe("image-pinned-by-digest", () => {
    const withImage = (image: string) => deployment(podSpec([{ ...container(), image }]));

    it("passes <repository>@sha256:<digest>, with or without a tag", async () => {
        for (const image of [IMAGE, IMAGE.replace("@", ":v1@")]) {
            assert.deepStrictEqual(
                (await runResourcePolicy(imagePinnedByDigest, { type: DEPLOYMENT, props: withImage(image) })).violations,
                [],
                image,
            );
        }
    });

    it("reports a tag, and an init container's tag", async () => {
        const spec = {
            ...podSpec([{ ...container(), image: "nginx:1.27" }]),
            initContainers: [{ ...container("wait"), image: "busybox" }],
        };
        const outcome = await runResourcePolicy(imagePinnedByDigest, { type: JOB, props: job(spec) });
        assert.deepStrictEqual(outcome.violations, [
            'init container "wait" image "busybox" is not pinned by digest (<repository>@sha256:<digest>)',
            'container "sample" image "nginx:1.27" is not pinned by digest (<repository>@sha256:<digest>)',
        ]);
    });

    it("reports a truncated digest and a tag that only looks like one", async () => {
        for (const image of [
            "ghcr.io/esteira-dev/esteira/sample@sha256:abc123",
            "ghcr.io/esteira-dev/esteira/sample:sha256-" + "a".repeat(64),
        ]) {
            const outcome = await runResourcePolicy(imagePinnedByDigest, { type: DEPLOYMENT, props: withImage(image) });
            assert.deepStrictEqual(outcome.violations, [
                `container "sample" image ${JSON.stringify(image)} is not pinned by digest (<repository>@sha256:<digest>)`,
            ]);
        }
    });

    it("leaves an image built in this update (unknown during preview) to `up`, and still checks the others", async () => {
        const spec = podSpec([
            { ...container("built"), image: UNKNOWN_STRING },
            { ...container("sidecar"), image: "envoy:latest" },
        ]);
        const outcome = await runResourcePolicy(imagePinnedByDigest, { type: DEPLOYMENT, props: deployment(spec) });
        assert.deepStrictEqual(outcome, {
            violations: ['container "sidecar" image "envoy:latest" is not pinned by digest (<repository>@sha256:<digest>)'],
        });
    });
});

describe("deployment-max-unavailable-zero", () => {
    const withStrategy = (strategy: unknown) => ({ ...deployment(), spec: { ...deployment().spec, strategy } });

    it("passes maxUnavailable 0 (as a number or a percentage)", async () => {
        for (const maxUnavailable of [0, "0%"]) {
            const props = withStrategy({ type: "RollingUpdate", rollingUpdate: { maxUnavailable, maxSurge: 1 } });
            assert.deepStrictEqual((await runResourcePolicy(deploymentMaxUnavailableZero, { type: DEPLOYMENT, props })).violations, []);
        }
    });

    it("reports a non-zero maxUnavailable, the 25% default and Recreate", async () => {
        const cases: [unknown, string][] = [
            [{ rollingUpdate: { maxUnavailable: 1 } }, "strategy.rollingUpdate.maxUnavailable is 1; set it to 0"],
            [undefined, "strategy.rollingUpdate.maxUnavailable is not set (Kubernetes defaults it to 25%); set it to 0"],
            [{ type: "Recreate" }, "strategy.type is Recreate: every old pod stops before a new one is ready"],
        ];
        for (const [strategy, message] of cases) {
            const outcome = await runResourcePolicy(deploymentMaxUnavailableZero, { type: DEPLOYMENT, props: withStrategy(strategy) });
            assert.deepStrictEqual(outcome.violations, [message]);
        }
    });

    it("passes Recreate for a single-instance database (component: database, one replica), and only for it", async () => {
        const database = (replicas: number) => ({
            ...withStrategy({ type: "Recreate" }),
            metadata: { name: "postgres", labels: { "app.kubernetes.io/component": "database" } },
            spec: { ...withStrategy({ type: "Recreate" }).spec, replicas },
        });
        assert.deepStrictEqual(
            (await runResourcePolicy(deploymentMaxUnavailableZero, { type: DEPLOYMENT, props: database(1) })).violations,
            [],
        );
        assert.deepStrictEqual(
            (await runResourcePolicy(deploymentMaxUnavailableZero, { type: DEPLOYMENT, props: database(2) })).violations,
            ["strategy.type is Recreate: every old pod stops before a new one is ready"],
        );
    });

    it("does not apply to a StatefulSet", async () => {
        assert.strictEqual(
            (await runResourcePolicy(deploymentMaxUnavailableZero, { type: STATEFULSET, props: deployment() })).notApplicable,
            "not a Deployment",
        );
    });
});
