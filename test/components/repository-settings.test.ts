import * as assert from "assert";
import { GITHUB_ACTIONS_APP_ID, RepositorySettings, RepositorySettingsArgs } from "../../components/repository-settings";
import { fakeId, Recorder } from "../mocks";

const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";
const ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment";

async function build(extra: Partial<RepositorySettingsArgs> = {}) {
    const recorder = new Recorder();
    await recorder.install("prod");
    new RepositorySettings("esteira", { repository: "shop", releaseManagers: ["release-managers"], ...extra });
    await recorder.settle();
    return recorder;
}

describe("RepositorySettings", () => {
    it("registers esteira:github:RepositorySettings with its three rulesets as children", async () => {
        const recorder = await build();
        const component = recorder.get("esteira:github:RepositorySettings", "esteira");
        assert.deepStrictEqual(
            recorder
                .all(RULESET)
                .map((r) => r.name)
                .sort(),
            ["esteira-default-branch", "esteira-release-tags", "esteira-release-tags-immutable"],
        );
        for (const ruleset of recorder.all(RULESET)) {
            assert.strictEqual(recorder.parentOf(ruleset)?.urn, component.urn);
            assert.strictEqual(ruleset.inputs.repository, "shop");
            assert.strictEqual(ruleset.inputs.enforcement, "active", `${ruleset.name} is enforced, not evaluated`);
        }
    });

    it("the default branch changes only through reviewed pull requests whose gate passed, and nobody bypasses that", async () => {
        const ruleset = (await build()).get(RULESET, "esteira-default-branch");
        assert.strictEqual(ruleset.inputs.target, "branch");
        assert.deepStrictEqual(ruleset.inputs.conditions.refName.includes, ["~DEFAULT_BRANCH"]);
        assert.deepStrictEqual(ruleset.inputs.bypassActors, []);
        const rules = ruleset.inputs.rules;
        assert.strictEqual(rules.deletion, true);
        assert.strictEqual(rules.nonFastForward, true);
        assert.deepStrictEqual(rules.pullRequest, {
            requiredApprovingReviewCount: 1,
            requireCodeOwnerReview: true,
            dismissStaleReviewsOnPush: true,
            requireLastPushApproval: true,
        });
        assert.deepStrictEqual(rules.requiredStatusChecks, {
            requiredChecks: [
                { context: "gate", integrationId: GITHUB_ACTIONS_APP_ID },
                { context: "pulumi preview (policy pack)", integrationId: GITHUB_ACTIONS_APP_ID },
            ],
            strictRequiredStatusChecksPolicy: true,
        });
        assert.strictEqual(GITHUB_ACTIONS_APP_ID, 15368, "the GitHub Actions app posts them, nobody else");
    });

    it("the workflow token reads by default, and no workflow creates or approves a pull request", async () => {
        const recorder = await build();
        const permissions = recorder.get(
            "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions",
            "esteira-workflow-permissions",
        );
        assert.deepStrictEqual(
            { ...permissions.inputs },
            { repository: "shop", defaultWorkflowPermissions: "read", canApprovePullRequestReviews: false },
        );
        assert.strictEqual(recorder.parentOf(permissions)?.urn, recorder.get("esteira:github:RepositorySettings", "esteira").urn);
    });

    it("takes the checks and the number of approvals", async () => {
        const ruleset = (await build({ requiredChecks: ["gate", "e2e"], requiredApprovals: 2 })).get(RULESET, "esteira-default-branch");
        assert.strictEqual(ruleset.inputs.rules.pullRequest.requiredApprovingReviewCount, 2);
        assert.deepStrictEqual(
            ruleset.inputs.rules.requiredStatusChecks.requiredChecks.map((c: any) => c.context),
            ["gate", "e2e"],
        );
    });

    it("release tags are created by the release managers' teams only", async () => {
        const recorder = await build({ releaseManagers: ["release-managers", "platform"] });
        const ruleset = recorder.get(RULESET, "esteira-release-tags");
        assert.strictEqual(ruleset.inputs.target, "tag");
        assert.deepStrictEqual(ruleset.inputs.conditions.refName.includes, ["refs/tags/v*"]);
        assert.deepStrictEqual(ruleset.inputs.rules, { creation: true });
        assert.deepStrictEqual(ruleset.inputs.bypassActors, [
            { actorType: "Team", actorId: fakeId("release-managers"), bypassMode: "always" },
            { actorType: "Team", actorId: fakeId("platform"), bypassMode: "always" },
        ]);
    });

    it("nobody, release managers included, moves or deletes a release tag", async () => {
        const ruleset = (await build({ releaseTags: "release-*" })).get(RULESET, "esteira-release-tags-immutable");
        assert.deepStrictEqual(ruleset.inputs.conditions.refName.includes, ["refs/tags/release-*"]);
        assert.deepStrictEqual(ruleset.inputs.rules, { update: true, deletion: true, nonFastForward: true });
        assert.deepStrictEqual(ruleset.inputs.bypassActors, []);
    });

    it("protects the environments no stack deploys to, each as a GitHubEnvironment", async () => {
        const recorder = await build({
            environments: { "prod-preview": { deployFrom: { tags: ["v*"] }, canAdminsBypass: false }, review: {} },
        });
        const preview = recorder.get(ENVIRONMENT, "prod-preview-environment");
        assert.strictEqual(preview.inputs.environment, "prod-preview");
        assert.strictEqual(preview.inputs.canAdminsBypass, false);
        assert.deepStrictEqual(preview.inputs.deploymentBranchPolicy, { protectedBranches: false, customBranchPolicies: true });
        const review = recorder.get(ENVIRONMENT, "review-environment");
        assert.strictEqual(review.inputs.deploymentBranchPolicy, undefined);
        const component = recorder.get("esteira:github:RepositorySettings", "esteira");
        assert.strictEqual(recorder.parentOf(recorder.parentOf(preview)!)?.urn, component.urn);
        assert.deepStrictEqual(recorder.all("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"), [], "no secret is written");
    });
});
