import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { GitHubSettings } from "../vocabulary/schema";
import { GITHUB_ENVIRONMENT_DEFAULTS } from "../vocabulary/access-defaults";

/**
 * The stack file's `esteira:github` keys (vocabulary/schema.ts), with the environment's name set, plus
 * the values of the Actions secrets `actionsSecrets` turns on and the Actions variables.
 */
export type GitHubEnvironmentArgs = Omit<GitHubSettings, "environment" | "environmentVariables" | "repositoryVariables" | "deployAfter"> & {
    /** Environment name. */
    environment: string;
    /** More Actions environment secrets, name → value (kept secret); not KUBECONFIG or REGISTRY_TOKEN. Default: none. */
    secrets?: Record<string, pulumi.Input<string>>;
    /** Value of the `KUBECONFIG` secret; written when `actionsSecrets.kubeconfig` is on and this is given. */
    kubeconfig?: pulumi.Input<string>;
    /** Value of the `REGISTRY_TOKEN` secret; written when `actionsSecrets.registryPushToken` is on. */
    registryPushToken?: pulumi.Input<string>;
    /** Actions environment variables (non-secret), name → value. Default: none. */
    variables?: Record<string, pulumi.Input<string>>;
    /**
     * The stack the environment belongs to, written to its `ESTEIRA_STACK` variable: an environment
     * that already exists and names another stack there is refused, not taken over. Default: none
     * (no such variable, no check).
     */
    stack?: string;
    /** `protect` the environment, with its reviewers and deployment rules. Default: false. */
    protect?: boolean;
};

/** The Actions variable that names the stack an environment belongs to. */
export const STACK_VARIABLE = "ESTEIRA_STACK";

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
        const from = args.deployFrom ?? d.deployFrom;
        const patterns = typeof from === "object" ? from : undefined;
        const invokeOpts = { parent: this };
        // Reviewers are configured by name; the API wants numeric ids.
        const users = (args.reviewers?.users ?? []).map((username) =>
            github.getUserOutput({ username }, invokeOpts).id.apply((id) => Number(id)),
        );
        const teams = (args.reviewers?.teams ?? []).map((slug) => github.getTeamOutput({ slug }, invokeOpts).id.apply((id) => Number(id)));

        const environment = new github.RepositoryEnvironment(
            `${name}-environment`,
            {
                repository: args.repository,
                environment: args.environment,
                reviewers: users.length + teams.length > 0 ? [{ users, teams }] : undefined,
                preventSelfReview: args.preventSelfReview ?? d.preventSelfReview,
                waitTimer: args.waitTimerMinutes ?? d.waitTimerMinutes,
                canAdminsBypass: args.canAdminsBypass ?? d.canAdminsBypass,
                deploymentBranchPolicy:
                    from === "all" ? undefined : { protectedBranches: from === "protected", customBranchPolicies: patterns !== undefined },
            },
            // Deleting a protected environment would drop the approvals a deployment waits for.
            { parent: this, protect: args.protect ?? d.protect },
        );
        // Another stack's environment is refused before anything is built (refuseClaimedEnvironment).
        this.environmentName = environment.environment;

        if (patterns) {
            const policies = [
                ...(patterns.branches ?? []).map((branchPattern, index) => ({ role: `branch-${index}`, branchPattern })),
                ...(patterns.tags ?? []).map((tagPattern, index) => ({ role: `tag-${index}`, tagPattern })),
            ];
            for (const { role, ...pattern } of policies) {
                new github.RepositoryEnvironmentDeploymentPolicy(
                    `${name}-policy-${role}`,
                    { repository: args.repository, environment: this.environmentName, ...pattern },
                    { parent: this },
                );
            }
        }

        const wanted = { ...d.actionsSecrets, ...args.actionsSecrets };
        const secrets = {
            ...args.secrets,
            ...(wanted.kubeconfig && args.kubeconfig !== undefined ? { KUBECONFIG: args.kubeconfig } : {}),
            ...(wanted.registryPushToken && args.registryPushToken !== undefined ? { REGISTRY_TOKEN: args.registryPushToken } : {}),
        };
        for (const [secretName, value] of Object.entries(secrets)) {
            new github.ActionsEnvironmentSecret(
                `${name}-secret-${secretName.toLowerCase()}`,
                { repository: args.repository, environment: this.environmentName, secretName, plaintextValue: pulumi.secret(value) },
                { parent: this },
            );
        }
        const variables = { ...(args.stack !== undefined ? { [STACK_VARIABLE]: args.stack } : {}), ...args.variables };
        for (const [variableName, value] of Object.entries(variables)) {
            new github.ActionsEnvironmentVariable(
                `${name}-variable-${variableName.toLowerCase()}`,
                { repository: args.repository, environment: this.environmentName, variableName, value },
                { parent: this },
            );
        }

        this.registerOutputs({ environmentName: this.environmentName });
    }
}

/**
 * Refuses, before any resource is registered, a GitHub environment that exists already and names
 * another stack in its `ESTEIRA_STACK` variable: it is never taken over. Read with the default
 * GitHub provider, as the environment itself is made.
 */
export async function refuseClaimedEnvironment(args: { repository: string; environment: string; stack: string }): Promise<void> {
    const { environments } = await github.getRepositoryEnvironments({ repository: args.repository });
    if (!(environments ?? []).some((e) => e.name === args.environment)) return;
    const { variables } = await github.getActionsEnvironmentVariables({ name: args.repository, environment: args.environment });
    const claimedBy = (variables ?? []).find((v) => v.name === STACK_VARIABLE)?.value;
    if (claimedBy !== undefined && claimedBy !== args.stack) {
        throw new pulumi.RunError(
            `${pulumi.getStack()}: github.environment: the GitHub environment ${JSON.stringify(args.environment)} belongs to stack ${JSON.stringify(claimedBy)} (its ${STACK_VARIABLE} variable), nothing was built; name another environment, or leave github.environment out (it defaults to this stack's environment name)`,
        );
    }
}
