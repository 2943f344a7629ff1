/**
 * What kind of environment a stack is, as policy configuration.
 *
 * The policy SDK tells a policy neither the stack's name nor its config, and a stack-name
 * convention buried in code would silently stop matching a renamed stack. So the policies that
 * apply only to prod, or only to pull-request stacks, take `environmentKind` from the pack's
 * configuration (`--policy-pack-config config/<kind>.json`). It is required: run without it, the
 * CLI refuses to start rather than skipping prod's checks.
 */
import { PolicyConfigSchema } from "@pulumi/policy";

export const ENVIRONMENT_KINDS = ["prod", "pr", "other"] as const;
export type EnvironmentKind = (typeof ENVIRONMENT_KINDS)[number];

export const environmentConfigSchema: PolicyConfigSchema = {
    properties: {
        environmentKind: {
            type: "string",
            enum: [...ENVIRONMENT_KINDS],
            description: "prod: production stacks; pr: ephemeral pull-request stacks (pr-<n>); other: dev, homolog, local.",
        },
    },
    required: ["environmentKind"],
};

/** Marks the policy not applicable unless the stack is of `kind`. */
export function requireEnvironment(
    args: { getConfig<T extends object>(): T; notApplicable(reason?: string): never },
    kind: EnvironmentKind,
): void {
    const configured = args.getConfig<{ environmentKind?: EnvironmentKind }>().environmentKind;
    if (configured === undefined) {
        // The CLI enforces `required`; this only guards a caller that bypasses it.
        throw new Error("environmentKind is not configured: pass --policy-pack-config policy/config/<kind>.json");
    }
    if (configured !== kind) return args.notApplicable(`applies only to environmentKind "${kind}" (this stack: "${configured}")`);
}
