import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import { Cluster } from "../../components/cluster";
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
});
