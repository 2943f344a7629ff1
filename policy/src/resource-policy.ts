/**
 * The frame every resource policy here shares: which resource types it is about (anything else is
 * reported as not applicable, as the SDK's own typed helpers do) and, for the environment-bound
 * ones, which environment kind, with the config schema that asks for it.
 */
import { ResourceValidation, ResourceValidationPolicy } from "@pulumi/policy";
import { EnvironmentKind, environmentConfigSchema, requireEnvironment } from "./environment";

export interface ScopedPolicy extends Omit<ResourceValidationPolicy, "validateResource"> {
    /** Resource types (tokens, or one pattern) the policy checks. */
    appliesTo: readonly string[] | RegExp;
    /** Why any other type is not applicable, e.g. "not a Kubernetes Secret". */
    otherwise: string;
    /** Only stacks of this environment kind; adds the required `environmentKind` config. */
    environment?: EnvironmentKind;
    validate: ResourceValidation;
}

export function resourcePolicy({ appliesTo, otherwise, environment, validate, ...policy }: ScopedPolicy): ResourceValidationPolicy {
    const applies = (type: string) => (appliesTo instanceof RegExp ? appliesTo.test(type) : appliesTo.includes(type));
    return {
        ...policy,
        configSchema: environment !== undefined ? environmentConfigSchema : policy.configSchema,
        validateResource: (args, report) => {
            if (!applies(args.type)) return args.notApplicable(otherwise);
            if (environment !== undefined) requireEnvironment(args, environment);
            return validate(args, report);
        },
    };
}
