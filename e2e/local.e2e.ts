/**
 * End to end on this machine: the real Pulumi engine, language host and providers run the program
 * against the `local` stack, and its pods run for real on the local node (scripts/setup-local.sh):
 * kubelet and containerd pull the digest-pinned image from the authenticated local registry with
 * the namespace's pull secret, runc enforces the generated security context, the migration Job
 * migrates the local PostgreSQL, and kube-proxy routes the Service's ClusterIP from this host.
 *
 * Each step's time goes to $ESTEIRA_E2E_TIMINGS (npm run bench:e2e), never asserted.
 */
import * as assert from "assert";
import * as path from "path";
import {
    changes,
    eventually,
    flushTimings,
    kube,
    local,
    LocalStack,
    localStack,
    namespaceGone,
    psql,
    REPO_ROOT,
    requestLoop,
    runtimeContainers,
    serviceUrl,
    timed,
    writtenVersion,
} from "./harness";

const STACK = "local";
const NAMESPACE = "esteira-local";
const SERVICE = "sample";
const APP_USER = 10001;
// The pack runs through its own launcher: see policy/analyzer.
const POLICY_PACK = path.join(REPO_ROOT, "policy", "analyzer");
const policyConfig = (kind: "other" | "prod" | "pr") => path.join(REPO_ROOT, "policy", "config", `${kind}.json`);

describe("local stack, end to end, with real pods", function () {
    // Builds images and waits for rollouts; each step has its own bound inside Pulumi too.
    this.timeout(20 * 60 * 1000);

    let local_: LocalStack;
    const { core, apps, autoscaling, batch, networking, policy } = kube();

    const deployment = () => apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE });
    const servicePods = async () =>
        (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app.kubernetes.io/name=${SERVICE}` })).items;
    const readyPods = async () =>
        (await servicePods()).filter((pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    const upFails = async (step: string, expected: RegExp) => {
        let message = "";
        await assert.rejects(
            timed(step, () => local_.stack.up({ color: "never" })),
            (err: Error) => {
                message = err.message;
                return true;
            },
        );
        assert.match(message, expected, `pulumi up fails naming the cause; its output ends with:\n${message.slice(-3000)}`);
        return message;
    };
    // A change in the sample's build context, so the next `up` builds and rolls out a new image.
    const touchImage = (marker: string) => local_.writeFile("app/src/release.ts", `export const RELEASE = ${JSON.stringify(marker)};\n`);

    before(async () => {
        local_ = await localStack(STACK);
    });

    after(async () => {
        flushTimings();
        local_?.dispose();
    });

    it("pulumi up creates the environment, rolled out on the digest-pinned image it pushed", async () => {
        const result = await timed("up (first, real pods)", () => local_.stack.up({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");

        const namespace = await core.readNamespace({ name: NAMESPACE });
        assert.strictEqual(namespace.metadata?.labels?.environment, STACK);

        const pullSecret = await core.readNamespacedSecret({ name: "registry-credentials", namespace: NAMESPACE });
        assert.strictEqual(pullSecret.type, "kubernetes.io/dockerconfigjson");
        const auths = JSON.parse(Buffer.from(pullSecret.data![".dockerconfigjson"], "base64").toString()).auths;
        assert.strictEqual(auths[local.registry].username, local.registryUser);

        const live = await deployment();
        assert.strictEqual(live.status?.conditions?.find((c) => c.type === "Available")?.status, "True", "the Deployment is Available");
        const image = live.spec!.template.spec!.containers[0].image!;
        const images = result.outputs.images.value as Record<string, string>;
        assert.strictEqual(image, images[SERVICE], "the Deployment runs the image the stack exports");
        assert.match(image, new RegExp(`^${local.registry.replace(/\./g, "\\.")}/esteira/${SERVICE}@sha256:[0-9a-f]{64}$`));

        const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: SERVICE, namespace: NAMESPACE });
        assert.strictEqual(hpa.spec?.maxReplicas, 3);
        const service = await core.readNamespacedService({ name: SERVICE, namespace: NAMESPACE });
        assert.strictEqual(service.spec?.type, "ClusterIP");
    });

    it("the pods run on the real node, as uid 10001 with a read-only root filesystem (API and runtime agree)", async () => {
        const pods = await readyPods();
        assert.ok(pods.length >= 1, "at least one Ready pod");
        for (const pod of pods) {
            assert.strictEqual(pod.status?.phase, "Running");
            assert.strictEqual(pod.spec?.nodeName, local.nodeName, `${pod.metadata?.name} runs on the real node, not a kwok one`);
            assert.strictEqual(pod.spec?.securityContext?.runAsUser, APP_USER);
            assert.strictEqual(pod.spec?.containers[0].securityContext?.readOnlyRootFilesystem, true);
            assert.ok(pod.status?.containerStatuses?.[0].imageID?.includes("@sha256:"), "the node pulled the image by digest");
        }
        const containers = runtimeContainers(NAMESPACE).filter((c) => c.labels["io.kubernetes.container.name"] === SERVICE);
        assert.ok(containers.length >= pods.length, "the runtime holds a container per pod");
        for (const container of containers) {
            assert.strictEqual(container.spec.process.user.uid, APP_USER, `runc runs ${container.id} as ${APP_USER}`);
            assert.strictEqual(container.spec.root.readonly, true, `runc mounts ${container.id}'s root read-only`);
        }
    });

    it("the app answers through its Service, and what it writes is in PostgreSQL", async () => {
        const url = await serviceUrl(NAMESPACE, SERVICE);
        const ready = await fetch(`${url}/readyz`);
        assert.strictEqual(ready.status, 200, "GET /readyz through kube-proxy");
        const text = `written by the e2e suite at ${new Date().toISOString()}`;
        const created = await fetch(`${url}/api/notes`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ text }),
        });
        assert.strictEqual(created.status, 201);
        const note = (await created.json()) as { id: number };
        assert.strictEqual(psql(`SELECT text FROM notes WHERE id = ${Number(note.id)}`), text, "the note is in the database");
    });

    it("the migration Job's pod really migrated the database", async () => {
        const applied = psql("SELECT version || ' ' || name FROM schema_migrations ORDER BY version").split("\n");
        assert.deepStrictEqual(
            applied,
            ["0001 create_notes", "0002 index_notes_created_at"],
            "both of app/migrations are recorded as applied",
        );
        assert.strictEqual(psql("SELECT to_regclass('public.notes') IS NOT NULL"), "t", "the notes table exists");
        const jobs = await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: "app.kubernetes.io/component=migration" });
        assert.strictEqual(jobs.items.length, 1);
        assert.strictEqual(jobs.items[0].status?.succeeded, 1, "the migration Job completed");
        assert.strictEqual(
            jobs.items[0].spec?.template.spec?.containers[0].image,
            (await deployment()).spec!.template.spec!.containers[0].image,
        );
        const [pod] = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `job-name=${jobs.items[0].metadata!.name}` }))
            .items;
        const logs = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: NAMESPACE });
        assert.match(logs, /applying migrations/, "the Job's log (read through the kubelet) shows the migration ran");
    });

    it("the namespace enforces Pod Security `restricted`: esteira's pods are admitted, a privileged pod is refused", async () => {
        const labels = (await core.readNamespace({ name: NAMESPACE })).metadata?.labels ?? {};
        assert.strictEqual(labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.match(labels["pod-security.kubernetes.io/enforce-version"] ?? "", /^v1\.\d+$/);
        assert.strictEqual(labels["pod-security.kubernetes.io/warn"], "restricted");
        assert.strictEqual(labels["pod-security.kubernetes.io/audit"], "restricted");
        const image = (await deployment()).spec!.template.spec!.containers[0].image!;
        await assert.rejects(
            core.createNamespacedPod({
                namespace: NAMESPACE,
                dryRun: "All",
                body: {
                    metadata: { name: "privileged" },
                    spec: { containers: [{ name: "c", image, securityContext: { privileged: true } }] },
                },
            }),
            (err: { code?: number; body?: unknown }) => {
                assert.strictEqual(err.code, 403);
                const message = JSON.parse(String(err.body)).message;
                assert.match(message, /violates PodSecurity "restricted:v1\.\d+": privileged/);
                return true;
            },
        );
    });

    it("what the linters asked for is live: NetworkPolicies, disruption budget, spreading, ephemeral storage", async () => {
        const policies = (await networking.listNamespacedNetworkPolicy({ namespace: NAMESPACE })).items;
        assert.deepStrictEqual(policies.map((p) => p.metadata?.name).sort(), [
            "allow-database",
            "allow-dns",
            "allow-namespace-egress",
            "default-deny",
            `${SERVICE}-ingress`,
        ]);
        const database = policies.find((p) => p.metadata?.name === "allow-database")!;
        assert.deepStrictEqual(
            database.spec?.egress?.[0].ports?.map(({ port, protocol }) => ({ port, protocol })),
            [{ port: Number(local.pg.port), protocol: "TCP" }],
            "the port read from the secret URL",
        );

        const pdb = await policy.readNamespacedPodDisruptionBudget({ name: SERVICE, namespace: NAMESPACE });
        assert.strictEqual(pdb.spec?.maxUnavailable, 1);
        const spec = (await deployment()).spec!.template.spec!;
        assert.strictEqual(
            spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0].podAffinityTerm.topologyKey,
            "kubernetes.io/hostname",
        );
        const job = (await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: "app.kubernetes.io/component=migration" }))
            .items[0];
        for (const [what, pod] of [
            ["Deployment", spec],
            ["migration Job", job.spec!.template.spec!],
        ] as const) {
            const container = pod.containers[0];
            assert.strictEqual(container.resources?.requests?.["ephemeral-storage"], "64Mi", what);
            assert.strictEqual(container.resources?.limits?.["ephemeral-storage"], "512Mi", what);
            assert.strictEqual(container.imagePullPolicy, "IfNotPresent", what);
            assert.strictEqual(pod.volumes?.find((v) => v.name === "tmp")?.emptyDir?.sizeLimit, "512Mi", what);
        }
    });

    it("/readyz tells anonymous clients only its status", async () => {
        const response = await fetch(`${await serviceUrl(NAMESPACE, SERVICE)}/readyz`);
        assert.deepStrictEqual(await response.json(), { status: "ok" });
    });

    it("the policy pack passes a real preview of the stack, and blocks one that breaks a mandatory policy", async () => {
        const pack = { policyPacks: [POLICY_PACK] };
        const preview = await timed("preview (policy pack)", () =>
            local_.stack.preview({ color: "never", ...pack, policyPackConfigs: [policyConfig("other")] }),
        );
        assert.deepStrictEqual(changes(preview.changeSummary), [], "the pack changes nothing and finds nothing mandatory");
        // The same stack judged as production, with its service made public without TLS.
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].service = { type: "LoadBalancer" };
            // A public service keeps /metrics on a port of its own (a config rule).
            config["esteira:services"][SERVICE].metrics = { port: 9100 };
        });
        try {
            await assert.rejects(
                timed("preview (policy violation)", () =>
                    local_.stack.preview({ color: "never", ...pack, policyPackConfigs: [policyConfig("prod")] }),
                ),
                (err: Error) => {
                    assert.match(err.message, /\[mandatory\]\s+prod-public-service-tls/, err.message.slice(-2000));
                    return true;
                },
            );
        } finally {
            local_.editConfig((config) => {
                delete config["esteira:services"][SERVICE].service;
                config["esteira:services"][SERVICE].metrics = {};
            });
        }
    });

    it("a second preview reports no changes, and a second up changes nothing", async () => {
        const preview = await timed("preview (no-op)", () => local_.stack.preview({ color: "never", diff: true }));
        assert.deepStrictEqual(changes(preview.changeSummary), [], "no perpetual diff, no rebuild");
        const up = await timed("up (no-op)", () => local_.stack.up({ color: "never" }));
        assert.deepStrictEqual(changes(up.summary.resourceChanges), [], "a second up changes nothing");
    });

    it("a config change produces exactly the expected update", async () => {
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].autoscaling.maxReplicas = 4;
        });
        const preview = await timed("preview (config change)", () => local_.stack.preview({ color: "never" }));
        assert.deepStrictEqual(changes(preview.changeSummary), [["update", 1]], "only the autoscaler is updated");
        await timed("up (config change)", () => local_.stack.up({ color: "never" }));
        const hpa = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: SERVICE, namespace: NAMESPACE });
        assert.strictEqual(hpa.spec?.maxReplicas, 4);
    });

    it("bad config fails before any resource is touched, with the validation message", async () => {
        const before = await deployment();
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].autoscaling = { minReplicas: 5, maxReplicas: 3 };
        });
        await upFails("up (bad config)", /local: services\.sample\.autoscaling: minReplicas \(5\) must be <= maxReplicas \(3\)/);
        const after = await deployment();
        assert.strictEqual(writtenVersion(after), writtenVersion(before), "the Deployment was not touched");
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].autoscaling = { minReplicas: 1, maxReplicas: 4 };
        });
    });

    it("a release whose pods never become ready fails `up`, and the old pods serve every request meanwhile", async () => {
        const url = `${await serviceUrl(NAMESPACE, SERVICE)}/readyz`;
        const before = await deployment();
        local_.editConfig((config) => {
            const svc = config["esteira:services"][SERVICE];
            svc.rolloutTimeoutSeconds = 45;
            svc.probes = { readiness: { path: "/never-ready" } };
        });
        const loop = requestLoop(url);
        try {
            await upFails("up (release never ready)", /sample/);
        } finally {
            const stats = await loop.stop();
            assert.strictEqual(stats.failed, 0, `no request failed during the rollout (errors: ${stats.errors.slice(0, 5).join("; ")})`);
            assert.ok(stats.ok > 50, `requests kept being answered (${stats.ok})`);
        }
        const old = before.spec!.template.spec!.containers[0].image;
        assert.ok(
            (await readyPods()).every((pod) => pod.spec?.containers[0].image === old),
            "the Ready pods are the old ones",
        );

        local_.editConfig((config) => {
            delete config["esteira:services"][SERVICE].probes;
        });
        await timed("up (after the release that never became ready)", () => local_.stack.up({ color: "never" }));
        await eventually("every pod Ready again", async () =>
            (await servicePods()).length === (await readyPods()).length ? true : undefined,
        );
    });

    it("a failing migration fails `up` before the Deployment changes, and the error shows the Job's log", async () => {
        const before = await deployment();
        // A release that ships a broken migration (and so a new image).
        local_.writeFile("app/migrations/0003_e2e_broken.sql", "SELECT * FROM e2e_no_such_table;\n");
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].migrate.timeoutSeconds = 90;
            config["esteira:services"][SERVICE].migrate.backoffLimit = 0;
        });
        await upFails(
            "up (failing migration)",
            // The Job's log reaches the error: the container's termination message is the end of its log.
            /sample-migrate[\s\S]*e2e_no_such_table/,
        );
        const after = await deployment();
        assert.strictEqual(after.metadata?.generation, before.metadata?.generation, "the Deployment's spec did not change");
        assert.strictEqual(after.spec!.template.spec!.containers[0].image, before.spec!.template.spec!.containers[0].image);
        assert.strictEqual(
            psql("SELECT count(*) FROM schema_migrations WHERE version = '0003'"),
            "0",
            "the broken migration is not recorded",
        );

        local_.removeFile("app/migrations/0003_e2e_broken.sql");
        await timed("up (after the failing migration)", () => local_.stack.up({ color: "never" }));
    });

    it("a wrong registry token: the new image cannot be pulled, `up` fails naming the pull error, the old pods serve", async () => {
        const url = `${await serviceUrl(NAMESPACE, SERVICE)}/readyz`;
        const before = await deployment();
        // Pushing still works (its own token); only the namespace's pull secret carries the wrong one.
        await local_.stack.setConfig("esteira:registryPushToken", { value: local.registryPassword, secret: true });
        await local_.stack.setConfig("esteira:registryToken", { value: "not-the-registry-password", secret: true });
        touchImage("wrong-token");
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].migrate.timeoutSeconds = 60;
        });
        const loop = requestLoop(url);
        try {
            await upFails("up (wrong registry token)", /(ErrImagePull|ImagePullBackOff|401 Unauthorized|unauthorized)/i);
        } finally {
            const stats = await loop.stop();
            assert.strictEqual(stats.failed, 0, `no request failed (errors: ${stats.errors.slice(0, 5).join("; ")})`);
        }
        const after = await deployment();
        assert.strictEqual(
            after.spec!.template.spec!.containers[0].image,
            before.spec!.template.spec!.containers[0].image,
            "still the old image",
        );

        await local_.stack.setConfig("esteira:registryToken", { value: local.registryPassword, secret: true });
        const fixed = await timed("up (registry token fixed)", () => local_.stack.up({ color: "never" }));
        assert.strictEqual(fixed.summary.result, "succeeded");
        const image = (await deployment()).spec!.template.spec!.containers[0].image;
        assert.notStrictEqual(image, before.spec!.template.spec!.containers[0].image, "the new image rolled out with the right token");
    });

    it("pulumi destroy leaves no pod, no container and no namespace; the stack can be removed", async () => {
        const result = await timed("destroy", () => local_.stack.destroy({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");
        await namespaceGone(NAMESPACE);
        await eventually("the node's runtime to hold no container of the namespace", async () =>
            runtimeContainers(NAMESPACE).length === 0 ? true : undefined,
        );
        await timed("stack rm", () => local_.stack.workspace.removeStack(STACK));
        const stacks = await local_.stack.workspace.listStacks();
        assert.ok(!stacks.some((s) => s.name === STACK), "the stack is removed");
    });
});
