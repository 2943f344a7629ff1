import * as assert from "assert";
import { GitHubEnvironment, GitHubEnvironmentArgs, refuseClaimedEnvironment } from "../../components/github-environment";
import { assertRunError, fakeId, GITHUB_ENVIRONMENTS, isSecretInput, promiseOf, Recorder } from "../mocks";

const ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment";
const POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";
const SECRET = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret";
const VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable";

async function build(extra: Partial<GitHubEnvironmentArgs> = {}) {
    const recorder = new Recorder();
    await recorder.install("test");
    new GitHubEnvironment("prod", { repository: "shop", environment: "prod", ...extra });
    await recorder.settle();
    return { recorder, environment: recorder.get(ENVIRONMENT, "prod-environment") };
}

describe("GitHubEnvironment", () => {
    it("registers esteira:github:GitHubEnvironment with the repository environment as a child", async () => {
        const { recorder, environment } = await build();
        assert.strictEqual(recorder.parentOf(environment)?.urn, recorder.get("esteira:github:GitHubEnvironment", "prod").urn);
    });

    it("defaults: no reviewers, self-review prevented, no wait, any ref may deploy", async () => {
        const { recorder, environment } = await build();
        assert.deepStrictEqual(environment.inputs, {
            repository: "shop",
            environment: "prod",
            preventSelfReview: true,
            waitTimer: 0,
            canAdminsBypass: true,
        });
        assert.deepStrictEqual(recorder.all(POLICY), []);
    });

    it("can deny repository admins the bypass of its reviewers (prod)", async () => {
        const { environment } = await build({ reviewers: { teams: ["platform"] }, canAdminsBypass: false });
        assert.strictEqual(environment.inputs.canAdminsBypass, false);
    });

    it("protects the environment, with its approvals, when asked; not by default", async () => {
        assert.strictEqual((await build()).environment.protect, false);
        assert.strictEqual((await build({ protect: true })).environment.protect, true);
    });

    describe("an environment that exists already", () => {
        afterEach(() => {
            delete GITHUB_ENVIRONMENTS.shop;
        });

        async function claim(stack: string) {
            const recorder = new Recorder();
            await recorder.install(stack);
            const component = new GitHubEnvironment("prod", { repository: "shop", environment: "prod", stack });
            const name = promiseOf(component.environmentName);
            name.catch(() => undefined);
            await recorder.settle();
            return { recorder, name };
        }

        it("marks the environment with its stack in ESTEIRA_STACK", async () => {
            const { recorder, name } = await claim("prod");
            assert.strictEqual(await name, "prod");
            const variable = recorder.get(VARIABLE, "prod-variable-esteira_stack");
            assert.deepStrictEqual(variable.inputs, {
                repository: "shop",
                environment: "prod",
                variableName: "ESTEIRA_STACK",
                value: "prod",
            });
        });

        it("is this stack's again when its ESTEIRA_STACK names this stack", async () => {
            GITHUB_ENVIRONMENTS.shop = { prod: { ESTEIRA_STACK: "prod" } };
            assert.strictEqual(await (await claim("prod")).name, "prod");
        });

        it("is refused, not taken over, when its ESTEIRA_STACK names another stack: before any resource is registered", async () => {
            GITHUB_ENVIRONMENTS.shop = { prod: { ESTEIRA_STACK: "prod", ESTEIRA_NAMESPACE: "esteira-prod" } };
            const recorder = new Recorder();
            await recorder.install("pr-7");
            const refused = refuseClaimedEnvironment({ repository: "shop", environment: "prod", stack: "pr-7" });
            refused.catch(() => undefined);
            await recorder.settle();
            await assertRunError(
                refused,
                'pr-7: github.environment: the GitHub environment "prod" belongs to stack "prod" (its ESTEIRA_STACK variable), nothing was built; name another environment, or leave github.environment out (it defaults to this stack\'s environment name)',
            );
            assert.deepStrictEqual(recorder.resources, [], "nothing is registered");
        });

        it("lets this stack's own or a new environment through", async () => {
            GITHUB_ENVIRONMENTS.shop = { prod: { ESTEIRA_STACK: "prod" } };
            await new Recorder().install("prod");
            await refuseClaimedEnvironment({ repository: "shop", environment: "prod", stack: "prod" });
            await refuseClaimedEnvironment({ repository: "shop", environment: "staging", stack: "prod" });
        });
    });

    it("resolves reviewers by name to ids", async () => {
        const { recorder, environment } = await build({ reviewers: { users: ["alice"], teams: ["qa", "platform"] } });
        assert.deepStrictEqual(environment.inputs.reviewers, [{ users: [fakeId("alice")], teams: [fakeId("qa"), fakeId("platform")] }]);
        const lookups = recorder.calls.map((c) => `${c.token}:${c.inputs.username ?? c.inputs.slug}`).sort();
        assert.deepStrictEqual(lookups, [
            "github:index/getTeam:getTeam:platform",
            "github:index/getTeam:getTeam:qa",
            "github:index/getUser:getUser:alice",
        ]);
    });

    it("limits deployments to protected branches", async () => {
        const { environment, recorder } = await build({ deployFrom: "protected" });
        assert.deepStrictEqual(environment.inputs.deploymentBranchPolicy, { protectedBranches: true, customBranchPolicies: false });
        assert.deepStrictEqual(recorder.all(POLICY), []);
    });

    it("limits deployments to branch and tag patterns", async () => {
        const { environment, recorder } = await build({ deployFrom: { branches: ["main"], tags: ["v*"] } });
        assert.deepStrictEqual(environment.inputs.deploymentBranchPolicy, { protectedBranches: false, customBranchPolicies: true });
        assert.deepStrictEqual(recorder.get(POLICY, "prod-policy-branch-0").inputs, {
            repository: "shop",
            environment: "prod",
            branchPattern: "main",
        });
        assert.deepStrictEqual(recorder.get(POLICY, "prod-policy-tag-0").inputs, {
            repository: "shop",
            environment: "prod",
            tagPattern: "v*",
        });
    });

    it("stores Actions secrets as secrets and variables as plain values", async () => {
        const { recorder } = await build({
            kubeconfig: "apiVersion: v1",
            variables: { ESTEIRA_NAMESPACE: "shop-prod" },
            waitTimerMinutes: 10,
            preventSelfReview: false,
        });
        const secret = recorder.get(SECRET, "prod-secret-kubeconfig");
        assert.strictEqual(secret.inputs.secretName, "KUBECONFIG");
        assert.ok(isSecretInput(secret, "plaintextValue"), "the Actions secret's value stays a Pulumi secret");
        assert.deepStrictEqual(recorder.get(VARIABLE, "prod-variable-esteira_namespace").inputs, {
            repository: "shop",
            environment: "prod",
            variableName: "ESTEIRA_NAMESPACE",
            value: "shop-prod",
        });
        const environment = recorder.get(ENVIRONMENT, "prod-environment");
        assert.strictEqual(environment.inputs.waitTimer, 10);
        assert.strictEqual(environment.inputs.preventSelfReview, false);
    });

    it("writes the stack's own environment secrets beside esteira's, kept secret", async () => {
        const { recorder } = await build({ kubeconfig: "kc", secrets: { SENTRY_AUTH_TOKEN: "s3ntry" } });
        const secrets = recorder.all(SECRET);
        assert.deepStrictEqual(secrets.map((s) => s.inputs.secretName).sort(), ["KUBECONFIG", "SENTRY_AUTH_TOKEN"]);
        const sentry = recorder.get(SECRET, "prod-secret-sentry_auth_token");
        assert.strictEqual(sentry.inputs.plaintextValue, "s3ntry");
        assert.ok(isSecretInput(sentry, "plaintextValue"), "the value stays secret");
    });
});
