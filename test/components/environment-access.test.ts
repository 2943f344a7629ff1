import * as assert from "assert";
import {
    EnvironmentAccess,
    EnvironmentAccessArgs,
    SMOKE_TEST_RULES,
    TENANT_DEPLOYER,
    TENANT_DEPLOYER_RULES,
    TENANT_ISSUER_RULES,
} from "../../components/environment-access";
import { FakeResource, isSecretOutput, promiseOf, Recorder } from "../mocks";

const SA = "kubernetes:core/v1:ServiceAccount";
const SECRET = "kubernetes:core/v1:Secret";
const ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role";
const ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";
const CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";
const CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";

const endpoint = { server: "https://prod.k8s.example", certificateAuthorityData: "Q0EtREFUQQ==" };

async function build(args: Partial<EnvironmentAccessArgs> = {}, name = "prod") {
    const recorder = new Recorder();
    await recorder.install("test");
    const access = new EnvironmentAccess(name, { role: "environment", namespace: "esteira-prod", ...endpoint, ...args });
    await recorder.settle();
    return { recorder, access };
}

/** Every verb the rules grant on `group/resource`, e.g. `apps/deployments`, `/pods/portforward`. */
function verbs(rules: any[], resource: string): string[] {
    const [group, ...rest] = resource.split("/");
    return rules
        .filter((rule) => rule.apiGroups.includes(group) && rule.resources.includes(rest.join("/")))
        .flatMap((rule) => rule.verbs)
        .sort();
}

describe("EnvironmentAccess", () => {
    describe("an environment's own identity (role environment)", () => {
        it("registers esteira:kubernetes:EnvironmentAccess with its ServiceAccount, Role, RoleBinding and token as children", async () => {
            const { recorder } = await build();
            const component = recorder.get("esteira:kubernetes:EnvironmentAccess", "prod");
            for (const [type, name] of [
                [SA, "prod-service-account"],
                [ROLE, "prod-role"],
                [ROLE_BINDING, "prod-role-binding"],
                [SECRET, "prod-token"],
            ]) {
                assert.strictEqual(recorder.parentOf(recorder.get(type, name))?.urn, component.urn, `${name} is a child`);
            }
            assert.deepStrictEqual(recorder.all(CLUSTER_ROLE), [], "nothing cluster-wide");
            assert.deepStrictEqual(recorder.all(CLUSTER_ROLE_BINDING), []);
        });

        it("may read only what the smoke test reads, in its namespace, and write nothing", async () => {
            const { recorder } = await build();
            const role = recorder.get(ROLE, "prod-role");
            assert.strictEqual(role.inputs.metadata.namespace, "esteira-prod");
            const rules = role.inputs.rules;
            assert.deepStrictEqual(rules, SMOKE_TEST_RULES);
            // kubectl rollout status, get deployment -o json (probe paths), get service (port), port-forward, logs.
            assert.deepStrictEqual(verbs(rules, "apps/deployments"), ["get", "list", "watch"]);
            assert.deepStrictEqual(verbs(rules, "/services"), ["get", "list", "watch"]);
            assert.deepStrictEqual(verbs(rules, "/pods"), ["get", "list", "watch"]);
            assert.deepStrictEqual(verbs(rules, "/pods/portforward"), ["create", "get"]);
            assert.deepStrictEqual(verbs(rules, "/pods/log"), ["get"]);
            assert.deepStrictEqual(verbs(rules, "/secrets"), [], "never the namespace's secrets");
            const writes = rules
                .flatMap((r: any) => r.verbs)
                .filter((v: string) => ["update", "patch", "delete", "deletecollection"].includes(v));
            assert.deepStrictEqual(writes, [], "rollback goes through pulumi up, so nothing here writes");
            assert.ok(
                rules.every((r: any) => !r.verbs.includes("create") || r.resources.every((res: string) => res === "pods/portforward")),
                "it creates nothing but port-forwards",
            );
        });

        it("binds the Role to its ServiceAccount and no one else", async () => {
            const { recorder } = await build();
            const binding = recorder.get(ROLE_BINDING, "prod-role-binding");
            assert.deepStrictEqual(binding.inputs.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "esteira-ci" });
            assert.deepStrictEqual(binding.inputs.subjects, [{ kind: "ServiceAccount", name: "esteira-ci", namespace: "esteira-prod" }]);
            assert.strictEqual(recorder.get(SA, "prod-service-account").inputs.automountServiceAccountToken, false);
        });

        it("asks the token controller for a long-lived token of its ServiceAccount", async () => {
            const { recorder } = await build();
            const token = recorder.get(SECRET, "prod-token");
            assert.strictEqual(token.inputs.type, "kubernetes.io/service-account-token");
            assert.strictEqual(token.inputs.metadata.annotations["kubernetes.io/service-account.name"], "esteira-ci");
            assert.strictEqual(token.inputs.metadata.name, "esteira-ci-token");
            assert.strictEqual(token.inputs.data, undefined, "the controller writes the token, never the program");
        });

        it("builds a kubeconfig from the endpoint, the CA and that token alone, as a secret, in its namespace", async () => {
            const { access } = await build();
            assert.ok(await isSecretOutput(access.kubeconfig), "the kubeconfig is a secret");
            const kubeconfig = JSON.parse((await promiseOf(access.kubeconfig))!);
            assert.deepStrictEqual(kubeconfig.clusters[0].cluster, {
                server: endpoint.server,
                "certificate-authority-data": "Q0EtREFUQQ==",
            });
            assert.deepStrictEqual(kubeconfig.users[0].user, { token: "token-of-prod-token" });
            assert.strictEqual(kubeconfig.contexts[0].context.namespace, "esteira-prod");
            assert.strictEqual(kubeconfig["current-context"], kubeconfig.contexts[0].name);
        });

        it("fails, naming the Secret, when the token controller filled no token in", async () => {
            const recorder = new Recorder(() => undefined);
            await recorder.install("test");
            const access = new EnvironmentAccess("prod", { role: "environment", namespace: "esteira-prod", ...endpoint });
            const kubeconfig = promiseOf(access.kubeconfig);
            kubeconfig.catch(() => undefined);
            await recorder.settle();
            await assert.rejects(kubeconfig, /prod: the token controller filled no token into esteira-ci-token/);
        });

        it("builds no kubeconfig when the cluster's endpoint is unknown (kubeconfig mode)", async () => {
            const { access, recorder } = await build({ server: undefined, certificateAuthorityData: undefined });
            assert.strictEqual(access.kubeconfig, undefined);
            recorder.get(SA, "prod-service-account");
        });

        it("owns what it creates entirely, and passes deletedWith on", async () => {
            const recorder = new Recorder();
            await recorder.install("test");
            const cluster = new FakeResource("cluster");
            new EnvironmentAccess("prod", { role: "environment", namespace: "esteira-prod" }, { deletedWith: cluster });
            await recorder.settle();
            const clusterUrn = recorder.get("test:index:Cluster", "cluster").urn;
            for (const object of recorder.resources.filter((r) => r.type.startsWith("kubernetes:"))) {
                assert.strictEqual(object.inputs.metadata.annotations?.["pulumi.com/patchForce"], "true", object.name);
                assert.strictEqual(object.deletedWith, clusterUrn, object.name);
            }
        });
    });

    describe("an environment with several namespaces", () => {
        it("grants the same Role in each namespace its workloads run in, bound to its one ServiceAccount", async () => {
            const { recorder, access } = await build({ namespaces: { payments: "esteira-prod-payments" } });
            const own = recorder.get(ROLE, "prod-role");
            const other = recorder.get(ROLE, "prod-role-payments");
            assert.strictEqual(other.inputs.metadata.namespace, "esteira-prod-payments");
            assert.deepStrictEqual(other.inputs.rules, own.inputs.rules);
            const binding = recorder.get(ROLE_BINDING, "prod-role-binding-payments");
            assert.strictEqual(binding.inputs.metadata.namespace, "esteira-prod-payments");
            assert.deepStrictEqual(binding.inputs.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "esteira-ci" });
            assert.deepStrictEqual(binding.inputs.subjects, [{ kind: "ServiceAccount", name: "esteira-ci", namespace: "esteira-prod" }]);
            assert.deepStrictEqual(recorder.all(SA).length, 1, "one identity");
            const kubeconfig = JSON.parse((await promiseOf(access.kubeconfig))!);
            assert.strictEqual(kubeconfig.contexts[0].context.namespace, "esteira-prod", "its default namespace is the stack's own");
        });
    });

    describe("a base stack's tenant issuer (role tenants)", () => {
        it("grants cluster-wide only what issuing a pull request's namespace and identity takes, bound to its own ServiceAccount", async () => {
            const { recorder, access } = await build({ role: "tenants", namespace: "esteira-review" }, "review-tenants");
            const role = recorder.get(CLUSTER_ROLE, "review-tenants-role");
            assert.strictEqual(role.inputs.metadata.name, "esteira-tenants");
            assert.deepStrictEqual(role.inputs.rules, TENANT_ISSUER_RULES);
            const binding = recorder.get(CLUSTER_ROLE_BINDING, "review-tenants-role-binding");
            assert.deepStrictEqual(binding.inputs.roleRef, {
                apiGroup: "rbac.authorization.k8s.io",
                kind: "ClusterRole",
                name: "esteira-tenants",
            });
            assert.deepStrictEqual(binding.inputs.subjects, [
                { kind: "ServiceAccount", name: "esteira-tenants", namespace: "esteira-review" },
            ]);
            assert.deepStrictEqual(recorder.all(ROLE), []);
            const kubeconfig = JSON.parse((await promiseOf(access.kubeconfig))!);
            assert.strictEqual(kubeconfig.contexts[0].context.namespace, undefined, "not tied to one namespace");
        });

        it("the issuer reads no Secret, binds only the deployer role, and mints tokens (the policy confines it to pull-request namespaces)", () => {
            const rules = TENANT_ISSUER_RULES as any[];
            assert.deepStrictEqual(verbs(rules, "/secrets"), [], "no Secret anywhere");
            assert.deepStrictEqual(verbs(rules, "/serviceaccounts/token"), ["create"]);
            const bind = rules.find((rule) => rule.verbs.includes("bind"));
            assert.deepStrictEqual(bind.resourceNames, [TENANT_DEPLOYER.clusterRoleName], "bind on the deployer's ClusterRole only");
            for (const forbidden of [
                "apps/deployments",
                "rbac.authorization.k8s.io/roles",
                "rbac.authorization.k8s.io/clusterrolebindings",
                "/pods",
            ]) {
                assert.deepStrictEqual(verbs(rules, forbidden), [], forbidden);
            }
            assert.ok(
                rules.every((rule) => !rule.verbs.includes("*") && !rule.resources.includes("*") && !rule.verbs.includes("escalate")),
            );
        });

        it("a pull request's deployer may read and label only its own namespace, create none, mint no token, and grant itself no more", () => {
            const rules = TENANT_DEPLOYER_RULES as any[];
            // Granted by a RoleBinding in its namespace, `namespaces` reaches that namespace's own object only.
            assert.deepStrictEqual(verbs(rules, "/namespaces"), ["get", "patch", "update"]);
            assert.deepStrictEqual(verbs(rules, "/serviceaccounts/token"), [], "no token requests");
            // Creating a Role needs every permission it grants: the deployer holds the smoke test's.
            for (const rule of SMOKE_TEST_RULES as any[]) {
                for (const resource of rule.resources) {
                    for (const verb of rule.verbs) {
                        assert.ok(verbs(rules, `${rule.apiGroups[0]}/${resource}`).includes(verb), `${verb} ${resource}`);
                    }
                }
            }
            for (const forbidden of [
                "rbac.authorization.k8s.io/clusterroles",
                "rbac.authorization.k8s.io/clusterrolebindings",
                "/nodes",
                "apiextensions.k8s.io/customresourcedefinitions",
                "admissionregistration.k8s.io/validatingwebhookconfigurations",
                "admissionregistration.k8s.io/validatingadmissionpolicies",
                "/pods/exec",
            ]) {
                assert.deepStrictEqual(verbs(rules, forbidden), [], forbidden);
            }
            assert.ok(
                rules.every(
                    (rule) =>
                        !rule.verbs.includes("*") &&
                        !rule.resources.includes("*") &&
                        !rule.verbs.includes("escalate") &&
                        !rule.verbs.includes("bind"),
                ),
                "no wildcards, no escalate or bind",
            );
        });

        it("lets the provider wait for what a hosted stack creates: a Deployment's ReplicaSets, pods and claims, a Service's Endpoints, a Job's pods", () => {
            const rules = TENANT_DEPLOYER_RULES as any[];
            // The provider's awaiters list and watch these (pulumi-kubernetes provider/pkg/await): a
            // watch it may not open never syncs, and the up waits until its timeout.
            for (const resource of ["apps/replicasets", "/pods", "/persistentvolumeclaims", "/endpoints", "/events", "batch/jobs"]) {
                for (const verb of ["get", "list", "watch"]) assert.ok(verbs(rules, resource).includes(verb), `${verb} ${resource}`);
            }
            for (const resource of ["batch/cronjobs", "/persistentvolumeclaims", "networking.k8s.io/networkpolicies"]) {
                for (const verb of ["create", "patch", "delete"]) assert.ok(verbs(rules, resource).includes(verb), `${verb} ${resource}`);
            }
        });

        it("takes a ServiceAccount name", async () => {
            const { recorder } = await build(
                { role: "tenants", namespace: "esteira-review", serviceAccountName: "pr-deployer" },
                "review-tenants",
            );
            assert.strictEqual(recorder.get(SA, "review-tenants-service-account").inputs.metadata.name, "pr-deployer");
            assert.strictEqual(recorder.get(CLUSTER_ROLE, "review-tenants-role").inputs.metadata.name, "pr-deployer");
        });
    });
});
