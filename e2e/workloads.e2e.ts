/**
 * What the teams run, end to end on the local stack with real pods: the seed step, application
 * secrets from the stack, a worker and a scheduled job in a second namespace (own pull secret,
 * database secret and policies), and a stock image under the same hardening with writable paths.
 */
import * as assert from "assert";
import { eventually, flushTimings, kube, local, LocalStack, localStack, psql, runtimeContainers, serviceUrl, timed } from "./harness";

const NAMESPACE = "esteira-local";
const BATCH = "esteira-local-batch";
const SERVICE = "sample";
const WELCOME = "Welcome: this note was seeded by the sample service's seed Job.";

describe("team workloads on the local stack, end to end", function () {
    this.timeout(20 * 60 * 1000);

    let local_: LocalStack;
    let sampleImage: string;
    const { core, apps, batch } = kube();
    const jobsOf = async (namespace: string, component: string) =>
        (await batch.listNamespacedJob({ namespace, labelSelector: `app.kubernetes.io/component=${component}` })).items;
    const logsOfJob = async (namespace: string, job: string) => {
        const [pod] = (await core.listNamespacedPod({ namespace, labelSelector: `job-name=${job}` })).items;
        return core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace });
    };
    const seeded = () => psql(`SELECT count(*) FROM notes WHERE text = '${WELCOME.replace(/'/g, "''")}'`);

    before(async () => {
        local_ = await localStack("local");
        const result = await timed("up (workloads)", () => local_.stack.up({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");
        sampleImage = (result.outputs.images.value as Record<string, string>)[SERVICE];
    });

    after(async () => {
        flushTimings();
        await local_?.stack.destroy({ color: "never" }).catch(() => undefined);
        local_?.dispose();
    });

    it("the seed Job runs after the migration with the release's image, and seeding twice inserts nothing twice", async () => {
        const [job] = await jobsOf(NAMESPACE, "seed");
        assert.strictEqual(job.status?.succeeded, 1);
        const image = (await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE })).spec!.template.spec!.containers[0]
            .image;
        assert.strictEqual(job.spec?.template.spec?.containers[0].image, image);
        assert.match(await logsOfJob(NAMESPACE, job.metadata!.name!), /seed data (inserted|already present)/);
        assert.strictEqual(seeded(), "1");

        local_.writeFile("app/src/release.ts", 'export const RELEASE = "seed twice";\n');
        await timed("up (new release, seed again)", () => local_.stack.up({ color: "never" }));
        const jobs = await jobsOf(NAMESPACE, "seed");
        assert.ok(
            jobs.every((j) => j.metadata!.name !== job.metadata!.name),
            "a new seed Job ran for the new image",
        );
        assert.strictEqual(jobs[0].status?.succeeded, 1);
        assert.strictEqual(seeded(), "1", "still one welcome note");
    });

    it("a secret the stack declares becomes a Secret the service reads, and its value is never in plain text", async () => {
        const value = `tok-${Date.now()}`;
        await local_.stack.setConfig("esteira:secrets.sample-secrets.API_TOKEN", { value, secret: true }, true);
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].secretEnv = { API_TOKEN: { secretName: "sample-secrets", key: "API_TOKEN" } };
        });
        const up = await timed("up (app secret)", () => local_.stack.up({ color: "never" }));
        const secret = await core.readNamespacedSecret({ name: "sample-secrets", namespace: NAMESPACE });
        assert.strictEqual(secret.type, "Opaque");
        assert.strictEqual(Buffer.from(secret.data!.API_TOKEN, "base64").toString(), value);
        const env = (await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE })).spec!.template.spec!.containers[0].env!;
        const token = env.find((e) => e.name === "API_TOKEN");
        assert.strictEqual(token?.valueFrom?.secretKeyRef?.name, "sample-secrets");
        assert.strictEqual(token?.valueFrom?.secretKeyRef?.key, "API_TOKEN");
        assert.strictEqual(token?.value, undefined);
        await eventually("a running container with the token", async () =>
            runtimeContainers(NAMESPACE).some(
                (c) => c.labels["io.kubernetes.container.name"] === SERVICE && (c.spec as any).process.env.includes(`API_TOKEN=${value}`),
            )
                ? true
                : undefined,
        );
        assert.ok(!JSON.stringify((await local_.stack.exportStack()).deployment).includes(value), "the state holds it encrypted only");
        assert.ok(!up.stdout.includes(value), "the up's output never shows it");
    });

    it("a secretEnv naming a Secret the stack does not create is refused before anything changes", async () => {
        // The generation counts changes to the spec (status updates do not).
        const before = (await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE })).metadata?.generation;
        local_.editConfig((config) => {
            config["esteira:services"][SERVICE].secretEnv.OTHER = { secretName: "missing-secrets", key: "OTHER" };
        });
        try {
            await assert.rejects(local_.stack.up({ color: "never" }), (err: Error) => {
                assert.match(
                    err.message,
                    /local: services\.sample\.secretEnv\.OTHER.*the Secret "missing-secrets" is not created by this stack/,
                );
                return true;
            });
            assert.strictEqual((await apps.readNamespacedDeployment({ name: SERVICE, namespace: NAMESPACE })).metadata?.generation, before);
        } finally {
            local_.editConfig((config) => {
                delete config["esteira:services"][SERVICE].secretEnv.OTHER;
            });
        }
    });

    it("a worker and a scheduled job run in a namespace of their own, hardened, with their own pull secret and database secret", async () => {
        local_.editConfig((config) => {
            config["esteira:namespaces"] = { batch: {} };
            config["esteira:workers"] = {
                ticker: {
                    image: sampleImage,
                    namespace: "batch",
                    runAsUser: 20000,
                    database: false,
                    command: [
                        "node",
                        "-e",
                        "setInterval(()=>require('fs').writeFileSync('/var/run/ticker/alive',String(Date.now())),1000)",
                    ],
                    writablePaths: { "/var/run/ticker": { sizeMiB: 8 } },
                    probes: {
                        readiness: {
                            exec: [
                                "node",
                                "-e",
                                "process.exit(Date.now()-Number(require('fs').readFileSync('/var/run/ticker/alive','utf8'))<5000?0:1)",
                            ],
                        },
                        liveness: { exec: ["node", "-e", "require('fs').accessSync('/var/run/ticker/alive')"] },
                    },
                },
            };
            config["esteira:jobs"] = {
                "notes-report": {
                    image: sampleImage,
                    namespace: "batch",
                    schedule: "* * * * *",
                    command: [
                        "node",
                        "-e",
                        "const {Client}=require('pg');const c=new Client({connectionString:process.env.DATABASE_URL});c.connect().then(()=>c.query('SELECT count(*) n FROM notes')).then(r=>{console.log('notes='+r.rows[0].n);return c.end()})",
                    ],
                },
            };
        });
        await timed("up (worker, scheduled job, namespace)", () => local_.stack.up({ color: "never" }));

        const labels = (await core.readNamespace({ name: BATCH })).metadata?.labels ?? {};
        assert.strictEqual(labels["pod-security.kubernetes.io/enforce"], "restricted");
        await core.readNamespacedSecret({ name: "registry-credentials", namespace: BATCH });
        await core.readNamespacedSecret({ name: "db-credentials", namespace: BATCH });

        const ticker = await apps.readNamespacedDeployment({ name: "ticker", namespace: BATCH });
        assert.strictEqual(ticker.status?.availableReplicas, 1, "the worker is Available");
        await assert.rejects(core.readNamespacedService({ name: "ticker", namespace: BATCH }), "a worker has no Service");
        const volume = ticker.spec!.template.spec!.volumes!.find((v) => v.emptyDir && v.name !== "tmp");
        assert.strictEqual(volume?.emptyDir?.sizeLimit, "8Mi");
        const [container] = runtimeContainers(BATCH).filter((c) => c.labels["io.kubernetes.container.name"] === "ticker");
        assert.strictEqual(container.spec.process.user.uid, 20000);
        assert.strictEqual(container.spec.root.readonly, true);

        const run = await eventually(
            "a run of the scheduled job to succeed",
            async () => (await jobsOf(BATCH, "scheduled-job")).find((j) => j.status?.succeeded === 1) ?? undefined,
            150_000,
        );
        assert.match(await logsOfJob(BATCH, run.metadata!.name!), /notes=\d+/, "it read the database through its namespace's Secret");
        const namespaces = (await local_.stack.outputs()).workloadNamespaces.value as Record<string, string>;
        assert.deepStrictEqual(namespaces, { [SERVICE]: NAMESPACE, ticker: BATCH, "notes-report": BATCH });
    });

    it("a stock image runs under the same hardening, with a user id and writable paths of its own", async () => {
        const digest = await fetch(`http://${local.registry}/v2/esteira/node-base/manifests/bookworm`, {
            method: "HEAD",
            headers: {
                Authorization: `Basic ${Buffer.from(`${local.registryUser}:${local.registryPassword}`).toString("base64")}`,
                Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
            },
        }).then((r) => r.headers.get("docker-content-digest"));
        local_.editConfig((config) => {
            config["esteira:services"].stock = {
                // By tag: esteira pins it to the digest the tag points at (the registry's own answer).
                image: `${local.registry}/esteira/node-base:bookworm`,
                runAsUser: 1000,
                database: false,
                port: 8080,
                probes: { readiness: { path: "/" }, liveness: { path: "/" } },
                writablePaths: { "/tmp": { sizeMiB: 32 }, "/srv/cache": { sizeMiB: 16 } },
                command: [
                    "node",
                    "-e",
                    "require('http').createServer((q,s)=>{require('fs').writeFileSync('/srv/cache/last',String(Date.now()));s.end('ok')}).listen(8080)",
                ],
            };
        });
        await timed("up (stock image)", () => local_.stack.up({ color: "never" }));
        const deployment = await apps.readNamespacedDeployment({ name: "stock", namespace: NAMESPACE });
        assert.strictEqual(deployment.spec!.template.spec!.containers[0].image, `${local.registry}/esteira/node-base:bookworm@${digest}`);
        assert.strictEqual(deployment.spec!.template.spec!.volumes!.find((v) => v.name === "tmp")?.emptyDir?.sizeLimit, "32Mi");
        const response = await fetch(await serviceUrl(NAMESPACE, "stock"));
        assert.strictEqual(await response.text(), "ok");
        const [container] = runtimeContainers(NAMESPACE).filter((c) => c.labels["io.kubernetes.container.name"] === "stock");
        assert.strictEqual(container.spec.process.user.uid, 1000);
        assert.strictEqual(container.spec.root.readonly, true);
    });

    it("a schedule that is not a cron schedule is refused before anything changes", async () => {
        local_.editConfig((config) => {
            config["esteira:jobs"]["notes-report"].schedule = "every night";
        });
        try {
            await assert.rejects(local_.stack.preview({ color: "never" }), (err: Error) => {
                assert.match(err.message, /local: jobs\.notes-report\.schedule: schedule must be a cron schedule/);
                return true;
            });
        } finally {
            local_.editConfig((config) => {
                config["esteira:jobs"]["notes-report"].schedule = "* * * * *";
            });
        }
    });

    it("destroy removes both namespaces", async () => {
        await timed("destroy (workloads)", () => local_.stack.destroy({ color: "never" }));
        for (const name of [NAMESPACE, BATCH]) {
            await eventually(`namespace ${name} to go`, async () => {
                try {
                    await core.readNamespace({ name });
                    return undefined;
                } catch (err) {
                    return (err as { code?: number }).code === 404 ? true : undefined;
                }
            });
        }
    });
});
