/**
 * The whole program, evaluated once per stack file in the repository (the real
 * Pulumi.<stack>.yaml, not a copy), with assertions on each environment's resource graph.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { TENANT_DEPLOYER_RULES } from "../components/environment-access";
import { POD_SECURITY_LABELS } from "../components/environment-namespace";
import { ConfigError } from "../config";
import {
    Evaluation,
    evaluated,
    evaluateStack,
    fakeDigest,
    isSecretInput,
    isSecretOutput,
    LOCAL_PR_STACK,
    PR_STACK,
    REPO_ROOT,
    projectFile,
    promiseOf,
    Recorder,
    RecordedResource,
    stackCases,
    stackFileConfig,
    stackFiles,
    TEST_COMMIT,
    TEST_DIGITALOCEAN_TOKEN,
    FAKE_CLUSTER_IP,
    TEST_SECRETS,
    TENANT_KUBECONFIG,
} from "./mocks";

/** Every type a stack registers or reads, and every function it invokes: what its run asks of each provider. */
const touchedTypes = (recorder: Recorder): string[] => [
    ...recorder.resources.map((r) => r.type),
    ...recorder.reads.map((r) => r.type),
    ...recorder.calls.map((c) => c.token),
];

/** The Kubernetes types a stack registers. */
const kubernetesKinds = (recorder: Recorder): string[] => [
    ...new Set(recorder.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:")).map((r) => r.type)),
];

/** What the review base's tenant ServiceAccount may not do to those types, that a PR stack's up or destroy does. */
function beyondTenantRules(types: string[]): string[] {
    return types.flatMap((type) => {
        const [, apiVersion, kind] = /^kubernetes:([^:]+):(\w+)$/.exec(type)!;
        const group = apiVersion.includes("/") ? apiVersion.split("/")[0].replace(/^core$/, "") : "";
        const plural = kind.toLowerCase().replace(/y$/, "ie") + "s";
        const verbs = (TENANT_DEPLOYER_RULES as any[])
            .filter((rule) => rule.apiGroups.includes(group) && rule.resources.includes(plural))
            .flatMap((rule) => rule.verbs);
        // A pull request's namespace is the tenant issuer's: its stack adopts it (reads and patches, never creates or deletes).
        const needed = plural === "namespaces" ? ["get", "patch"] : ["get", "create", "patch", "delete"];
        return needed.filter((verb) => !verbs.includes(verb)).map((verb) => `${verb} ${plural} (${type})`);
    });
}

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const SECRET = "kubernetes:core/v1:Secret";
const DOKS = "digitalocean:index/kubernetesCluster:KubernetesCluster";
const DB_CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster";
const DB = "digitalocean:index/databaseDb:DatabaseDb";

/** The pod template of every workload object the stack registers (Deployments, Jobs, CronJobs). */
function podsOf(recorder: Recorder): { workload: { name: string }; pod: any }[] {
    return [
        ...recorder.all(DEPLOYMENT).map((workload) => ({ workload, pod: workload.inputs.spec.template.spec })),
        ...recorder.all("kubernetes:batch/v1:Job").map((workload) => ({ workload, pod: workload.inputs.spec.template.spec })),
        ...recorder
            .all("kubernetes:batch/v1:CronJob")
            .map((workload) => ({ workload, pod: workload.inputs.spec.jobTemplate.spec.template.spec })),
    ];
}

function envOf(evaluation: Evaluation, deploymentName: string): Record<string, string> {
    const container = evaluation.recorder.get(DEPLOYMENT, deploymentName).inputs.spec.template.spec.containers[0];
    return Object.fromEntries(container.env.filter((e: any) => "value" in e).map((e: any) => [e.name, e.value]));
}

describe("stack files", () => {
    it("Pulumi.yaml requires no secret of every stack: the config's rules say which stack needs which", () => {
        const required = Object.entries(projectFile().config).filter(([, key]) => key.secret && key.default === undefined);
        assert.deepStrictEqual(
            required.map(([name]) => name),
            [],
            "the engine would refuse a stack that lacks one, e.g. the review base, which pulls no image",
        );
    });

    it("the repository has the dev, homolog and prod stacks", () => {
        const stacks = stackFiles();
        for (const stack of ["dev", "homolog", "prod"]) assert.ok(stacks.includes(stack), `Pulumi.${stack}.yaml is missing`);
    });

    for (const { stack, file } of stackCases()) {
        describe(file, () => {
            let evaluation: Evaluation;
            before(async () => {
                evaluation = await evaluated(stack);
            });

            it("sets every key Pulumi.yaml declares without a default", () => {
                const config = stackFileConfig(stack);
                for (const [key, schema] of Object.entries(projectFile().config)) {
                    if (schema.default !== undefined || schema.secret) continue;
                    assert.ok(`esteira:${key}` in config, `${file} must set esteira:${key}`);
                }
            });

            it("creates the environment's namespace, and a pull secret where it runs services", async () => {
                const { recorder, outputs } = evaluation;
                const namespace = recorder.all(NAMESPACE);
                assert.strictEqual(namespace.length, 1);
                assert.strictEqual(await promiseOf(outputs.namespace), namespace[0].inputs.metadata.name);
                const pullSecret = recorder.all(SECRET).find((s) => s.inputs.type === "kubernetes.io/dockerconfigjson");
                if (!stackFileConfig(stack)["esteira:services"]) {
                    assert.strictEqual(pullSecret, undefined, "a base stack without services pulls nothing");
                    return;
                }
                assert.ok(pullSecret, "a dockerconfigjson pull secret exists");
                assert.ok(isSecretInput(pullSecret, "stringData"), "the registry token stays secret");
            });

            it("marks each namespace it creates as its own, and deletes it with the stack; an adopted one it leaves", () => {
                const config = stackFileConfig(stack);
                const extra = (config["esteira:namespaces"] ?? {}) as Record<string, { adoptNamespace?: boolean }>;
                const namespaces = [
                    { component: stack, adopt: config["esteira:adoptNamespace"] === true },
                    ...Object.entries(extra).map(([key, settings]) => ({
                        component: `${stack}-${key}`,
                        adopt: settings.adoptNamespace === true,
                    })),
                ];
                assert.strictEqual(evaluation.recorder.all(NAMESPACE).length, namespaces.length);
                for (const { component, adopt } of namespaces) {
                    const namespace = evaluation.recorder.get(NAMESPACE, `${component}-namespace`);
                    assert.strictEqual(
                        namespace.inputs.metadata.annotations?.["esteira.dev/stack"],
                        adopt ? undefined : `organization/esteira/${stack}`,
                    );
                    assert.strictEqual(namespace.retainOnDelete, adopt);
                }
            });

            it("every Deployment, Job and CronJob pulls with the namespace's pull secret and runs hardened", () => {
                const { recorder } = evaluation;
                const pullSecret = recorder.all(SECRET).find((s) => s.inputs.type === "kubernetes.io/dockerconfigjson")!;
                for (const { workload, pod } of podsOf(recorder)) {
                    assert.deepStrictEqual(
                        pod.imagePullSecrets,
                        [{ name: pullSecret.inputs.metadata.name }],
                        `${workload.name} must reference the pull secret`,
                    );
                    assert.strictEqual(pod.securityContext.runAsNonRoot, true, `${workload.name} runs as non-root`);
                    assert.strictEqual(pod.automountServiceAccountToken, false, `${workload.name} mounts no service-account token`);
                    for (const container of pod.containers) {
                        assert.strictEqual(
                            container.terminationMessagePolicy,
                            "FallbackToLogsOnError",
                            `${workload.name}: reports its log`,
                        );
                        assert.strictEqual(container.securityContext.readOnlyRootFilesystem, true, `${workload.name}: read-only root`);
                        assert.deepStrictEqual(
                            container.securityContext.capabilities,
                            { drop: ["ALL"] },
                            `${workload.name}: no capability`,
                        );
                    }
                }
            });

            it("leaves delete-first to the providers: no resource sets deleteBeforeReplace", () => {
                for (const resource of evaluation.recorder.resources) {
                    assert.strictEqual(resource.deleteBeforeReplace, false, `${resource.type} ${resource.name}`);
                }
            });

            it("every Kubernetes object goes through the cluster's provider", () => {
                const { recorder } = evaluation;
                const provider = recorder.all("pulumi:providers:kubernetes");
                assert.strictEqual(provider.length, 1);
                const ref = `${provider[0].urn}::${provider[0].name}-id`;
                for (const resource of recorder.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
                    assert.strictEqual(resource.provider, ref, `${resource.type} ${resource.name} must use the cluster provider`);
                }
            });

            it("never drops objects from the state because the cluster does not answer", () => {
                const provider = evaluation.recorder.all("pulumi:providers:kubernetes")[0];
                assert.strictEqual(provider.inputs.deleteUnreachable, undefined);
            });

            it("gives pods DATABASE_URL only through secretKeyRef on the database secret", function () {
                const { recorder } = evaluation;
                const database = stackFileConfig(stack)["esteira:database"] as { mode: string; secretName?: string } | undefined;
                // A base stack (esteira:tenants) runs no workload, so holds no database Secret.
                if (!database || !stackFileConfig(stack)["esteira:services"]) this.skip();
                const secretName = database.secretName ?? "db-credentials";
                const secret = recorder.all(SECRET).find((s) => s.inputs.metadata.name === secretName);
                assert.ok(secret, `the ${secretName} Secret exists in the namespace`);
                assert.ok(isSecretInput(secret, "stringData"), "the connection URL stays secret");
                assert.match(secret.inputs.stringData.DATABASE_URL, /^postgresql:\/\//);
                // DigitalOcean's managed PostgreSQL takes TLS only; another server's URL keeps its admin connection's mode.
                if (database.mode === "digitalocean") {
                    assert.match(secret.inputs.stringData.DATABASE_URL, /sslmode=require$/);
                }
                // The in-namespace database server (database.mode namespace) is no client of itself.
                const clients = recorder
                    .all(DEPLOYMENT)
                    .filter((d) => d.inputs.metadata.labels?.["app.kubernetes.io/component"] !== "database");
                for (const deployment of clients) {
                    const env = deployment.inputs.spec.template.spec.containers[0].env;
                    assert.deepStrictEqual(
                        env.find((e: any) => e.name === "DATABASE_URL"),
                        { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: secretName, key: "DATABASE_URL" } } },
                        `${deployment.name} reads DATABASE_URL from the secret`,
                    );
                    assert.ok(
                        !JSON.stringify(deployment.inputs).includes("postgresql://"),
                        `${deployment.name} never holds the URL itself`,
                    );
                    // Pods roll when the URL changes, through a checksum that is not itself secret.
                    assert.match(deployment.inputs.spec.template.metadata.annotations["checksum/database-secret"], /^[0-9a-f]{32}$/);
                    assert.ok(!isSecretInput(deployment, "spec.template.metadata.annotations"), `${deployment.name}'s checksum is plain`);
                }
            });

            it("exports kubeconfigs only as secrets, and never one holding the DigitalOcean token", async function () {
                const { outputs } = evaluation;
                const exported = [outputs.kubeconfig, outputs.tenantKubeconfig].filter((k) => k !== undefined);
                if (exported.length === 0) this.skip();
                for (const kubeconfig of exported) {
                    assert.ok(await isSecretOutput(kubeconfig), "a kubeconfig must be secret");
                    const text = (await promiseOf(kubeconfig)) as string;
                    assert.ok(!text.includes(TEST_DIGITALOCEAN_TOKEN["digitalocean:token"]), "never the account token");
                    assert.deepStrictEqual(Object.keys(JSON.parse(text).users[0].user), ["token"], "a ServiceAccount's bearer token");
                }
            });

            it("exports no database admin connection: no stack hands one to another", () => {
                assert.strictEqual(evaluation.outputs.databaseAdminUrl, undefined);
            });

            it("on DigitalOcean: the token comes from the environment, cluster id as provider identity, objects deleted with the cluster, DB firewall admits only the cluster", async function () {
                const { recorder } = evaluation;
                const doks = recorder.all(DOKS);
                if (doks.length === 0) this.skip();
                assert.strictEqual(doks.length, 1);
                const provider = recorder.get("pulumi:providers:kubernetes", `${stack}-provider`);
                assert.strictEqual(provider.inputs.clusterIdentifier, doks[0].inputs.name ? `${doks[0].name}-id` : undefined);
                const kubeconfig = JSON.parse(provider.inputs.kubeconfig);
                assert.strictEqual(kubeconfig.users[0].user.exec.command, "sh", "an exec plugin reads DIGITALOCEAN_TOKEN at run time");
                assert.ok(!JSON.stringify(kubeconfig).includes("EXPIRING"), "never the 7-day rawConfig");
                assert.ok(
                    !JSON.stringify(recorder.resources.map((r) => r.inputs)).includes("test-digitalocean-token"),
                    "no resource's inputs (the state) hold a DigitalOcean token",
                );
                for (const resource of recorder.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
                    // Directly, or through a namespace the stack owns, which goes with the cluster.
                    const withIt = recorder.resources.find((r) => r.urn === resource.deletedWith);
                    assert.strictEqual(
                        withIt?.type === NAMESPACE ? withIt.deletedWith : resource.deletedWith,
                        doks[0].urn,
                        `${resource.type} ${resource.name} must be deletedWith the cluster`,
                    );
                }
                for (const firewall of recorder.all("digitalocean:index/databaseFirewall:DatabaseFirewall")) {
                    assert.deepStrictEqual(firewall.inputs.rules, [{ type: "k8s", value: `${doks[0].name}-id` }]);
                }
                for (const database of recorder.all(DB_CLUSTER)) {
                    assert.strictEqual(database.inputs.privateNetworkUuid, recorder.all("digitalocean:index/vpc:Vpc")[0].name + "-id");
                }
            });

            it("destroy deletes a namespace the stack owns with what is in it, and what is in an adopted one object by object", () => {
                const { recorder } = evaluation;
                const namespaces = new Map(recorder.all(NAMESPACE).map((n) => [n.inputs.metadata.name as string, n]));
                // The identities' objects, few and partly cluster-wide or in other namespaces, are deleted one by one.
                const access = (r: RecordedResource) => recorder.parentOf(r)?.type === "esteira:kubernetes:EnvironmentAccess";
                const inside = recorder.resources.filter(
                    (r) => r.type.startsWith("kubernetes:") && namespaces.has(r.inputs.metadata?.namespace) && !access(r),
                );
                assert.ok(inside.length > 0);
                for (const object of inside) {
                    const namespace = namespaces.get(object.inputs.metadata.namespace)!;
                    const owned = namespace.retainOnDelete !== true;
                    assert.strictEqual(
                        object.deletedWith,
                        owned ? namespace.urn : namespace.deletedWith,
                        `${object.type} ${object.name} must be deletedWith ${owned ? "its namespace" : "what its adopted namespace goes with"}`,
                    );
                }
            });

            it("owns every Kubernetes object entirely: the next up converges after a kubectl rollout undo (patchForce)", () => {
                for (const object of evaluation.recorder.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
                    // An adopted namespace is someone else's too (a pull request's, the tenant issuer's): never forced.
                    if (object.type === NAMESPACE && stackFileConfig(stack)["esteira:adoptNamespace"] === true) continue;
                    assert.strictEqual(
                        object.inputs.metadata?.annotations?.["pulumi.com/patchForce"],
                        "true",
                        `${object.type} ${object.name}`,
                    );
                }
            });

            it("gives its services' environment a read-only identity limited to its namespace", function () {
                const { recorder } = evaluation;
                // A pull request's stack mints no token: its smoke test uses its own short-lived credential.
                if (!stackFileConfig(stack)["esteira:services"] || stackFileConfig(stack)["esteira:smokeTestIdentity"] === false)
                    this.skip();
                const role = recorder.get("kubernetes:rbac.authorization.k8s.io/v1:Role", `${stack}-role`);
                assert.strictEqual(role.inputs.metadata.namespace, recorder.all(NAMESPACE)[0].inputs.metadata.name);
                const writes = role.inputs.rules
                    .flatMap((r: any) => r.verbs)
                    .filter((v: string) => ["update", "patch", "delete"].includes(v));
                assert.deepStrictEqual(writes, []);
            });

            it("protects exactly what esteira:protect says", () => {
                const { recorder } = evaluation;
                const protect = stackFileConfig(stack)["esteira:protect"];
                const stateful = [
                    ...recorder.all(DOKS),
                    ...recorder.all(DB_CLUSTER),
                    ...recorder.all(DB),
                    ...recorder.all("digitalocean:index/databaseUser:DatabaseUser"),
                    ...recorder.all("github:index/repositoryEnvironment:RepositoryEnvironment"),
                ];
                for (const resource of stateful) {
                    assert.strictEqual(resource.protect, protect, `${resource.type} ${resource.name} protect`);
                }
                for (const resource of recorder.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
                    assert.strictEqual(resource.protect, false, `${resource.type} ${resource.name} is not protected`);
                }
                // And retains the database cluster exactly where the stack file says so.
                const retain = (stackFileConfig(stack)["esteira:database"] as { retainOnDelete?: boolean } | undefined)?.retainOnDelete;
                for (const resource of recorder.all(DB_CLUSTER)) {
                    assert.strictEqual(resource.retainOnDelete, retain ?? false, `${resource.name} retainOnDelete`);
                }
            });

            it("runs each service on the digest-pinned image it built or promoted, and exports it", async () => {
                const { recorder, outputs } = evaluation;
                const services = (stackFileConfig(stack)["esteira:services"] ?? {}) as Record<string, { image: any }>;
                const exported = (await promiseOf(outputs.images)) as Record<string, string>;
                for (const [name, svc] of Object.entries(services)) {
                    const image = recorder.get(DEPLOYMENT, `${name}-deployment`).inputs.spec.template.spec.containers[0].image;
                    assert.strictEqual(exported[name], image, `the images output carries ${name}'s image`);
                    const built = recorder.all("docker-build:index:Image").filter((i) => i.name === `${name}-image`);
                    if (svc.image.build) {
                        assert.strictEqual(built.length, 1, `${name} is built`);
                        assert.match(image, new RegExp(`/${name}@sha256:[0-9a-f]{64}$`));
                        assert.ok(isSecretInput(built[0], "registries.0.password"), "the push token stays secret");
                        assert.strictEqual(built[0].inputs.buildOnPreview, false, "previews never build");
                    } else if (svc.image.promoteFrom || svc.image.verifiedIn) {
                        assert.deepStrictEqual(built, [], `${name} is promoted, not built`);
                        assert.match(image, /@sha256:[0-9a-f]{64}$/, "promotion is by digest");
                    }
                }
            });

            it("runs migrations, then seeds, as Jobs with the unpooled database URL, before the Deployment rolls", () => {
                const { recorder } = evaluation;
                const services = (stackFileConfig(stack)["esteira:services"] ?? {}) as Record<
                    string,
                    { migrate?: unknown; seed?: unknown }
                >;
                for (const [name, svc] of Object.entries(services)) {
                    const deployment = recorder.get(DEPLOYMENT, `${name}-deployment`);
                    for (const step of ["migrate", "seed"] as const) {
                        if (!svc[step]) continue;
                        const job = recorder.get("kubernetes:batch/v1:Job", `${name}-${step}`);
                        assert.ok(deployment.dependencies.includes(job.urn), `${name}'s Deployment waits for its ${step} Job`);
                        const container = job.inputs.spec.template.spec.containers[0];
                        assert.strictEqual(container.image, deployment.inputs.spec.template.spec.containers[0].image, "same image");
                        const url = container.env.find((e: any) => e.name === "DATABASE_URL");
                        assert.strictEqual(url.valueFrom.secretKeyRef.key, "DATABASE_DIRECT_URL");
                    }
                    if (svc.migrate && svc.seed) {
                        const seed = recorder.get("kubernetes:batch/v1:Job", `${name}-seed`);
                        assert.ok(
                            seed.dependencies.includes(recorder.get("kubernetes:batch/v1:Job", `${name}-migrate`).urn),
                            "seed after migration",
                        );
                    }
                }
            });

            it("serves /metrics only on a port the Services do not expose", () => {
                const { recorder } = evaluation;
                for (const service of recorder.all(SERVICE)) {
                    if (service.inputs.metadata.labels?.["app.kubernetes.io/component"] === "database") continue;
                    const deployment = recorder.get(DEPLOYMENT, service.name.replace(/-service$/, "-deployment"));
                    const annotations = deployment.inputs.spec.template.metadata.annotations;
                    if (!annotations || service.inputs.spec.type !== "LoadBalancer") continue;
                    const ports = deployment.inputs.spec.template.spec.containers[0].ports;
                    const exposed = service.inputs.spec.ports.map(
                        (p: any) => ports.find((c: any) => c.name === p.targetPort).containerPort,
                    );
                    assert.ok(
                        !exposed.includes(Number(annotations["prometheus.io/port"])),
                        `${service.name} exposes /metrics to the internet`,
                    );
                }
            });

            it("looks a tag up only for images given by tag or promoted by verification: one registry lookup each, none otherwise", () => {
                const { recorder } = evaluation;
                const config = stackFileConfig(stack);
                const workloads = ["esteira:services", "esteira:workers", "esteira:jobs"].flatMap((key) =>
                    Object.entries((config[key] ?? {}) as Record<string, { image: any }>),
                );
                // The backups' image is looked up as `backup`, as the images output names it.
                const backups = config["esteira:backups"] as { image: any } | undefined;
                if (backups) workloads.push(["backup", backups]);
                const byTag = workloads.filter(([, workload]) => {
                    if (typeof workload.image === "object" && workload.image.verifiedIn !== undefined) return true;
                    const ref = typeof workload.image === "string" ? workload.image : workload.image.ref;
                    return ref !== undefined && !ref.includes("@sha256:");
                });
                // An in-namespace database's image by tag is looked up the same way.
                const database = config["esteira:database"] as { mode: string; image?: string } | undefined;
                const databaseByTag =
                    database?.mode === "namespace" && !database.image!.includes("@sha256:") ? [`${stack}-postgres-digest`] : [];
                const lookups = recorder.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource" && r.name.endsWith("-digest"));
                assert.deepStrictEqual(
                    lookups.map((r) => r.name).sort(),
                    [...byTag.map(([name]) => `${name}-digest`), ...databaseByTag].sort(),
                );
            });

            it("exports an endpoint per service", async () => {
                const endpoints = await promiseOf(evaluation.outputs.endpoints);
                const services = evaluation.recorder.all("esteira:kubernetes:WebService").map((s) => s.name);
                assert.deepStrictEqual(Object.keys(endpoints as object).sort(), services.sort());
            });
        });
    }

    describe("environment differences (team D's seeds)", () => {
        it("homolog: 1 replica, debug on, LoadBalancer 80 → 8000 and HTTPS on 443, no autoscaler", async () => {
            const evaluation = await evaluated("homolog");
            const deployment = evaluation.recorder.get(DEPLOYMENT, "sample-deployment");
            assert.strictEqual(deployment.inputs.spec.replicas, 1);
            assert.strictEqual(deployment.inputs.metadata.namespace, "esteira-homolog");
            const env = envOf(evaluation, "sample-deployment");
            assert.strictEqual(env.DEBUG, "true");
            assert.strictEqual(env.LOG_LEVEL, "DEBUG");
            assert.match(env.APP_TITLE, /HOMOLOGAÇÃO$/);
            const service = evaluation.recorder.get(SERVICE, "sample-service");
            assert.strictEqual(service.inputs.spec.type, "LoadBalancer");
            assert.deepStrictEqual(service.inputs.spec.ports[0], { name: "http", port: 80, targetPort: "http", protocol: "TCP" });
            assert.ok(
                service.inputs.spec.ports.some((p: any) => p.port === 443),
                "a public endpoint serves HTTPS",
            );
            assert.strictEqual(
                service.inputs.metadata.annotations["service.beta.kubernetes.io/do-loadbalancer-redirect-http-to-https"],
                "true",
            );
            assert.strictEqual(deployment.inputs.spec.template.spec.containers[0].ports[0].containerPort, 8000);
            assert.deepStrictEqual(evaluation.recorder.all(HPA), []);
            assert.deepStrictEqual(evaluation.recorder.all(PDB), []);
        });

        it("prod: at least 2 replicas under an HPA with a PDB, debug off, LoadBalancer 80 → 8000", async () => {
            const evaluation = await evaluated("prod");
            const deployment = evaluation.recorder.get(DEPLOYMENT, "sample-deployment");
            assert.strictEqual(deployment.inputs.spec.replicas, undefined);
            assert.strictEqual(deployment.inputs.metadata.namespace, "esteira-prod");
            const hpa = evaluation.recorder.get(HPA, "sample-hpa");
            assert.ok(hpa.inputs.spec.minReplicas >= 2, "prod runs at least two replicas");
            evaluation.recorder.get(PDB, "sample-pdb");
            const env = envOf(evaluation, "sample-deployment");
            assert.strictEqual(env.DEBUG, "false");
            assert.strictEqual(env.LOG_LEVEL, "INFO");
            const service = evaluation.recorder.get(SERVICE, "sample-service");
            assert.strictEqual(service.inputs.spec.type, "LoadBalancer");
            assert.strictEqual(service.inputs.spec.ports[0].port, 80);
            assert.strictEqual(deployment.inputs.spec.template.spec.containers[0].ports[0].containerPort, 8000);
        });

        it("prod: serves HTTPS only, with its own certificate, a DNS record and HTTP redirected (the policy pack's TLS check)", async () => {
            const { recorder, outputs } = await evaluated("prod");
            const service = recorder.get(SERVICE, "sample-service");
            const annotations = service.inputs.metadata.annotations;
            const DO = "service.beta.kubernetes.io/do-loadbalancer-";
            assert.strictEqual(
                annotations[`${DO}certificate-name`],
                recorder.get("digitalocean:index/certificate:Certificate", "sample-certificate").name + "-0a1b2c3",
            );
            assert.ok(annotations[`${DO}tls-ports`].split(",").includes("443"));
            assert.strictEqual(annotations[`${DO}redirect-http-to-https`], "true");
            assert.ok(service.inputs.spec.ports.some((p: any) => p.port === 443));
            const record = recorder.get("digitalocean:index/dnsRecord:DnsRecord", "sample-dns");
            assert.deepStrictEqual([record.inputs.type, record.inputs.value], ["A", "203.0.113.10"]);
            assert.match((await promiseOf(outputs.endpoints))!.sample, /^https:\/\//);
        });

        it("prod: its HTTPS endpoint is checked from outside, and its database and nodes alert the on-call address", async () => {
            const { recorder } = await evaluated("prod");
            const check = recorder.get("digitalocean:index/uptimeCheck:UptimeCheck", "prod-uptime-sample");
            assert.deepStrictEqual([check.inputs.type, check.inputs.target], ["https", "https://esteira.example.com/readyz"]);
            const alerts = recorder.all("digitalocean:index/monitorAlert:MonitorAlert");
            assert.deepStrictEqual(
                alerts.map((a) => a.inputs.entities?.[0] ?? a.inputs.tags?.[0]).sort(),
                [...Array(3).fill("k8s:prod-cluster-id"), ...Array(3).fill("prod-cluster-id")].sort(),
            );
            for (const alert of alerts) assert.deepStrictEqual(alert.inputs.alerts.emails, ["oncall@example.com"]);
        });

        it("prod: protected cluster and database, HA control plane, autoscaling pool, at least 2 database nodes", async () => {
            const { recorder } = await evaluated("prod");
            const doks = recorder.get(DOKS, "prod-cluster");
            assert.strictEqual(doks.protect, true);
            assert.strictEqual(doks.inputs.ha, true);
            const workers = recorder.get("digitalocean:index/kubernetesNodePool:KubernetesNodePool", "prod-workers");
            assert.strictEqual(workers.inputs.autoScale, true);
            assert.ok(workers.inputs.minNodes >= 2);
            const database = recorder.get(DB_CLUSTER, "prod-cluster");
            assert.strictEqual(database.protect, true);
            assert.ok(database.inputs.nodeCount >= 2, "prod keeps a standby database node");
            assert.strictEqual(recorder.get(DB, "prod-db").protect, true);
        });

        it("dev and homolog: nothing protected, each with its own database", async () => {
            for (const stack of ["dev", "homolog"]) {
                const { recorder } = await evaluated(stack);
                assert.ok(
                    recorder.resources.every((r) => !r.protect),
                    `${stack} protects nothing`,
                );
                assert.strictEqual(recorder.all(DB_CLUSTER).length, 1);
                assert.strictEqual(recorder.get(DB_CLUSTER, `${stack}-cluster`).inputs.name, `esteira-${stack}-db`);
            }
        });

        for (const [stack, stage] of [
            ["prod", "homolog"],
            ["homolog", "dev"],
        ]) {
            it(`${stack}: runs exactly the digest ${stage} verified for the commit being deployed, and builds nothing`, async () => {
                const { recorder } = await evaluated(stack);
                assert.deepStrictEqual(recorder.all("docker-build:index:Image"), []);
                const image = recorder.get(DEPLOYMENT, "sample-deployment").inputs.spec.template.spec.containers[0].image;
                const tag = `ghcr.io/esteira-dev/esteira/sample:verified-${stage}-${TEST_COMMIT.slice(0, 12)}`;
                assert.strictEqual(image, `ghcr.io/esteira-dev/esteira/sample@${fakeDigest(tag)}`);
                const lookup = recorder.get("pulumi-nodejs:dynamic:Resource", "sample-digest");
                assert.strictEqual(`${lookup.inputs.domain}/${lookup.inputs.repository}:${lookup.inputs.tag}`, tag);
                assert.ok(isSecretInput(lookup, "password"), "the pull token stays secret");
                assert.deepStrictEqual(recorder.all("pulumi:providers:docker"), [], "no provider plugin is needed");
                // Its own last outputs only (the names of what holds data, config/renames.ts).
                assert.deepStrictEqual(
                    recorder.reads.map((r) => r.id),
                    [`organization/esteira/${stack}`],
                    `${stack} reads no other stack's state`,
                );
            });
        }

        it("a pin (a rollback, prod's approved release) runs exactly that digest, which the lookup only checks is there", async () => {
            const pin = `ghcr.io/esteira-dev/esteira/sample@${fakeDigest("last-good")}`;
            const { recorder } = await evaluateStack("prod", { overrides: { "esteira:pins": { sample: pin } } });
            assert.strictEqual(recorder.get(DEPLOYMENT, "sample-deployment").inputs.spec.template.spec.containers[0].image, pin);
            assert.strictEqual(recorder.get("pulumi-nodejs:dynamic:Resource", "sample-digest").inputs.tag, fakeDigest("last-good"));
        });

        it("dev: builds app/ and tags it with the commit and the stack", async () => {
            const { recorder } = await evaluated("dev");
            const built = recorder.get("docker-build:index:Image", "sample-image");
            assert.deepStrictEqual(built.inputs.context, { location: "app" });
            assert.ok(built.inputs.tags.includes("ghcr.io/esteira-dev/esteira/sample:dev"));
            assert.ok(
                built.inputs.tags.some((t: string) => /:sha-[0-9a-f]{12}$/.test(t)),
                "tagged with the commit",
            );
            assert.strictEqual(built.retainOnDelete, true);
        });

        it("dev: reachable only inside the cluster", async () => {
            const evaluation = await evaluated("dev");
            assert.strictEqual(evaluation.recorder.get(SERVICE, "sample-service").inputs.spec.type, "ClusterIP");
            assert.strictEqual(envOf(evaluation, "sample-deployment").DEBUG, "true");
        });
    });

    describe("GitHub environments", () => {
        const GH_ENV = "github:index/repositoryEnvironment:RepositoryEnvironment";
        const POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";

        it("dev and homolog write no GitHub resource: prod's stack manages their environments (managedBy)", async () => {
            for (const stack of ["dev", "homolog"]) {
                const { recorder } = await evaluated(stack);
                assert.deepStrictEqual(
                    recorder.resources.filter((r) => r.type.startsWith("github:")).map((r) => r.name),
                    [],
                    `${stack} needs no GitHub token`,
                );
            }
        });

        it("prod writes dev's environment, deployable from main, no reviewers", async () => {
            const { recorder } = await evaluated("prod");
            const environment = recorder.get(GH_ENV, "dev-environment");
            assert.strictEqual(environment.inputs.environment, "dev");
            assert.strictEqual(environment.inputs.reviewers, undefined);
            assert.deepStrictEqual(
                recorder
                    .all(POLICY)
                    .filter((p) => p.name.startsWith("dev-policy"))
                    .map((p) => p.inputs.branchPattern ?? `tag:${p.inputs.tagPattern}`),
                ["main"],
            );
        });

        it("prod writes homolog's environment: QA approves, deployable from main", async () => {
            const { recorder } = await evaluated("prod");
            const environment = recorder.get(GH_ENV, "homolog-environment");
            assert.strictEqual(environment.inputs.reviewers[0].teams.length, 1);
            assert.deepStrictEqual(
                recorder
                    .all(POLICY)
                    .filter((p) => p.name.startsWith("homolog-policy"))
                    .map((p) => p.inputs.branchPattern),
                ["main"],
            );
        });

        it("prod: product owners approve (the second approval), no self-review, no admin bypass, main's workflow only", async () => {
            const { recorder } = await evaluated("prod");
            const environment = recorder.get(GH_ENV, "prod-environment");
            assert.strictEqual(environment.inputs.reviewers[0].teams.length, 1);
            assert.strictEqual(environment.inputs.preventSelfReview, true);
            assert.strictEqual(environment.inputs.canAdminsBypass, false);
            assert.deepStrictEqual(environment.inputs.deploymentBranchPolicy, { protectedBranches: false, customBranchPolicies: true });
            assert.deepStrictEqual(
                recorder
                    .all(POLICY)
                    .filter((p) => p.name.startsWith("prod-policy"))
                    .map((p) => [p.inputs.branchPattern, p.inputs.tagPattern]),
                [["main", undefined]],
            );
        });

        it("prod owns the repository's settings: reviewed pull requests into main, release tags by release managers only, never moved", async () => {
            const { recorder } = await evaluated("prod");
            const rulesets = recorder.all("github:index/repositoryRuleset:RepositoryRuleset");
            assert.deepStrictEqual(rulesets.map((r) => r.name).sort(), [
                "esteira-default-branch",
                "esteira-release-tags",
                "esteira-release-tags-immutable",
            ]);
            const tags = recorder.get("github:index/repositoryRuleset:RepositoryRuleset", "esteira-release-tags");
            assert.deepStrictEqual(tags.inputs.conditions.refName.includes, ["refs/tags/v*"], "the pattern prod deploys from");
            for (const stack of ["dev", "homolog", "review"]) {
                const other = await evaluated(stack);
                assert.deepStrictEqual(
                    other.recorder.all("github:index/repositoryRuleset:RepositoryRuleset"),
                    [],
                    `${stack} leaves them alone`,
                );
            }
        });

        it("prod protects the environments the workflows use beside its own: prod-preview (the first approval) and review-base from main", async () => {
            const { recorder } = await evaluated("prod");
            const environments = recorder
                .all(GH_ENV)
                .map((e) => e.inputs.environment)
                .sort();
            assert.deepStrictEqual(environments, ["dev", "homolog", "prod", "prod-preview", "review", "review-base"]);
            const patterns = (name: string) =>
                recorder
                    .all(POLICY)
                    .filter((p) => p.name.startsWith(`${name}-policy`))
                    .map((p) => p.inputs.branchPattern ?? `tag:${p.inputs.tagPattern}`);
            assert.deepStrictEqual(patterns("prod-preview"), ["main"]);
            assert.strictEqual(recorder.get(GH_ENV, "prod-preview-environment").inputs.reviewers[0].teams.length, 1);
            assert.deepStrictEqual(patterns("review-base"), ["main"]);
            assert.strictEqual(recorder.get(GH_ENV, "prod-preview-environment").inputs.canAdminsBypass, false);
            assert.strictEqual(recorder.get(GH_ENV, "review-base-environment").inputs.canAdminsBypass, false);
        });

        for (const stack of ["prod"]) {
            it(`${stack}: KUBECONFIG is its read-only ServiceAccount's, as a secret; namespace and endpoints as variables`, async () => {
                const { recorder, outputs } = await evaluated(stack);
                const secret = recorder.get("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret", `${stack}-secret-kubeconfig`);
                assert.strictEqual(secret.inputs.secretName, "KUBECONFIG");
                assert.ok(isSecretInput(secret, "plaintextValue"), "the kubeconfig stays secret");
                const kubeconfig = JSON.parse(secret.inputs.plaintextValue);
                assert.deepStrictEqual(
                    kubeconfig.users[0].user,
                    { token: `token-of-${stack}-token` },
                    "the ServiceAccount's token, not the account's",
                );
                assert.strictEqual(kubeconfig.contexts[0].context.namespace, `esteira-${stack}`);
                assert.strictEqual(
                    secret.inputs.plaintextValue,
                    await promiseOf(outputs.kubeconfig),
                    "the smoke test uses the same identity",
                );
                assert.ok(
                    recorder.all("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret").every((s) => {
                        try {
                            return typeof JSON.parse(s.inputs.plaintextValue) !== "object" || s.inputs.secretName === "KUBECONFIG";
                        } catch {
                            return true;
                        }
                    }),
                    "no JSON blob of several credentials as one Actions secret",
                );
                const variables = recorder.all("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable");
                const byName = Object.fromEntries(variables.map((v) => [v.inputs.variableName, v.inputs.value]));
                assert.strictEqual(byName.ESTEIRA_NAMESPACE, `esteira-${stack}`);
                assert.ok(byName.ESTEIRA_SAMPLE_URL, "the sample service's endpoint is a variable");
                assert.ok(
                    variables.every((v) => !isSecretInput(v, "value")),
                    "variables hold no secret",
                );
            });
        }
    });

    describe("GitHub repository secrets and variables", () => {
        it("a stack writes the repository-level values it owns, secrets kept secret, beside its environment's", async () => {
            const prod = stackFileConfig("prod") as Record<string, any>;
            const { recorder } = await evaluateStack("prod", {
                overrides: {
                    "esteira:github": { ...prod["esteira:github"], repositoryVariables: { IMAGE_REGISTRY: "ghcr.io" } },
                    "esteira:githubSecrets": {
                        repository: { NPM_TOKEN: { secure: "v1:ciphertext" } },
                        environment: { SENTRY_AUTH_TOKEN: { secure: "v1:ciphertext" } },
                    },
                },
            });
            const secret = recorder.get("github:index/actionsSecret:ActionsSecret", "esteira-secret-npm_token");
            assert.strictEqual(secret.inputs.repository, "esteira");
            assert.ok(isSecretInput(secret, "plaintextValue"), "the repository secret stays secret");
            recorder.get("github:index/actionsVariable:ActionsVariable", "esteira-variable-image_registry");
            const sentry = recorder.get("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret", "prod-secret-sentry_auth_token");
            assert.ok(isSecretInput(sentry, "plaintextValue"), "the environment secret stays secret");
        });

        it("exactly one stack file sets each repository-level secret or variable, or stacks would overwrite each other's", () => {
            const owners = new Map<string, string>();
            for (const { stack, file } of stackCases()) {
                const config = stackFileConfig(stack) as Record<string, any>;
                const names = [
                    ...Object.keys(config["esteira:github"]?.repositoryVariables ?? {}).map((name) => `variable ${name}`),
                    ...Object.keys(config["esteira:githubSecrets"]?.repository ?? {}).map((name) => `secret ${name}`),
                ];
                for (const name of names) {
                    assert.ok(!owners.has(name), `${file} and ${owners.get(name)} both set the repository ${name}`);
                    owners.set(name, file);
                }
            }
        });
    });

    describe("ephemeral pull-request stacks (stacks/pr.template.yaml)", () => {
        let evaluation: Evaluation;
        before(async () => {
            evaluation = await evaluated(PR_STACK);
        });

        it("registers no cluster, VPC or database cluster, and reads no other stack: nothing of the base's state", () => {
            const { recorder } = evaluation;
            for (const type of [DOKS, DB_CLUSTER, "digitalocean:index/vpc:Vpc", "digitalocean:index/databaseFirewall:DatabaseFirewall"]) {
                assert.deepStrictEqual(recorder.all(type), [], `${type} must not be created by a PR stack`);
            }
            const reads = recorder.reads.map((r) => `${r.type} ${r.id}`).sort();
            // No StackReference to the base (its outputs and state stay the base's); only its own,
            // read before anything is built, for the names it deployed last time (config/renames.ts).
            assert.deepStrictEqual(reads, ["pulumi:pulumi:StackReference organization/esteira/pr-42"]);
        });

        it("needs no DigitalOcean token: nothing it registers, reads or invokes is DigitalOcean's", () => {
            assert.deepStrictEqual(
                touchedTypes(evaluation.recorder).filter(
                    (type) => type.startsWith("digitalocean:") || type === "pulumi:providers:digitalocean",
                ),
                [],
            );
        });

        it("runs its own PostgreSQL in its namespace, with a generated password kept secret: no server, no admin connection", async () => {
            const { recorder, outputs } = evaluation;
            const server = recorder.get(DEPLOYMENT, "pr-42-server");
            assert.strictEqual(server.inputs.metadata.namespace, "esteira-pr-42");
            const pod = server.inputs.spec.template.spec;
            assert.strictEqual(pod.securityContext.runAsUser, 999);
            assert.strictEqual(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
            assert.ok(pod.containers[0].image.includes("@sha256:"), "the image runs by digest");
            assert.deepStrictEqual(
                pod.volumes.map((v: any) => [v.name, v.emptyDir?.sizeLimit]),
                [
                    ["tmp", "64Mi"],
                    ["data", "1024Mi"],
                    ["run", "1Mi"],
                ],
                "its data lives and dies with the pod and namespace",
            );
            const credentials = recorder.get(SECRET, "pr-42-server-secret");
            assert.ok(isSecretInput(credentials, "stringData"), "the generated password stays secret");
            // PostgreSQL reads the password only when it initialises: a new one must restart it on a
            // fresh data directory (an up recovered after a killed one, scripts/pr-stack.sh --recover).
            const checksum = server.inputs.spec.template.metadata.annotations["checksum/credentials"];
            assert.match(checksum, /^[0-9a-f]{32}$/, "pr-42-server's pod template carries a checksum of its password");
            assert.ok(!isSecretInput(server, "spec.template.metadata.annotations"), "the checksum is plain: it reveals nothing");
            const secret = recorder.all(SECRET).find((s) => s.inputs.metadata.name === "db-credentials")!;
            assert.match(
                secret.inputs.stringData.DATABASE_URL,
                // Its own Service's ClusterIP: no cluster DNS needed.
                new RegExp(`^postgresql://app:[^@]+@${FAKE_CLUSTER_IP.replace(/\./g, "\\.")}:5432/app\\?sslmode=disable$`),
            );
            const ingress = recorder.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "pr-42-ingress").inputs.spec;
            assert.deepStrictEqual(
                ingress.ingress,
                [{ from: [{ podSelector: {} }], ports: [{ protocol: "TCP", port: 5432 }] }],
                "only the namespace's own pods",
            );
            assert.strictEqual(outputs.databaseAdminUrl, undefined, "no admin connection to export");
        });

        it("deploys with its own short-lived kubeconfig (esteira:kubeconfig) and mints no token of its own", async () => {
            const { recorder, outputs } = await evaluateStack(PR_STACK, {
                // No esteira:databaseUrl: its database is its own PostgreSQL, and an unused key is refused.
                secrets: { "esteira:registryToken": TEST_SECRETS["esteira:registryToken"], "esteira:kubeconfig": TENANT_KUBECONFIG },
            });
            const provider = recorder.all("pulumi:providers:kubernetes")[0];
            assert.strictEqual(provider.inputs.kubeconfig, TENANT_KUBECONFIG, "the kubeconfig pr-stack.sh sets from TENANT_KUBECONFIG");
            assert.deepStrictEqual(
                recorder.all(SECRET).filter((s) => s.inputs.type === "kubernetes.io/service-account-token"),
                [],
                "the admission policy refuses service-account-token Secrets in pull-request namespaces",
            );
            assert.deepStrictEqual(recorder.all("kubernetes:core/v1:ServiceAccount"), []);
            assert.strictEqual(outputs.kubeconfig, undefined);
            assert.strictEqual(outputs.tenantKubeconfig, undefined, "it re-exports nothing of the base's");
        });

        it("adopts the namespace the tenant issuer made, with its Pod Security labels, and never deletes it", () => {
            const namespace = evaluation.recorder.all(NAMESPACE)[0];
            assert.strictEqual(namespace.retainOnDelete, true);
            for (const [key, value] of Object.entries(POD_SECURITY_LABELS))
                assert.strictEqual(namespace.inputs.metadata.labels[key], value, key);
        });

        it("pushes apart from main's images: its own repository path and cache, reading main's cache but never writing it", () => {
            const built = evaluation.recorder.get("docker-build:index:Image", "sample-image");
            assert.ok(
                built.inputs.tags.every((tag: string) => tag.startsWith("ghcr.io/esteira-dev/esteira-review/sample:")),
                "tags only in the PR path",
            );
            assert.deepStrictEqual(
                built.inputs.cacheFrom.map((c: any) => c.registry.ref),
                ["ghcr.io/esteira-dev/esteira-review/sample:buildcache", "ghcr.io/esteira-dev/esteira/sample:buildcache"],
            );
            assert.deepStrictEqual(
                built.inputs.cacheTo.map((c: any) => c.registry.ref),
                ["ghcr.io/esteira-dev/esteira-review/sample:buildcache"],
            );
        });

        it("creates only namespaced objects, its own database and role, and Pulumi's own wiring", () => {
            const { recorder } = evaluation;
            const owned = new Set(recorder.resources.filter((r) => r.custom).map((r) => r.type));
            for (const type of owned) {
                assert.ok(
                    type.startsWith("kubernetes:") ||
                        // Its database's password and image lookup (parts/generated-password.ts, parts/registry-digest.ts).
                        type === "pulumi-nodejs:dynamic:Resource" ||
                        type === "docker-build:index:Image" ||
                        type.startsWith("pulumi:providers:"),
                    `a PR stack must not create ${type}`,
                );
            }
            assert.ok(recorder.all("kubernetes:core/v1:Namespace").length === 1);
        });

        it("derives every name from the pull request number", () => {
            const { recorder } = evaluation;
            assert.strictEqual(recorder.all(NAMESPACE)[0].inputs.metadata.name, "esteira-pr-42");
            const built = recorder.get("docker-build:index:Image", "sample-image");
            assert.ok(built.inputs.tags.includes("ghcr.io/esteira-dev/esteira-review/sample:pr-42"));
        });

        it("protects nothing and ties nothing to a cluster it does not own", () => {
            const { recorder } = evaluation;
            for (const resource of recorder.resources) {
                assert.strictEqual(resource.protect, false, `${resource.type} ${resource.name} must not be protected`);
                assert.strictEqual(resource.deletedWith, "", `${resource.type} ${resource.name} must be deleted by pulumi destroy`);
            }
        });

        it("registers only kinds of object the review base's tenant ServiceAccount may create, change and delete", () => {
            const kinds = kubernetesKinds(evaluation.recorder);
            assert.ok(kinds.length > 5, "a pull request's stack registers Kubernetes objects");
            assert.deepStrictEqual(beyondTenantRules(kinds), []);
        });

        it("stays within the tenant ServiceAccount's rules with every workload kind: a worker with a claim, a scheduled job, another namespace", async () => {
            const template = stackFileConfig(PR_STACK) as Record<string, any>;
            const { recorder } = await evaluateStack(PR_STACK, {
                overrides: {
                    "esteira:namespaces": { batch: {} },
                    "esteira:workers": {
                        indexer: {
                            image: { build: { context: "app" } },
                            command: ["node", "dist/worker.js"],
                            writablePaths: { "/data": { sizeMiB: 512, persistent: true } },
                        },
                    },
                    "esteira:jobs": { report: { image: { build: { context: "app" } }, schedule: "0 3 * * *", namespace: "batch" } },
                    "esteira:services": template["esteira:services"],
                },
            });
            const kinds = kubernetesKinds(recorder);
            for (const type of ["kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:batch/v1:CronJob"])
                assert.ok(kinds.includes(type), type);
            assert.deepStrictEqual(beyondTenantRules(kinds), []);
        });

        it("reaches the review base's cluster by a fixed id and runs ClusterIP services", () => {
            const { recorder } = evaluation;
            // A new token on every push replaces no object.
            assert.strictEqual(recorder.all("pulumi:providers:kubernetes")[0].inputs.clusterIdentifier, "esteira-review");
            for (const service of recorder.all(SERVICE)) assert.strictEqual(service.inputs.spec.type, "ClusterIP");
        });

        it("rejects a stack name that cannot name a namespace", async () => {
            // Without the template's esteira:expiry, which PR_42, no pr-<number>, may not carry (expiry-pull-requests-only).
            const overrides = { "esteira:expiry": undefined };
            await assert.rejects(evaluateStack("PR_42", { overrides }, stackFileConfig(PR_STACK)), (err: ConfigError) => {
                assert.match(err.problems[0], /^PR_42: environment: the stack name "PR_42" is not a DNS-1123 label/);
                return true;
            });
        });
    });

    describe("the review base (Pulumi.review.yaml)", () => {
        it("creates a cluster for the pull requests, its tenant issuer and the admission policies, no database server, and runs nothing itself", async () => {
            const { recorder, outputs } = await evaluated("review");
            recorder.get(DOKS, "review-cluster");
            assert.deepStrictEqual(recorder.all(DB_CLUSTER), [], "each pull request runs its own PostgreSQL: no server, no admin");
            assert.deepStrictEqual(recorder.all(DEPLOYMENT), []);
            assert.deepStrictEqual(recorder.all("kubernetes:rbac.authorization.k8s.io/v1:Role"), []);
            const role = recorder.get("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "review-tenants-role");
            assert.strictEqual(role.inputs.metadata.name, "esteira-tenants");
            const deployer = recorder.get("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "review-tenants-deployer");
            assert.strictEqual(deployer.inputs.metadata.name, "esteira-pr-deployer");
            assert.deepStrictEqual(
                recorder.all("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").length,
                1,
                "only the issuer's",
            );
            const bindings = recorder.all("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
            assert.deepStrictEqual(bindings.map((b) => [b.inputs.spec.policyName, b.inputs.spec.validationActions]).sort(), [
                ["esteira-tenants-issuer", ["Deny"]],
                ["esteira-tenants-pull-requests", ["Deny"]],
            ]);
            assert.deepStrictEqual(await promiseOf(outputs.clusterId), "review-cluster-id");
            assert.strictEqual(outputs.databaseAdminUrl, undefined, "no admin connection exported");
            const tenant = JSON.parse((await promiseOf(outputs.tenantKubeconfig)) as string);
            assert.deepStrictEqual(tenant.users[0].user, { token: "token-of-review-tenants-token" });
            assert.strictEqual(outputs.kubeconfig, undefined);
            assert.deepStrictEqual(
                recorder.all("github:index/repositoryEnvironment:RepositoryEnvironment"),
                [],
                "it writes nothing to GitHub",
            );
        });

        it("stores no DigitalOcean token in its config or state", async () => {
            const { recorder } = await evaluated("review");
            assert.strictEqual(
                stackFileConfig("review")["esteira:cluster"] && (stackFileConfig("review")["esteira:cluster"] as any).tokenFromEnvironment,
                true,
            );
            assert.ok(!JSON.stringify(recorder.resources.map((r) => r.inputs)).includes("test-digitalocean-token"));
        });
    });

    describe("application secrets", () => {
        /** Every string in a resource's inputs that is not inside a Pulumi secret. */
        const plainStrings = (value: any): string[] => {
            if (value && value[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return [];
            if (typeof value === "string") return [value];
            if (value && typeof value === "object") return Object.values(value).flatMap(plainStrings);
            return [];
        };

        it("a Secret set with --secret --path lands in the namespace as a secret, and pods read it only through secretKeyRef", async () => {
            const homolog = stackFileConfig("homolog") as Record<string, any>;
            const { recorder } = await evaluateStack("homolog", {
                overrides: {
                    "esteira:services": {
                        sample: {
                            ...homolog["esteira:services"].sample,
                            secretEnv: { AUTH_SECRET: { secretName: "api-secrets", key: "AUTH_SECRET" } },
                        },
                    },
                    "esteira:secrets": { "api-secrets": { AUTH_SECRET: { secure: "v1:ciphertext" } } },
                },
            });
            const plaintext = "test-secret:esteira:secrets.api-secrets.AUTH_SECRET";
            const secret = recorder.get(SECRET, "homolog-secret-api-secrets");
            assert.strictEqual(secret.inputs.metadata.namespace, "esteira-homolog");
            assert.deepStrictEqual(secret.inputs.stringData, { AUTH_SECRET: plaintext });
            assert.ok(isSecretInput(secret, "stringData"), "the value stays secret");
            const deployment = recorder.get(DEPLOYMENT, "sample-deployment");
            assert.deepStrictEqual(
                deployment.inputs.spec.template.spec.containers[0].env.find((e: any) => e.name === "AUTH_SECRET"),
                { name: "AUTH_SECRET", valueFrom: { secretKeyRef: { name: "api-secrets", key: "AUTH_SECRET" } } },
            );
            assert.ok(deployment.dependencies.includes(secret.urn), "pods start after the Secret exists");
            for (const resource of recorder.resources) {
                assert.ok(
                    !plainStrings(resource.rawInputs).includes(plaintext),
                    `${resource.type} ${resource.name} holds the value in plain text`,
                );
            }
        });
    });

    describe("build secrets", () => {
        it("a token the build needs reaches BuildKit only as a secret, never as a build argument", async () => {
            // dev builds; homolog and prod promote what dev built.
            const dev = stackFileConfig("dev") as Record<string, any>;
            const sample = dev["esteira:services"].sample;
            const { recorder } = await evaluateStack("dev", {
                overrides: {
                    "esteira:services": { sample: { ...sample, image: { build: { ...sample.image.build, secrets: ["NPM_TOKEN"] } } } },
                    "esteira:buildSecrets": { NPM_TOKEN: { secure: "v1:ciphertext" } },
                },
            });
            const built = recorder.get("docker-build:index:Image", "sample-image");
            assert.deepStrictEqual(built.inputs.secrets, { NPM_TOKEN: "test-secret:esteira:buildSecrets.NPM_TOKEN" });
            assert.ok(isSecretInput(built, "secrets"), "the token stays secret");
            assert.strictEqual(built.inputs.buildArgs, undefined);
        });
    });

    describe("several namespaces per environment", () => {
        it("each namespace gets its own pull secret and the Secrets its workloads read, and each workload runs and pulls there", async () => {
            const homolog = stackFileConfig("homolog") as Record<string, any>;
            const { recorder, outputs } = await evaluateStack("homolog", {
                overrides: {
                    "esteira:namespaces": { payments: {} },
                    "esteira:workers": {
                        billing: {
                            image: "ghcr.io/acme/billing@sha256:" + "b".repeat(64),
                            namespace: "payments",
                            secretEnv: { STRIPE_KEY: { secretName: "stripe", key: "STRIPE_KEY" } },
                        },
                    },
                    "esteira:secrets": { stripe: { STRIPE_KEY: { secure: "v1:ciphertext" } } },
                    "esteira:services": homolog["esteira:services"],
                },
            });
            assert.deepStrictEqual(
                recorder
                    .all(NAMESPACE)
                    .map((n) => n.inputs.metadata.name)
                    .sort(),
                ["esteira-homolog", "esteira-homolog-payments"],
            );
            const secretsIn = (namespace: string) =>
                recorder
                    .all(SECRET)
                    .filter((s) => s.inputs.metadata.namespace === namespace)
                    .map((s) => `${s.name}=${s.inputs.metadata.name}`)
                    .sort();
            assert.deepStrictEqual(secretsIn("esteira-homolog"), [
                // The backups' jobs run in the stack's own namespace, with their bucket's key.
                "homolog-backup-credentials=homolog-backup-credentials",
                "homolog-pull-secret=ghcr-secret",
                "homolog-secret-db-credentials=db-credentials",
                // The environment's own identity lives in the stack's namespace only.
                "homolog-token=esteira-ci-token",
            ]);
            assert.deepStrictEqual(secretsIn("esteira-homolog-payments"), [
                "homolog-payments-pull-secret=ghcr-secret",
                "homolog-payments-secret-db-credentials=db-credentials",
                "homolog-payments-secret-stripe=stripe",
            ]);
            const billing = recorder.get(DEPLOYMENT, "billing-deployment");
            assert.strictEqual(billing.inputs.metadata.namespace, "esteira-homolog-payments");
            assert.deepStrictEqual(billing.inputs.spec.template.spec.imagePullSecrets, [{ name: "ghcr-secret" }]);
            assert.strictEqual(recorder.get(DEPLOYMENT, "sample-deployment").inputs.metadata.namespace, "esteira-homolog");
            assert.deepStrictEqual(await promiseOf(outputs.workloadNamespaces), {
                sample: "esteira-homolog",
                billing: "esteira-homolog-payments",
            });
            // The environment's namespaces reach each other's pods; the namespace-wide denies still hold everything else.
            const policy = (name: string) => recorder.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", name).inputs.spec;
            assert.deepStrictEqual(policy("homolog-allow-namespace").egress[0].to, [
                { podSelector: {} },
                {
                    namespaceSelector: {
                        matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["esteira-homolog-payments"] }],
                    },
                },
            ]);
            assert.deepStrictEqual(
                policy("homolog-payments-allow-namespace").egress[0].to[1].namespaceSelector.matchExpressions[0].values,
                ["esteira-homolog"],
            );
            assert.ok(policy("homolog-payments-allow-database"), "payments reads the database, so it may reach it");
            // The worker rolls when either Secret it reads changes; the service reads no esteira:secrets.
            const annotations = billing.inputs.spec.template.metadata.annotations;
            assert.match(annotations["checksum/database-secret"], /^[0-9a-f]{32}$/);
            assert.match(annotations["checksum/secrets"], /^stripe=[0-9a-f]{32}$/);
            assert.ok(
                !isSecretInput(billing, "spec.template.metadata.annotations"),
                "the checksums are plain, so a preview shows them change",
            );
            assert.strictEqual(
                recorder.get(DEPLOYMENT, "sample-deployment").inputs.spec.template.metadata.annotations["checksum/secrets"],
                undefined,
            );
            // Each namespace is marked as the stack's, which the guard against taking one over reads.
            assert.strictEqual(
                recorder.get(NAMESPACE, "homolog-payments-namespace").inputs.metadata.annotations["esteira.dev/stack"],
                "organization/esteira/homolog",
            );
            // The smoke test reads every namespace the workloads run in, with the one ServiceAccount.
            const role = recorder.get("kubernetes:rbac.authorization.k8s.io/v1:Role", "homolog-role-payments");
            assert.strictEqual(role.inputs.metadata.namespace, "esteira-homolog-payments");
            assert.deepStrictEqual(
                role.inputs.rules,
                recorder.get("kubernetes:rbac.authorization.k8s.io/v1:Role", "homolog-role").inputs.rules,
            );
            const binding = recorder.get("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "homolog-role-binding-payments");
            assert.strictEqual(binding.inputs.metadata.namespace, "esteira-homolog-payments");
            assert.deepStrictEqual(binding.inputs.subjects, [{ kind: "ServiceAccount", name: "esteira-ci", namespace: "esteira-homolog" }]);
        });
    });

    describe("images given by tag", () => {
        it("run on the digest the tag points at when deployed, the Deployment and its migration alike", async () => {
            const services = structuredClone(stackFileConfig("homolog")["esteira:services"]) as Record<string, any>;
            services.sample.image = "ghcr.io/esteira-dev/esteira/sample:1.4.2";
            const { recorder, outputs } = await evaluateStack("homolog", { overrides: { "esteira:services": services } });
            const pinned = `ghcr.io/esteira-dev/esteira/sample:1.4.2@${fakeDigest("ghcr.io/esteira-dev/esteira/sample:1.4.2")}`;
            assert.strictEqual(recorder.get(DEPLOYMENT, "sample-deployment").inputs.spec.template.spec.containers[0].image, pinned);
            assert.strictEqual(
                recorder.get("kubernetes:batch/v1:Job", "sample-migrate").inputs.spec.template.spec.containers[0].image,
                pinned,
            );
            assert.strictEqual(((await promiseOf(outputs.images)) as Record<string, string>).sample, pinned, "what prod promotes");
            const lookup = recorder.get("pulumi-nodejs:dynamic:Resource", "sample-digest");
            assert.ok(isSecretInput(lookup, "password"), "the registry token stays secret");
        });
    });

    describe("invalid configuration", () => {
        it("fails before any resource is registered, naming the stack and key", async () => {
            const recorder = new Recorder();
            const homolog = stackFileConfig("homolog") as Record<string, any>;
            const services = {
                sample: { ...homolog["esteira:services"].sample, replicas: undefined, autoscaling: { minReplicas: 5, maxReplicas: 3 } },
            };
            await assert.rejects(
                evaluateStack("homolog", { recorder, overrides: { "esteira:services": services } }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        "homolog: services.sample.autoscaling: minReplicas (5) must be <= maxReplicas (3)",
                    ]);
                    return true;
                },
            );
            assert.deepStrictEqual(recorder.resources, [], "no resource may be registered");
        });

        it("refuses a secret under a plain key before any resource is registered, never showing it", async () => {
            const recorder = new Recorder();
            const services = structuredClone(stackFileConfig("homolog")["esteira:services"]) as Record<string, any>;
            services.sample.env.API_KEY = "sk-live-0123456789";
            await assert.rejects(
                evaluateStack("homolog", {
                    recorder,
                    secrets: { ...TEST_SECRETS, "esteira:services": JSON.stringify(services) },
                }),
                (err: ConfigError) => {
                    assert.match(err.problems[0], /^homolog: services: holds a value set with --secret/);
                    assert.ok(!err.message.includes("sk-live"), "the secret is never shown");
                    return true;
                },
            );
            assert.deepStrictEqual(recorder.resources, []);
        });

        it("fails without the registry token", async () => {
            const recorder = new Recorder();
            await assert.rejects(evaluateStack("prod", { recorder, secrets: {} }), ConfigError);
            assert.deepStrictEqual(recorder.resources, []);
        });
    });
});

describe("the engine's parallelism for Kubernetes-only stacks (kubernetes_parallel, scripts/delivery-lib.sh)", () => {
    /**
     * What the engine may run many of at once: Kubernetes objects, image builds, the stack itself, and
     * the program's dynamic resources (a generated password, a registry digest, a database role),
     * which talk to no cloud API.
     */
    const KUBERNETES_ONLY =
        /^(kubernetes:|docker-build:|esteira:|pulumi:pulumi:|pulumi:providers:(kubernetes|docker-build)$|pulumi-nodejs:dynamic:Resource$)/;

    // The stacks pr-stack.sh runs with it: the pull requests' templates.
    for (const stack of [PR_STACK, LOCAL_PR_STACK]) {
        it(`${stack} registers, reads and invokes nothing but Kubernetes objects and images: no DigitalOcean or GitHub API, which limit a token's requests`, async () => {
            const { recorder } = await evaluated(stack);
            assert.deepStrictEqual([...new Set(touchedTypes(recorder).filter((type) => !KUBERNETES_ONLY.test(type)))], []);
        });
    }

    it("only pr-stack.sh runs with it: stacks that write their state after every step (local, and deploy.sh's, with DigitalOcean and GitHub) keep the CLI's default", () => {
        const scripts = path.join(REPO_ROOT, "scripts");
        const users = fs
            .readdirSync(scripts)
            .filter((file) => file.endsWith(".sh") && file !== "delivery-lib.sh")
            .filter((file) => fs.readFileSync(path.join(scripts, file), "utf8").includes("kubernetes_parallel"));
        assert.deepStrictEqual(users, ["pr-stack.sh"]);
    });
});
