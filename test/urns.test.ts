/**
 * Resource identity: the URN of every resource each stack file registers (and of every resource
 * it reads), pinned. A live stack replaces whatever changes type, name or parent, so a refactor
 * must leave these lists exactly as they are; change a list only when a replacement is intended.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { evaluated, evaluateStack, stackCases } from "./mocks";

const PINNED = path.join(__dirname, "urns");

/**
 * Per type, the inputs whose change makes the provider replace the resource (ForceNew in the
 * DigitalOcean and GitHub providers' schemas; identity and immutable fields in Kubernetes). A
 * lower DOKS `version` replaces the cluster too, which no pin can show.
 */
export const REPLACING_INPUTS: Record<string, string[]> = {
    "digitalocean:index/vpc:Vpc": ["region", "ipRange"],
    "digitalocean:index/kubernetesCluster:KubernetesCluster": ["region", "vpcUuid", "nodePool.size", "clusterSubnet", "serviceSubnet"],
    "digitalocean:index/kubernetesNodePool:KubernetesNodePool": ["clusterId", "size"],
    "digitalocean:index/databaseCluster:DatabaseCluster": ["name", "engine", "privateNetworkUuid", "projectId"],
    "digitalocean:index/databaseDb:DatabaseDb": ["clusterId", "name"],
    "digitalocean:index/databaseUser:DatabaseUser": ["clusterId", "name"],
    "digitalocean:index/databaseFirewall:DatabaseFirewall": ["clusterId"],
    "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool": ["clusterId", "name", "dbName", "user", "mode", "size"],
    "digitalocean:index/certificate:Certificate": ["name", "type", "domains"],
    "digitalocean:index/dnsRecord:DnsRecord": ["domain", "type"],
    "digitalocean:index/spacesBucket:SpacesBucket": ["name", "region"],
    "github:index/repositoryEnvironment:RepositoryEnvironment": ["repository", "environment"],
    "kubernetes:core/v1:Namespace": ["metadata.name"],
    "kubernetes:core/v1:Secret": ["metadata.name", "metadata.namespace", "type"],
    "kubernetes:core/v1:Service": ["metadata.name", "metadata.namespace"],
    "kubernetes:apps/v1:Deployment": ["metadata.name", "metadata.namespace", "spec.selector"],
    "kubernetes:batch/v1:CronJob": ["metadata.name", "metadata.namespace"],
    "kubernetes:core/v1:PersistentVolumeClaim": ["metadata.name", "metadata.namespace", "spec.accessModes", "spec.storageClassName"],
};

function at(value: any, keyPath: string): unknown {
    return keyPath.split(".").reduce((node, key) => (node === undefined || node === null ? undefined : node[key]), value);
}

/** `<parent types $ type>::<name>` of each URN: the URN without the stack and project, which the engine adds. */
function identities(urns: string[]): string[] {
    return urns.map((urn) => urn.split("::").slice(2).join("::")).sort();
}

describe("resource identity (URNs) per stack file", () => {
    for (const { stack, file } of stackCases()) {
        it(`${file} registers exactly the pinned resources (test/urns/${stack}.txt)`, async () => {
            const { recorder } = await evaluated(stack);
            const actual = identities([...recorder.resources.map((r) => r.urn), ...recorder.reads.map((r) => r.urn)]);
            const pinFile = path.join(PINNED, `${stack}.txt`);
            // A new stack file starts with no pins: the message lists what to write into its file.
            assert.ok(fs.existsSync(pinFile), `test/urns/${stack}.txt is missing; after checking them, pin these:\n${actual.join("\n")}`);
            const pinned = fs.readFileSync(pinFile, "utf8").split("\n").filter(Boolean);
            assert.deepStrictEqual(actual, pinned, `${file}: a resource's type, name or parent changed; a live stack would replace it`);
        });
    }

    for (const { stack, file } of stackCases()) {
        it(`${file} keeps every input whose change would replace a resource (test/urns/${stack}.replacing.txt)`, async () => {
            const { recorder } = await evaluated(stack);
            const actual = recorder.resources
                .filter((r) => REPLACING_INPUTS[r.type])
                .flatMap((r) =>
                    REPLACING_INPUTS[r.type].map((key) => `${identities([r.urn])[0]} ${key}=${JSON.stringify(at(r.inputs, key))}`),
                )
                .sort();
            const pinFile = path.join(PINNED, `${stack}.replacing.txt`);
            assert.ok(
                fs.existsSync(pinFile),
                `test/urns/${stack}.replacing.txt is missing; after checking them, pin these:\n${actual.join("\n")}`,
            );
            const pinned = fs.readFileSync(pinFile, "utf8").split("\n").filter(Boolean);
            assert.deepStrictEqual(
                actual,
                pinned,
                `${file}: an input that forces a replacement changed; a live stack would replace the resource`,
            );
        });
    }

    it("setting esteira:environment renames no resource: components keep the stack's name, and alias the environment's", async () => {
        const { recorder } = await evaluateStack("homolog", { overrides: { "esteira:environment": "staging" } });
        const actual = identities([...recorder.resources.map((r) => r.urn), ...recorder.reads.map((r) => r.urn)]);
        const pinned = fs.readFileSync(path.join(PINNED, "homolog.txt"), "utf8").split("\n").filter(Boolean);
        assert.deepStrictEqual(actual, pinned);
        // A stack that set the environment before names were the stack's had its components named after it.
        for (const type of ["Cluster", "Database", "EnvironmentNamespace"]) {
            const component = recorder.resources.find((r) => r.type.endsWith(`:${type}`));
            assert.deepStrictEqual(component?.aliases, [{ name: "staging" }], `${type} aliases its former name`);
        }
        const { recorder: unchanged } = await evaluated("homolog");
        const components = unchanged.resources.filter((r) => r.type.startsWith("esteira:"));
        assert.ok(
            components.every((r) => r.aliases.length === 0),
            "no alias where the environment is the stack",
        );
    });
});
