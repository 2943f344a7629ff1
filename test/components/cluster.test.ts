import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { Cluster, DigitalOceanClusterArgs, kubeconfigCluster } from "../../components/cluster";
import { isSecretInput, isSecretOutput, promiseOf, Recorder, TENANT_KUBECONFIG } from "../mocks";

const PROVIDER = "pulumi:providers:kubernetes";
const NODE_POOL = "digitalocean:index/kubernetesNodePool:KubernetesNodePool";

async function build(args: ConstructorParameters<typeof Cluster>[1]) {
    const recorder = new Recorder();
    await recorder.install("test");
    const cluster = new Cluster("homolog", args);
    await recorder.settle();
    return { recorder, cluster, provider: recorder.get(PROVIDER, "homolog-provider") };
}

describe("Cluster", () => {
    describe("kubeconfig mode", () => {
        it("updates Secrets in place: a new token or URL never deletes the Secret the workloads read", async () => {
            const { provider } = await build({ mode: "kubeconfig" });
            // Provider inputs reach the engine JSON-encoded.
            assert.strictEqual(provider.inputs.enableSecretMutable, "true");
        });

        it("registers esteira:cluster:Cluster with its provider as a child", async () => {
            const { recorder, provider } = await build({ mode: "kubeconfig" });
            assert.strictEqual(recorder.parentOf(provider)?.urn, recorder.get("esteira:cluster:Cluster", "homolog").urn);
        });

        it("uses the ambient kubeconfig when none is given", async () => {
            const { provider, cluster } = await build({ mode: "kubeconfig" });
            assert.strictEqual(provider.inputs.kubeconfig, undefined);
            assert.strictEqual(provider.inputs.deleteUnreachable, undefined, "an outage must not drop objects from the state");
            assert.strictEqual(provider.inputs.clusterIdentifier, "kubeconfig");
            assert.strictEqual(cluster.kubeconfig, undefined);
        });

        it("reads a kubeconfig file, expanding ~, with a context as the identifier", async () => {
            const { provider, cluster } = await build({ mode: "kubeconfig", kubeconfigPath: "~/.kube/local", context: "kind-esteira" });
            assert.strictEqual(provider.inputs.kubeconfig, path.join(os.homedir(), ".kube/local"));
            assert.strictEqual(provider.inputs.context, "kind-esteira");
            assert.strictEqual(provider.inputs.clusterIdentifier, "kind-esteira");
            assert.strictEqual(await promiseOf(cluster.clusterIdentifier), "kind-esteira");
        });

        it("a kubeconfig file named in the stack file wins over esteira:kubeconfig, as the reference says", async () => {
            const { provider, cluster } = await build({
                mode: "kubeconfig",
                kubeconfigPath: "/etc/kubeconfig",
                kubeconfig: "apiVersion: v1",
            });
            assert.strictEqual(provider.inputs.kubeconfig, "/etc/kubeconfig");
            assert.strictEqual(cluster.kubeconfig, undefined, "no kubeconfig output the provider does not use");
        });

        it("keeps given kubeconfig contents secret, in the provider and the output", async () => {
            const { provider, cluster } = await build({ mode: "kubeconfig", kubeconfig: TENANT_KUBECONFIG, clusterIdentifier: "lab" });
            assert.ok(isSecretInput(provider, "kubeconfig"), "provider kubeconfig must be secret");
            assert.ok(await isSecretOutput(cluster.kubeconfig), "kubeconfig output must be secret");
            assert.strictEqual(provider.inputs.clusterIdentifier, "lab");
        });

        it("takes the API server and CA from given contents, so the stack's identities get kubeconfigs (the local base's tenants)", async () => {
            const contents = JSON.stringify({
                ...JSON.parse(TENANT_KUBECONFIG),
                clusters: [
                    ...JSON.parse(TENANT_KUBECONFIG).clusters,
                    { name: "lab", cluster: { server: "https://127.0.0.1:6443", "certificate-authority-data": "TEFCLUNB" } },
                ],
                contexts: [...JSON.parse(TENANT_KUBECONFIG).contexts, { name: "lab", context: { cluster: "lab", user: "review" } }],
            });
            const current = (await build({ mode: "kubeconfig", kubeconfig: contents })).cluster;
            assert.strictEqual(await promiseOf(current.endpoint), "https://review.k8s.ondigitalocean.com");
            assert.strictEqual(await promiseOf(current.certificateAuthorityData), "UkVWSUVXLUNB");
            const chosen = (await build({ mode: "kubeconfig", kubeconfig: contents, context: "lab" })).cluster;
            assert.strictEqual(await promiseOf(chosen.endpoint), "https://127.0.0.1:6443", "the context the provider uses");
            assert.strictEqual(await promiseOf(chosen.certificateAuthorityData), "TEFCLUNB");
            assert.strictEqual((await build({ mode: "kubeconfig", kubeconfigPath: "~/.kube/local" })).cluster.endpoint, undefined);
        });

        it("fails, saying to flatten it, when given contents name no inline CA", async () => {
            const recorder = new Recorder();
            await recorder.install("test");
            const cluster = new Cluster("local", { mode: "kubeconfig", kubeconfig: "apiVersion: v1\nkind: Config\n" });
            const endpoint = promiseOf(cluster.endpoint);
            endpoint.catch(() => undefined);
            await recorder.settle().catch(() => undefined);
            await assert.rejects(endpoint, (err: Error) => {
                assert.ok(
                    err.message.endsWith(
                        "local: esteira:kubeconfig names no server with inline certificate-authority-data for its current context; give it flattened (`kubectl config view --raw --flatten`)",
                    ),
                    err.message,
                );
                return true;
            });
        });
    });

    describe("digitalocean mode", () => {
        const args = (extra: Partial<DigitalOceanClusterArgs> = {}): DigitalOceanClusterArgs => ({
            mode: "digitalocean",
            apiToken: "do-token",
            name: "esteira-homolog",
            region: "nyc1",
            version: "1.33.1-do.0",
            nodePool: { size: "s-2vcpu-4gb", minNodes: 2, maxNodes: 5 },
            ...extra,
        });
        // The mock cluster reports an endpoint and CA like DOKS does, and a rawConfig that must never be used.
        const fakeState = (mock: { type: string; inputs: any }) =>
            mock.type === "digitalocean:index/kubernetesCluster:KubernetesCluster"
                ? {
                      endpoint: "https://abc.k8s.ondigitalocean.com",
                      kubeConfigs: [{ clusterCaCertificate: "Q0EtREFUQQ==", rawConfig: "EXPIRING-RAW-CONFIG", token: "expiring" }],
                  }
                : undefined;

        async function buildDo(extra: Partial<DigitalOceanClusterArgs> = {}) {
            const recorder = new Recorder(fakeState);
            await recorder.install("test");
            const cluster = new Cluster("homolog", args(extra));
            await recorder.settle();
            return {
                recorder,
                cluster,
                doks: recorder.get("digitalocean:index/kubernetesCluster:KubernetesCluster", "homolog-cluster"),
                vpc: recorder.get("digitalocean:index/vpc:Vpc", "homolog-vpc"),
                provider: recorder.get(PROVIDER, "homolog-provider"),
            };
        }

        it("creates a VPC and a DOKS cluster in it, children of the component", async () => {
            const { recorder, doks, vpc } = await buildDo();
            const component = recorder.get("esteira:cluster:Cluster", "homolog");
            assert.strictEqual(recorder.parentOf(doks)?.urn, component.urn);
            assert.strictEqual(recorder.parentOf(vpc)?.urn, component.urn);
            assert.deepStrictEqual(vpc.inputs, { name: "esteira-homolog-vpc", region: "nyc1" });
            assert.strictEqual(doks.inputs.vpcUuid, "homolog-vpc-id");
            assert.strictEqual(doks.inputs.region, "nyc1");
            assert.strictEqual(doks.inputs.version, "1.33.1-do.0");
        });

        it("deletes the cluster's load balancers and volumes with it", async () => {
            const { doks } = await buildDo();
            assert.strictEqual(doks.inputs.destroyAllAssociatedResources, true);
        });

        it("pins the version, no HA control plane and a sunday 04:00 maintenance window by default", async () => {
            const { doks } = await buildDo();
            assert.strictEqual(doks.inputs.ha, false);
            assert.strictEqual(doks.inputs.autoUpgrade, false);
            assert.deepStrictEqual(doks.inputs.maintenancePolicy, { day: "sunday", startTime: "04:00" });
            assert.strictEqual(doks.protect, false);
        });

        it("takes HA, auto-upgrade, maintenance, VPC range, tags and protect", async () => {
            const { doks, vpc } = await buildDo({
                ha: true,
                autoUpgrade: true,
                maintenance: { day: "saturday", startTime: "02:30" },
                vpcIpRange: "10.20.0.0/16",
                tags: ["team-d"],
                protect: true,
            });
            assert.strictEqual(doks.inputs.ha, true);
            assert.strictEqual(doks.inputs.autoUpgrade, true);
            assert.deepStrictEqual(doks.inputs.maintenancePolicy, { day: "saturday", startTime: "02:30" });
            assert.strictEqual(vpc.inputs.ipRange, "10.20.0.0/16");
            assert.deepStrictEqual(doks.inputs.tags, ["team-d"]);
            assert.strictEqual(doks.protect, true, "a protected environment's cluster carries protect");
        });

        it("runs the workers in a node pool of their own, autoscaled without pinning a node count, ignoring the count it reads back", async () => {
            const { recorder, doks } = await buildDo();
            const workers = recorder.get(NODE_POOL, "homolog-workers");
            assert.strictEqual(recorder.parentOf(workers)?.urn, recorder.get("esteira:cluster:Cluster", "homolog").urn);
            assert.deepStrictEqual(workers.inputs, {
                clusterId: "homolog-cluster-id",
                name: "esteira-homolog-workers-s-2vcpu-4gb",
                size: "s-2vcpu-4gb",
                autoScale: true,
                minNodes: 2,
                maxNodes: 5,
            });
            assert.deepStrictEqual(
                workers.ignoreChanges,
                ["nodeCount", "actualNodeCount"],
                "the autoscaled node count must not cause a diff",
            );
            assert.strictEqual(workers.deletedWith, doks.urn, "deleting the cluster deletes its pools");
            assert.strictEqual(workers.protect, false, "a new size replaces the pool");
        });

        it("keeps the cluster's own pool small and fixed: one s-2vcpu-4gb node by default, or what systemPool says", async () => {
            const { doks } = await buildDo();
            assert.deepStrictEqual(doks.inputs.nodePool, {
                name: "esteira-homolog-pool",
                size: "s-2vcpu-4gb",
                autoScale: false,
                nodeCount: 1,
            });
            assert.deepStrictEqual(doks.ignoreChanges, []);
            const custom = await buildDo({ systemPool: { size: "s-4vcpu-8gb", nodeCount: 2, name: "system" } });
            assert.deepStrictEqual(custom.doks.inputs.nodePool, { name: "system", size: "s-4vcpu-8gb", autoScale: false, nodeCount: 2 });
        });

        it("a new worker size is a new pool with another name, so it comes up before the old one drains", async () => {
            const { recorder } = await buildDo({ nodePool: { size: "s-1vcpu-2gb", minNodes: 1, maxNodes: 1, name: "small" } });
            const workers = recorder.get(NODE_POOL, "homolog-workers");
            assert.deepStrictEqual(workers.inputs, {
                clusterId: "homolog-cluster-id",
                name: "small-s-1vcpu-2gb",
                size: "s-1vcpu-2gb",
                autoScale: false,
                nodeCount: 1,
            });
            assert.deepStrictEqual(workers.ignoreChanges, []);
            assert.strictEqual(workers.deleteBeforeReplace, false);
        });

        it("refuses a node pool whose minNodes exceeds maxNodes, as the config does", async () => {
            await assert.rejects(buildDo({ nodePool: { size: "s-1vcpu-2gb", minNodes: 3, maxNodes: 2 } }), {
                message: "homolog: nodePool: minNodes (3) must be <= maxNodes (2)",
            });
        });

        it("builds the kubeconfig from endpoint, CA and API token, never from the expiring rawConfig", async () => {
            const { cluster } = await buildDo();
            const kubeconfig = JSON.parse((await promiseOf(cluster.kubeconfig))!);
            assert.deepStrictEqual(kubeconfig.clusters, [
                {
                    name: "esteira-homolog",
                    cluster: { server: "https://abc.k8s.ondigitalocean.com", "certificate-authority-data": "Q0EtREFUQQ==" },
                },
            ]);
            assert.deepStrictEqual(kubeconfig.users, [{ name: "esteira-homolog-token", user: { token: "do-token" } }]);
            assert.strictEqual(kubeconfig["current-context"], "esteira-homolog");
            assert.ok(!JSON.stringify(kubeconfig).includes("EXPIRING"), "the 7-day token of rawConfig must not be used");
        });

        it("keeps the kubeconfig secret and gives the provider the cluster id as clusterIdentifier", async () => {
            const { cluster, provider } = await buildDo();
            assert.ok(await isSecretOutput(cluster.kubeconfig), "kubeconfig output must be secret");
            assert.ok(isSecretInput(provider, "kubeconfig"), "provider kubeconfig must be secret");
            assert.strictEqual(provider.inputs.clusterIdentifier, "homolog-cluster-id");
            assert.strictEqual(await promiseOf(cluster.clusterIdentifier), "homolog-cluster-id");
            assert.strictEqual(await promiseOf(cluster.vpcId), "homolog-vpc-id");
        });

        it("never drops objects from the state because the cluster does not answer: its objects go with it (deletedWith)", async () => {
            const { provider } = await buildDo();
            assert.strictEqual(provider.inputs.deleteUnreachable, undefined);
        });
    });

    describe("digitalocean mode, token from the environment", () => {
        const fakeState = (mock: { type: string; inputs: any }) =>
            mock.type === "digitalocean:index/kubernetesCluster:KubernetesCluster"
                ? { endpoint: "https://abc.k8s.ondigitalocean.com", kubeConfigs: [{ clusterCaCertificate: "Q0EtREFUQQ==" }] }
                : undefined;
        const args: DigitalOceanClusterArgs = {
            mode: "digitalocean",
            tokenFromEnvironment: true,
            name: "esteira-review",
            region: "nyc1",
            version: "1.33.1-do.0",
            nodePool: { size: "s-2vcpu-4gb", minNodes: 1, maxNodes: 3 },
        };

        it("gives the provider a kubeconfig that holds no credential: an exec plugin reads DIGITALOCEAN_TOKEN at run time", async () => {
            const recorder = new Recorder(fakeState);
            await recorder.install("test");
            const cluster = new Cluster("review", args);
            await recorder.settle();
            const provider = recorder.get(PROVIDER, "review-provider");
            const kubeconfig = JSON.parse(provider.inputs.kubeconfig);
            assert.deepStrictEqual(kubeconfig.clusters[0].cluster, {
                server: "https://abc.k8s.ondigitalocean.com",
                "certificate-authority-data": "Q0EtREFUQQ==",
            });
            const exec = kubeconfig.users[0].user.exec;
            assert.strictEqual(exec.apiVersion, "client.authentication.k8s.io/v1");
            assert.strictEqual(exec.interactiveMode, "Never");
            assert.deepStrictEqual([exec.command, exec.args[0]], ["sh", "-c"]);
            assert.match(exec.args[1], /"\$DIGITALOCEAN_TOKEN"/, "the token is read from the environment when a client needs it");
            assert.ok(!JSON.stringify(kubeconfig).includes('token":"do'), "no token is written into the kubeconfig");
            assert.strictEqual(provider.inputs.clusterIdentifier, "review-cluster-id");
            assert.strictEqual(await promiseOf(cluster.endpoint), "https://abc.k8s.ondigitalocean.com");
            assert.strictEqual(await promiseOf(cluster.certificateAuthorityData), "Q0EtREFUQQ==");
        });

        it("the exec plugin prints an ExecCredential with the token, and fails naming the variable when it is unset", async () => {
            const recorder = new Recorder(fakeState);
            await recorder.install("test");
            new Cluster("review", args);
            await recorder.settle();
            const exec = JSON.parse(recorder.get(PROVIDER, "review-provider").inputs.kubeconfig).users[0].user.exec;
            const run = (env: Record<string, string>) =>
                spawnSync(exec.command, exec.args, { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8" });
            const ok = run({ DIGITALOCEAN_TOKEN: "dop_v1_abc" });
            assert.strictEqual(ok.status, 0);
            assert.deepStrictEqual(JSON.parse(ok.stdout), {
                apiVersion: "client.authentication.k8s.io/v1",
                kind: "ExecCredential",
                status: { token: "dop_v1_abc" },
            });
            const unset = run({});
            assert.notStrictEqual(unset.status, 0);
            assert.match(unset.stderr, /^DIGITALOCEAN_TOKEN is not set/);
            assert.strictEqual(unset.stdout, "");
        });

        it("refuses to build a token kubeconfig without a token", async () => {
            await new Recorder(fakeState).install("test");
            assert.throws(() => new Cluster("review", { ...args, tokenFromEnvironment: false }), {
                message: "review: apiToken: is required unless tokenFromEnvironment is true",
            });
        });
    });

    describe("kubeconfigCluster", () => {
        it("finds the current context's server and CA data, and nothing in a kubeconfig without them", () => {
            assert.deepStrictEqual(kubeconfigCluster(TENANT_KUBECONFIG), {
                server: "https://review.k8s.ondigitalocean.com",
                certificateAuthorityData: "UkVWSUVXLUNB",
            });
            assert.strictEqual(kubeconfigCluster("apiVersion: v1\nkind: Config\n"), undefined);
            assert.strictEqual(kubeconfigCluster(": not yaml: ["), undefined);
        });
    });
});
