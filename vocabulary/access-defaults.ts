/**
 * The defaults of the keys that decide who may deploy where: GitHub environments' protection, the
 * repository's rules, the identities the program creates. Written once, applied by their
 * components with `??`; a file of its own so that CODEOWNERS gives it to the platform team.
 */

/** Defaults of `GitHubEnvironmentArgs` (components/github-environment.ts), applied once in the component. */
export const GITHUB_ENVIRONMENT_DEFAULTS = {
    preventSelfReview: true,
    waitTimerMinutes: 0,
    deployFrom: "all",
    canAdminsBypass: true,
    actionsSecrets: { kubeconfig: true, registryPushToken: false },
    protect: false,
} as const;

/** The environment secrets esteira writes itself, by `actionsSecrets`. */
export const GITHUB_ENVIRONMENT_SECRETS = ["KUBECONFIG", "REGISTRY_TOKEN"];

/** GitHub allows at most this many reviewers (users and teams together) per environment. */
export const MAX_REVIEWERS = 6;

/** Defaults of `RepositorySettingsArgs` (components/repository-settings.ts), applied once in the component. */
export const REPOSITORY_SETTINGS_DEFAULTS = {
    releaseTags: "v*",
    // The aggregate job of .github/workflows/ci.yml (fails when any check failed or was skipped),
    // and review.yml's policy-checked preview of the pull request's own stack.
    requiredChecks: ["gate", "pulumi preview (policy pack)"],
    requiredApprovals: 1,
    protect: false,
} as const;

/** The ServiceAccount (and Role, binding) name of each identity `EnvironmentAccess` creates (components/environment-access.ts). */
export const SERVICE_ACCOUNT_NAMES = { environment: "esteira-ci", tenants: "esteira-tenants" } as const;
