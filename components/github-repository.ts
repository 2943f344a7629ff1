import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";

/** The repository-level Actions secrets and variables one stack owns (`esteira:githubSecrets.repository`, `esteira:github.repositoryVariables`). */
export interface GitHubRepositoryArgs {
    /** Repository name (the owner is `github:owner`). */
    repository: string;
    /** Actions secrets, name → value (kept secret). Default: none. */
    secrets?: Record<string, pulumi.Input<string>>;
    /** Actions variables, name → value. Default: none. */
    variables?: Record<string, pulumi.Input<string>>;
}

/**
 * Actions secrets and variables of the whole repository, which every workflow (pull requests'
 * included) can read; each belongs to exactly one stack, or stacks would overwrite each other's.
 */
export class GitHubRepository extends pulumi.ComponentResource {
    constructor(name: string, args: GitHubRepositoryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:github:GitHubRepository", name, {}, opts);
        for (const [secretName, value] of Object.entries(args.secrets ?? {})) {
            new github.ActionsSecret(
                `${name}-secret-${secretName.toLowerCase()}`,
                { repository: args.repository, secretName, plaintextValue: pulumi.secret(value) },
                { parent: this },
            );
        }
        for (const [variableName, value] of Object.entries(args.variables ?? {})) {
            new github.ActionsVariable(
                `${name}-variable-${variableName.toLowerCase()}`,
                { repository: args.repository, variableName, value },
                { parent: this },
            );
        }
        this.registerOutputs({});
    }
}
