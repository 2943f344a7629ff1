import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";

/** Which refs may deploy to the environment. */
export type DeploymentRefs =
    /** Any branch or tag. */
    | { kind: "all" }
    /** Only branches with branch protection. */
    | { kind: "protected" }
    /** Only branches and tags matching these patterns (e.g. tags `v*` for releases). */
    | { kind: "patterns"; branches?: string[]; tags?: string[] };

export interface GitHubEnvironmentArgs {
    /** Repository name (the owner is the GitHub provider's `github:owner`). */
    repository: string;
    /** Environment name. */
    environment: string;
    /** Users (logins) whose approval a deployment waits for. Default: none. */
    reviewerUsers?: string[];
    /** Teams (slugs) whose approval a deployment waits for. Default: none. */
    reviewerTeams?: string[];
    /** Forbid approving one's own deployment. Default: true. */
    preventSelfReview?: boolean;
    /** Minutes to wait before a deployment proceeds. Default: 0. */
    waitTimerMinutes?: number;
    /** Refs that may deploy. Default: all. */
    deploymentRefs?: DeploymentRefs;
    /** Actions environment secrets, name → value; stored as Pulumi secrets. Default: none. */
    secrets?: Record<string, pulumi.Input<string>>;
    /** Actions environment variables (non-secret), name → value. Default: none. */
    variables?: Record<string, pulumi.Input<string>>;
}

/** Defaults of {@link GitHubEnvironmentArgs}, applied once in the component. */
export const GITHUB_ENVIRONMENT_DEFAULTS = {
    preventSelfReview: true,
    waitTimerMinutes: 0,
    deploymentRefs: { kind: "all" } as DeploymentRefs,
};

/** GitHub allows at most this many reviewers (users and teams together) per environment. */
export const MAX_REVIEWERS = 6;

/**
 * The stack's GitHub deployment environment: required reviewers, which refs may deploy, and the
 * Actions secrets and variables a workflow needs to reach this environment.
 */
export class GitHubEnvironment extends pulumi.ComponentResource {
    /** The environment's name, known once it exists. */
    public readonly environmentName: pulumi.Output<string>;

    constructor(name: string, args: GitHubEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:github:GitHubEnvironment", name, {}, opts);

        const d = GITHUB_ENVIRONMENT_DEFAULTS;
        const refs = args.deploymentRefs ?? d.deploymentRefs;
        const invokeOpts = { parent: this };
        // Reviewers are configured by name; the API wants numeric ids.
        const users = (args.reviewerUsers ?? []).map((username) =>
            github.getUserOutput({ username }, invokeOpts).id.apply((id) => Number(id)),
        );
        const teams = (args.reviewerTeams ?? []).map((slug) => github.getTeamOutput({ slug }, invokeOpts).id.apply((id) => Number(id)));

        const environment = new github.RepositoryEnvironment(
            `${name}-environment`,
            {
                repository: args.repository,
                environment: args.environment,
                reviewers: users.length + teams.length > 0 ? [{ users, teams }] : undefined,
                preventSelfReview: args.preventSelfReview ?? d.preventSelfReview,
                waitTimer: args.waitTimerMinutes ?? d.waitTimerMinutes,
                deploymentBranchPolicy:
                    refs.kind === "all"
                        ? undefined
                        : { protectedBranches: refs.kind === "protected", customBranchPolicies: refs.kind === "patterns" },
            },
            { parent: this },
        );
        this.environmentName = environment.environment;

        if (refs.kind === "patterns") {
            const policies = [
                ...(refs.branches ?? []).map((branchPattern, index) => ({ role: `branch-${index}`, branchPattern })),
                ...(refs.tags ?? []).map((tagPattern, index) => ({ role: `tag-${index}`, tagPattern })),
            ];
            for (const { role, ...pattern } of policies) {
                new github.RepositoryEnvironmentDeploymentPolicy(
                    `${name}-policy-${role}`,
                    { repository: args.repository, environment: this.environmentName, ...pattern },
                    { parent: this },
                );
            }
        }

        for (const [secretName, value] of Object.entries(args.secrets ?? {})) {
            new github.ActionsEnvironmentSecret(
                `${name}-secret-${secretName.toLowerCase()}`,
                { repository: args.repository, environment: this.environmentName, secretName, plaintextValue: pulumi.secret(value) },
                { parent: this },
            );
        }
        for (const [variableName, value] of Object.entries(args.variables ?? {})) {
            new github.ActionsEnvironmentVariable(
                `${name}-variable-${variableName.toLowerCase()}`,
                { repository: args.repository, environment: this.environmentName, variableName, value },
                { parent: this },
            );
        }

        this.registerOutputs({ environmentName: this.environmentName });
    }
}
