import * as assert from "assert";
import { TENANT_DEPLOYER, TENANT_DEPLOYER_RULES } from "../../components/environment-access";
import { POD_SECURITY_LABELS } from "../../components/environment-namespace";
import { issuerValidations, pullRequestValidations, TenantPolicy } from "../../components/tenant-policy";
import { promiseOf, Recorder } from "../mocks";

const POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy";
const BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding";
const CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";

async function build() {
    const recorder = new Recorder();
    await recorder.install("test");
    const policy = new TenantPolicy("review-tenants", { issuer: { namespace: "esteira-review", serviceAccountName: "esteira-tenants" } });
    await recorder.settle();
    return { recorder, policy };
}

describe("TenantPolicy", () => {
    it("registers esteira:kubernetes:TenantPolicy with the deployer's ClusterRole, two policies and their bindings as children", async () => {
        const { recorder, policy } = await build();
        const component = recorder.get("esteira:kubernetes:TenantPolicy", "review-tenants");
        for (const [type, name] of [
            [CLUSTER_ROLE, "review-tenants-deployer"],
            [POLICY, "review-tenants-issuer"],
            [POLICY, "review-tenants-pull-requests"],
            [BINDING, "review-tenants-issuer-binding"],
            [BINDING, "review-tenants-pull-requests-binding"],
        ]) {
            assert.strictEqual(recorder.parentOf(recorder.get(type, name))?.urn, component.urn, `${name} is a child`);
        }
        assert.deepStrictEqual(await promiseOf(policy.policyNames), ["esteira-tenants-issuer", "esteira-tenants-pull-requests"]);
    });

    it("the deployer's ClusterRole is a template: its rules, and no ClusterRoleBinding names it", async () => {
        const { recorder } = await build();
        const role = recorder.get(CLUSTER_ROLE, "review-tenants-deployer");
        assert.strictEqual(role.inputs.metadata.name, TENANT_DEPLOYER.clusterRoleName);
        assert.deepStrictEqual(role.inputs.rules, TENANT_DEPLOYER_RULES);
        assert.deepStrictEqual(recorder.all("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"), []);
    });

    it("both policies deny (never only warn or audit), fail closed, and watch the writes that matter", async () => {
        const { recorder } = await build();
        for (const binding of recorder.all(BINDING)) assert.deepStrictEqual(binding.inputs.spec.validationActions, ["Deny"]);
        const issuer = recorder.get(POLICY, "review-tenants-issuer").inputs.spec;
        assert.strictEqual(issuer.failurePolicy, "Fail");
        assert.deepStrictEqual(issuer.matchConditions, [
            { name: "tenant-issuer", expression: "request.userInfo.username == 'system:serviceaccount:esteira-review:esteira-tenants'" },
        ]);
        assert.deepStrictEqual(
            issuer.matchConstraints.resourceRules.flatMap((r: any) => r.resources),
            ["namespaces", "serviceaccounts", "serviceaccounts/token", "rolebindings"],
        );
        const pullRequests = recorder.get(POLICY, "review-tenants-pull-requests").inputs.spec;
        assert.strictEqual(pullRequests.failurePolicy, "Fail");
        assert.deepStrictEqual(pullRequests.matchConditions, [
            {
                name: "pull-request-identity",
                expression: "request.userInfo.username.matches('^system:serviceaccount:esteira-pr-[0-9]+:[^:]+$')",
            },
        ]);
        assert.deepStrictEqual(
            pullRequests.matchConstraints.resourceRules.map((r: any) => [r.resources, r.operations]),
            [
                [["namespaces"], ["CREATE", "UPDATE", "DELETE"]],
                [["secrets"], ["CREATE", "UPDATE"]],
            ],
        );
    });

    it("the issuer's rules: pull-request namespaces only, the fixed Pod Security labels, the deployer alone, its one binding", () => {
        const [namespace, labels, account, binding] = issuerValidations("esteira-pr-");
        assert.strictEqual(namespace.expression, "variables.target.matches('^esteira-pr-[0-9]+$')");
        assert.match(
            namespace.messageExpression as string,
            /the tenant issuer acts only in pull-request namespaces \(esteira-pr-<number>\); refused: /,
        );
        for (const [key, value] of Object.entries(POD_SECURITY_LABELS))
            assert.ok((labels.messageExpression as string).includes(`${key}=${value}`), key);
        assert.match(account.expression as string, /request\.name == 'esteira-deployer'/);
        assert.match(binding.expression as string, /object\.roleRef\.name == 'esteira-pr-deployer'/);
        assert.match(binding.expression as string, /s\.namespace == request\.namespace/);
    });

    it("a pull request's identities: only their own namespace, its labels fixed, and no service-account-token Secret", () => {
        const [namespace, secret] = pullRequestValidations();
        assert.match(namespace.expression as string, /request\.operation == 'UPDATE' && request\.name == variables\.own/);
        assert.match(namespace.messageExpression as string, /a pull request changes only its own namespace/);
        assert.strictEqual(
            secret.expression,
            "request.resource.resource != 'secrets' || !has(object.type) || object.type != 'kubernetes.io/service-account-token'",
        );
        assert.match(secret.messageExpression as string, /a pull request mints no ServiceAccount token/);
    });
});
