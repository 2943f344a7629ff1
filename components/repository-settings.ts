import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { RepositorySettings as Settings } from "../vocabulary/schema";
import { GitHubEnvironment } from "./github-environment";
import { REPOSITORY_SETTINGS_DEFAULTS } from "../vocabulary/access-defaults";

/** The stack file's `esteira:repository` keys (vocabulary/schema.ts), with the repository they apply to. */
export type RepositorySettingsArgs = Settings & {
    /** Repository name; its owner is the GitHub provider's `github:owner`. */
    repository: string;
    /** `protect` the rulesets and the environments, as the stack's own environment is. Default: false. */
    protect?: boolean;
};

/**
 * The app that must post every required check: GitHub Actions (its app id on github.com). A check
 * of that name posted by anything else (a token of any writer, another app) does not count.
 */
export const GITHUB_ACTIONS_APP_ID = 15368;

/**
 * The repository's own settings, which gate every environment: the default branch changes only
 * through reviewed pull requests whose required checks pass; release tags are created only by
 * release managers and never moved or deleted (so a tag names one reviewed commit for good); and
 * the protection of the GitHub environments no stack deploys to itself (e.g. `prod-preview`); the
 * workflow token's default permissions (read) and "Allow GitHub Actions to create and approve pull
 * requests" (off).
 * One stack owns these (prod's in this repository: the only job holding a token that can change
 * them is prod's, behind prod's reviewers).
 */
export class RepositorySettings extends pulumi.ComponentResource {
    /** The rulesets' ids: default branch, release-tag creation, release-tag immutability. */
    public readonly rulesetIds: pulumi.Output<string>[];

    constructor(name: string, args: RepositorySettingsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:github:RepositorySettings", name, {}, opts);

        const d = REPOSITORY_SETTINGS_DEFAULTS;
        const repository = args.repository;
        const releaseTags = `refs/tags/${args.releaseTags ?? d.releaseTags}`;
        // Deleting a ruleset or a protected environment would drop a gate every deploy relies on.
        const childOpts = { parent: this, protect: args.protect ?? d.protect };
        const releaseManagers = args.releaseManagers.map((slug) => ({
            actorType: "Team",
            actorId: github.getTeamOutput({ slug }, { parent: this }).id.apply((id) => Number(id)),
            bypassMode: "always",
        }));

        /** A ruleset of this repository, enforced, on the refs `spec.includes` names. */
        const ruleset = (
            role: string,
            spec: { name: string; target: "branch" | "tag"; includes: string[] } & Pick<
                github.RepositoryRulesetArgs,
                "bypassActors" | "rules"
            >,
        ) =>
            new github.RepositoryRuleset(
                `${name}-${role}`,
                {
                    repository,
                    name: spec.name,
                    target: spec.target,
                    enforcement: "active",
                    conditions: { refName: { includes: spec.includes, excludes: [] } },
                    bypassActors: spec.bypassActors,
                    rules: spec.rules,
                },
                childOpts,
            );

        const defaultBranch = ruleset("default-branch", {
            name: "default branch: reviewed pull requests with passing checks",
            target: "branch",
            includes: ["~DEFAULT_BRANCH"],
            // Nobody bypasses: an admin's change goes through a pull request too.
            bypassActors: [],
            rules: {
                deletion: true,
                nonFastForward: true,
                pullRequest: {
                    requiredApprovingReviewCount: args.requiredApprovals ?? d.requiredApprovals,
                    // CODEOWNERS names who reviews workflows, stack files and scripts.
                    requireCodeOwnerReview: true,
                    dismissStaleReviewsOnPush: true,
                    requireLastPushApproval: true,
                },
                requiredStatusChecks: {
                    requiredChecks: [...(args.requiredChecks ?? d.requiredChecks)].map((context) => ({
                        context,
                        integrationId: GITHUB_ACTIONS_APP_ID,
                    })),
                    strictRequiredStatusChecksPolicy: true,
                },
            },
        });
        const tagCreation = ruleset("release-tags", {
            name: "release tags: created by release managers only",
            target: "tag",
            includes: [releaseTags],
            bypassActors: releaseManagers,
            rules: { creation: true },
        });
        // Apart from creation, so that not even a release manager moves a tag after its approval.
        const tagImmutability = ruleset("release-tags-immutable", {
            name: "release tags: never moved or deleted",
            target: "tag",
            includes: [releaseTags],
            bypassActors: [],
            rules: { update: true, deletion: true, nonFastForward: true },
        });
        this.rulesetIds = [defaultBranch.id, tagCreation.id, tagImmutability.id];

        workflowPermissions(name, repository, childOpts);

        for (const [environment, protection] of Object.entries(args.environments ?? {})) {
            new GitHubEnvironment(
                environment,
                { ...protection, repository: args.repository, environment, protect: args.protect ?? d.protect },
                { parent: this },
            );
        }

        this.registerOutputs({ rulesetIds: this.rulesetIds });
    }
}

/**
 * The workflow token reads by default (each job asks for what it writes), and no workflow creates
 * or approves a pull request: a job holding pull-requests: write (its comments) could otherwise
 * approve one and stand in for a reviewer.
 */
function workflowPermissions(name: string, repository: string, opts: pulumi.CustomResourceOptions): github.WorkflowRepositoryPermissions {
    return new github.WorkflowRepositoryPermissions(
        `${name}-workflow-permissions`,
        { repository, defaultWorkflowPermissions: "read", canApprovePullRequestReviews: false },
        opts,
    );
}
