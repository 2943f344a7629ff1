import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import {
    EnvironmentNamespace,
    existingNamespaceMessage,
    NamespaceMetadata,
    OWNER_ANNOTATION,
    secretChecksum,
} from "../../components/environment-namespace";
import { isSecretInput, isSecretOutput, promiseOf, Recorder, FakeResource } from "../mocks";

const NAMESPACE = "kubernetes:core/v1:Namespace";
const SECRET = "kubernetes:core/v1:Secret";
const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

const RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.33",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "latest",
};

const baseArgs = {
    namespace: "shop-homolog",
    environment: "homolog",
    registry: { server: "ghcr.io", username: "bot", token: "s3cret" },
};

async function build(extra: Partial<ConstructorParameters<typeof EnvironmentNamespace>[1]> = {}) {
    const recorder = new Recorder();
    await recorder.install("test");
    const component = new EnvironmentNamespace("homolog", { ...baseArgs, ...extra });
    await recorder.settle();
    return { recorder, component };
}

describe("EnvironmentNamespace", () => {
    it("registers esteira:kubernetes:EnvironmentNamespace with the namespace and pull secret as children", async () => {
        const { recorder } = await build();
        const component = recorder.get("esteira:kubernetes:EnvironmentNamespace", "homolog");
        assert.strictEqual(recorder.parentOf(recorder.get(NAMESPACE, "homolog-namespace"))?.urn, component.urn);
        assert.strictEqual(recorder.parentOf(recorder.get(SECRET, "homolog-pull-secret"))?.urn, component.urn);
    });

    it("labels the namespace with its environment", async () => {
        const { recorder, component } = await build({ labels: { team: "checkout" } });
        const namespace = recorder.get(NAMESPACE, "homolog-namespace");
        assert.deepStrictEqual(namespace.inputs.metadata, {
            name: "shop-homolog",
            labels: { "app.kubernetes.io/managed-by": "pulumi", environment: "homolog", team: "checkout", ...RESTRICTED },
            annotations: { "pulumi.com/patchForce": "true", [OWNER_ANNOTATION]: "organization/esteira/test" },
        });
        assert.strictEqual(await promiseOf(component.namespaceName), "shop-homolog");
    });

    it("enforces the restricted Pod Security profile (pinned), warns and audits against the latest, whatever labels the caller adds", async () => {
        const { recorder } = await build({ labels: { "pod-security.kubernetes.io/enforce": "privileged" } });
        const labels = recorder.get(NAMESPACE, "homolog-namespace").inputs.metadata.labels;
        for (const [key, value] of Object.entries(RESTRICTED)) assert.strictEqual(labels[key], value, key);
        for (const secret of recorder.all(SECRET)) {
            assert.ok(
                !("pod-security.kubernetes.io/enforce-version" in secret.inputs.metadata.labels),
                `${secret.name} carries no namespace-only label`,
            );
        }
    });

    describe("network policies", () => {
        const policies = (recorder: Recorder) =>
            Object.fromEntries(recorder.all(NETWORK_POLICY).map((p) => [p.inputs.metadata.name, p.inputs.spec]));

        it("denies every ingress and egress of every pod by default, once the namespace's allows are in", async () => {
            const { recorder } = await build({ database: { cidr: "10.116.0.0/20", ports: [25060] } });
            assert.deepStrictEqual(policies(recorder)["default-deny"], { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
            const deny = recorder.get(NETWORK_POLICY, "homolog-default-deny");
            for (const allow of recorder.all(NETWORK_POLICY).filter((p) => p !== deny)) {
                assert.ok(deny.dependencies.includes(allow.urn), `default-deny waits for ${allow.name}`);
            }
            for (const policy of recorder.all(NETWORK_POLICY)) {
                assert.strictEqual(policy.inputs.metadata.namespace, "shop-homolog", `${policy.name} is in the namespace`);
                // The provider deletes first by itself when a replacement keeps the name and namespace;
                // in a new namespace the new policies go in before the old ones go.
                assert.strictEqual(policy.deleteBeforeReplace, false, `${policy.name} leaves delete-first to the provider`);
            }
        });

        it("lets every pod resolve names through kube-dns in kube-system, UDP and TCP 53, and nothing else there", async () => {
            const { recorder } = await build();
            assert.deepStrictEqual(policies(recorder)["allow-dns"], {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [
                    {
                        to: [
                            {
                                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                            },
                        ],
                        ports: [
                            { protocol: "UDP", port: 53 },
                            { protocol: "TCP", port: 53 },
                        ],
                    },
                ],
            });
        });

        it("lets pods connect to the namespace's own pods (whose ingress policies admit only their ports)", async () => {
            const { recorder } = await build();
            assert.deepStrictEqual(policies(recorder)["allow-namespace-egress"], {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [{ to: [{ podSelector: {} }] }],
            });
        });

        it("without a database or further egress, allows no other egress", async () => {
            const { recorder } = await build();
            assert.deepStrictEqual(Object.keys(policies(recorder)).sort(), ["allow-dns", "allow-namespace-egress", "default-deny"]);
        });

        it("allows the database's range on its ports, and each further destination on its ports", async () => {
            const { recorder } = await build({
                database: { cidr: "10.116.0.0/20", ports: [25060, 25061] },
                egress: [
                    { cidr: "203.0.113.0/24", ports: [443] },
                    { cidr: "0.0.0.0/0", ports: [4317, 4318] },
                ],
            });
            const egress = (cidr: string, ports: number[]) => ({
                to: [{ ipBlock: { cidr } }],
                ports: ports.map((port) => ({ protocol: "TCP", port })),
            });
            assert.deepStrictEqual(policies(recorder)["allow-database"], {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [egress("10.116.0.0/20", [25060, 25061])],
            });
            assert.deepStrictEqual(policies(recorder)["allow-egress"], {
                podSelector: {},
                policyTypes: ["Egress"],
                egress: [egress("203.0.113.0/24", [443]), egress("0.0.0.0/0", [4317, 4318])],
            });
        });
    });

    it("creates a dockerconfigjson pull secret for the registry, in the namespace", async () => {
        const { recorder, component } = await build();
        const secret = recorder.get(SECRET, "homolog-pull-secret");
        assert.strictEqual(secret.inputs.type, "kubernetes.io/dockerconfigjson");
        assert.strictEqual(secret.inputs.metadata.name, "registry-credentials");
        assert.strictEqual(secret.inputs.metadata.namespace, "shop-homolog");
        assert.deepStrictEqual(JSON.parse(secret.inputs.stringData[".dockerconfigjson"]), {
            auths: { "ghcr.io": { username: "bot", password: "s3cret", auth: Buffer.from("bot:s3cret").toString("base64") } },
        });
        assert.strictEqual(await promiseOf(component.pullSecretName), "registry-credentials");
    });

    it("without a registry (a base stack running no service), creates no pull secret", async () => {
        const { recorder, component } = await build({ registry: undefined });
        assert.deepStrictEqual(recorder.all(SECRET), []);
        assert.strictEqual(component.pullSecretName, undefined);
        recorder.get(NAMESPACE, "homolog-namespace");
    });

    it("takes back, on the next up, whatever another field manager changed in what it owns (patchForce)", async () => {
        const { recorder } = await build({ secrets: { "db-credentials": { DATABASE_URL: "postgresql://u:p@db/app" } } });
        for (const owned of [...recorder.all(NAMESPACE), ...recorder.all(SECRET)]) {
            assert.strictEqual(owned.inputs.metadata.annotations?.["pulumi.com/patchForce"], "true", `${owned.type} ${owned.name}`);
        }
    });

    it("keeps the token secret in inputs and outputs", async () => {
        const { recorder } = await build();
        const secret = recorder.get(SECRET, "homolog-pull-secret");
        assert.ok(isSecretInput(secret, "stringData"), "stringData must be secret");
        assert.ok(!isSecretInput(secret, "metadata.name"), "the secret's name is not secret");
        for (const output of ["data", "stringData"]) {
            assert.ok(secret.additionalSecretOutputs.includes(output), `${output} must be a secret output`);
        }
    });

    it("takes the pull secret's name from the caller (team A calls it ghcr-secret)", async () => {
        const { recorder } = await build({
            registry: { server: "ghcr.io", username: "bot", token: "s3cret", pullSecretName: "ghcr-secret" },
        });
        assert.strictEqual(recorder.get(SECRET, "homolog-pull-secret").inputs.metadata.name, "ghcr-secret");
    });

    it("creates opaque secrets in the namespace with secret values", async () => {
        const { recorder, component } = await build({ secrets: { "db-credentials": { DATABASE_URL: "postgresql://u:p@db/app" } } });
        const secret = recorder.get(SECRET, "homolog-secret-db-credentials");
        assert.deepStrictEqual(secret.inputs.metadata, {
            name: "db-credentials",
            namespace: "shop-homolog",
            labels: { "app.kubernetes.io/managed-by": "pulumi", environment: "homolog" },
            annotations: { "pulumi.com/patchForce": "true" },
        });
        assert.strictEqual(secret.inputs.type, "Opaque");
        assert.deepStrictEqual(secret.inputs.stringData, { DATABASE_URL: "postgresql://u:p@db/app" });
        assert.ok(isSecretInput(secret, "stringData"), "the values must be secret");
        assert.strictEqual(await promiseOf(component.secretNames["db-credentials"]), "db-credentials");
    });

    it("gives each opaque secret a checksum that changes with its data, is not secret and does not reveal it", async () => {
        const url = "postgresql://u:p@db/app";
        const { component } = await build({ secrets: { "db-credentials": { DATABASE_URL: url } } });
        const checksum = component.secretChecksums["db-credentials"];
        assert.ok(!(await isSecretOutput(checksum)), "a preview shows the checksum change");
        const value = (await promiseOf(checksum))!;
        assert.match(value, /^[0-9a-f]{32}$/);
        assert.ok(!value.includes("postgresql"));
        assert.strictEqual(
            await promiseOf(secretChecksum({ DATABASE_URL: pulumi.secret(url) })),
            value,
            "the same data, the same checksum",
        );
        const other = await promiseOf(secretChecksum({ DATABASE_URL: "postgresql://u:p@db/other" }));
        assert.notStrictEqual(other, value, "other data, another checksum");
    });

    describe("a namespace that exists already", () => {
        const STACK = "organization/esteira/homolog";

        async function withLookup(found: NamespaceMetadata | null | undefined, extra: { adoptNamespace?: boolean } = {}) {
            const asked: string[] = [];
            const recorder = new Recorder();
            await recorder.install("homolog");
            const component = new EnvironmentNamespace("homolog", {
                ...baseArgs,
                ...extra,
                stack: STACK,
                lookUpNamespace: (name) =>
                    pulumi.output(name).apply((wanted) => {
                        asked.push(wanted);
                        return found;
                    }),
            });
            const name = promiseOf(component.namespaceName).then(
                () => undefined,
                (err: Error) => err,
            );
            await recorder.settle();
            return { recorder, asked, error: await name, namespaces: recorder.all(NAMESPACE) };
        }

        it("is refused, before the namespace is registered, when another stack's or nobody's", async () => {
            for (const found of [
                {},
                { annotations: { [OWNER_ANNOTATION]: "organization/esteira/prod" } },
                { labels: { environment: "homolog" } },
            ]) {
                const { asked, error, namespaces } = await withLookup(found);
                assert.deepStrictEqual(asked, ["shop-homolog"]);
                // The SDK prefixes where it met the error (the namespace's name, inside its metadata).
                assert.ok(
                    error?.message.endsWith(existingNamespaceMessage("homolog", "shop-homolog")),
                    `${JSON.stringify(found)}: ${error}`,
                );
                assert.deepStrictEqual(namespaces, [], "nothing is registered");
            }
            assert.strictEqual(
                existingNamespaceMessage("homolog", "team-x"),
                'homolog: namespace: "team-x" exists already and this stack did not create it: creating it would take it over, and the stack would delete it, with everything in it, when it goes; name a namespace of the stack\'s own, or set esteira:adoptNamespace: true to use it without ever deleting it',
            );
        });

        it("names the keys that name and adopt it, for a namespace of esteira:namespaces", async () => {
            const keys = { namespace: "namespaces.payments", adopt: "namespaces.payments.adoptNamespace" };
            const message =
                'homolog: namespaces.payments: "shop-homolog-payments" exists already and this stack did not create it: creating it would take it over, and the stack would delete it, with everything in it, when it goes; name a namespace of the stack\'s own, or set namespaces.payments.adoptNamespace: true to use it without ever deleting it';
            assert.strictEqual(existingNamespaceMessage("homolog", "shop-homolog-payments", keys), message);
            const recorder = new Recorder();
            await recorder.install("homolog");
            const component = new EnvironmentNamespace("homolog-payments", {
                ...baseArgs,
                namespace: "shop-homolog-payments",
                stack: STACK,
                configKeys: keys,
                lookUpNamespace: () => pulumi.output({}),
            });
            const error = promiseOf(component.namespaceName).then(
                () => undefined,
                (err: Error) => err,
            );
            await recorder.settle();
            assert.ok((await error)?.message.endsWith(message), `${await error}`);
            assert.deepStrictEqual(recorder.all(NAMESPACE), [], "nothing is registered");
        });

        it("is this stack's own when marked with its name, or labelled by esteira for this environment before the mark existed", async () => {
            for (const found of [
                { annotations: { [OWNER_ANNOTATION]: STACK } },
                { labels: { "app.kubernetes.io/managed-by": "pulumi", environment: "homolog" } },
            ]) {
                const { error, namespaces } = await withLookup(found);
                assert.strictEqual(error, undefined, JSON.stringify(found));
                assert.strictEqual(namespaces.length, 1);
            }
        });

        it("is created when absent, or when the cluster cannot tell (the provider reports an unreachable cluster)", async () => {
            for (const found of [null, undefined]) {
                const { error, namespaces } = await withLookup(found);
                assert.strictEqual(error, undefined);
                assert.strictEqual(namespaces[0].inputs.metadata.annotations[OWNER_ANNOTATION], STACK, "marked as this stack's");
                assert.strictEqual(namespaces[0].retainOnDelete, false, "a namespace the stack creates goes with it");
            }
        });

        it("is used, unmarked, never looked up, waited on or deleted, when the stack says adoptNamespace", async () => {
            const { asked, namespaces } = await withLookup({}, { adoptNamespace: true });
            assert.deepStrictEqual(asked, []);
            // No owner mark, no patchForce; no await, which would watch namespaces (a pull request's identity may not).
            assert.deepStrictEqual(namespaces[0].inputs.metadata.annotations, { "pulumi.com/skipAwait": "true" });
            assert.strictEqual(namespaces[0].retainOnDelete, true, "destroying the stack leaves the namespace");
        });
    });

    describe("deletedWith", () => {
        const withOwner = async (adoptNamespace: boolean) => {
            const recorder = new Recorder();
            await recorder.install("test");
            const owner = new FakeResource("owner");
            const component = new EnvironmentNamespace(
                "homolog",
                {
                    namespace: "shop-homolog",
                    environment: "homolog",
                    adoptNamespace,
                    registry: { server: "ghcr.io", username: "bot", token: "t" },
                    secrets: { extra: { KEY: "v" } },
                },
                { deletedWith: owner },
            );
            await recorder.settle();
            const objects = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
            // Namespace, pull secret, the extra secret and three network policies.
            assert.strictEqual(objects.length, 6);
            const namespace = recorder.get(NAMESPACE, "homolog-namespace");
            return {
                component,
                owner,
                ownerUrn: recorder.get("test:index:Cluster", "owner").urn,
                namespace,
                contents: objects.filter((r) => r !== namespace),
            };
        };

        it("an owned namespace goes with the cluster, and everything in it goes with the namespace", async () => {
            const { component, namespace, ownerUrn, contents } = await withOwner(false);
            assert.strictEqual(namespace.deletedWith, ownerUrn, "the namespace must be deletedWith the cluster");
            for (const object of contents)
                assert.strictEqual(object.deletedWith, namespace.urn, `${object.name} must be deletedWith the namespace`);
            assert.ok(component.contentsDeletedWith, "workloads in it are deleted with it too");
        });

        it("in an adopted namespace, which destroy keeps, nothing goes with the namespace: only with the cluster", async () => {
            const { component, owner, namespace, ownerUrn, contents } = await withOwner(true);
            for (const object of [namespace, ...contents]) assert.strictEqual(object.deletedWith, ownerUrn, object.name);
            assert.strictEqual(component.contentsDeletedWith, owner);
        });
    });
});
