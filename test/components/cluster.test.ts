import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import { Cluster, DigitalOceanClusterArgs } from "../../components/cluster";
import { isSecretInput, isSecretOutput, promiseOf, Recorder } from "../mocks";

const PROVIDER = "pulumi:providers:kubernetes";

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
            for (const args of [{ mode: "kubeconfig" as const }, { mode: "stack" as const, stack: "homolog" }]) {
                const { provider } = await build(args);
                // Provider inputs reach the engine JSON-encoded.
                assert.strictEqual(provider.inputs.enableSecretMutable, "true", `${args.mode}: enableSecretMutable`);
            }
        });

        it("registers esteira:cluster:Cluster with its provider as a child", async () => {
            const { recorder, provider } = await build({ mode: "kubeconfig" });
            assert.strictEqual(recorder.parentOf(provider)?.urn, recorder.get("esteira:cluster:Cluster", "homolog").urn);
        });

        it("uses the ambient kubeconfig when none is given", async () => {
            const { provider, cluster } = await build({ mode: "kubeconfig" });
            assert.strictEqual(provider.inputs.kubeconfig, undefined);
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

        it("keeps given kubeconfig contents secret, in the provider and the output", async () => {
            const { provider, cluster } = await build({ mode: "kubeconfig", kubeconfig: "apiVersion: v1", clusterIdentifier: "lab" });
            assert.ok(isSecretInput(provider, "kubeconfig"), "provider kubeconfig must be secret");
            assert.ok(await isSecretOutput(cluster.kubeconfig), "kubeconfig output must be secret");
            assert.strictEqual(provider.inputs.clusterIdentifier, "lab");
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

        it("autoscales the node pool without pinning a node count, and ignores the count it reads back", async () => {
            const { doks } = await buildDo();
            assert.deepStrictEqual(doks.inputs.nodePool, {
                name: "esteira-homolog-pool",
                size: "s-2vcpu-4gb",
                autoScale: true,
                minNodes: 2,
                maxNodes: 5,
            });
            assert.ok(doks.ignoreChanges.includes("nodePool.nodeCount"), "the autoscaled node count must not cause a diff");
        });

        it("uses a fixed node count when minNodes equals maxNodes", async () => {
            const { doks } = await buildDo({ nodePool: { size: "s-1vcpu-2gb", minNodes: 1, maxNodes: 1, name: "small" } });
            assert.deepStrictEqual(doks.inputs.nodePool, { name: "small", size: "s-1vcpu-2gb", autoScale: false, nodeCount: 1 });
            assert.deepStrictEqual(doks.ignoreChanges, []);
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
    });

    describe("stack mode", () => {
        it("reads kubeconfig and cluster id from the owning stack, and creates no cluster", async () => {
            const { recorder, cluster, provider } = await build({ mode: "stack", stack: "homolog" });
            const reference = recorder.reads.find((r) => r.type === "pulumi:pulumi:StackReference");
            assert.strictEqual(reference?.id, "organization/esteira/homolog");
            assert.deepStrictEqual(
                recorder.resources.filter((r) => r.type.startsWith("digitalocean:")),
                [],
            );
            assert.strictEqual(provider.inputs.clusterIdentifier, "homolog-doks-id");
            assert.ok(isSecretInput(provider, "kubeconfig"), "the shared kubeconfig stays secret");
            assert.ok(await isSecretOutput(cluster.kubeconfig));
            assert.strictEqual(cluster.kubernetesCluster, undefined, "nothing is deletedWith a cluster this stack does not own");
        });
    });
});
