/** Policies that keep secret values out of plain text in the stack's state and previews. */
import { ResourceValidation } from "@pulumi/policy";
import { UNKNOWN, read, readObject } from "../known";
import { resourcePolicy } from "../resource-policy";
import { PropertyPath, isSecretInput } from "../secrets";

/**
 * Reports each value under the given fields (a map of values, or a single value) that is not a
 * Pulumi secret, by name only: a violation message must never print the value it is about. A
 * value not known yet and not marked secret is left to `up`.
 */
function reportPlainValues(fields: Record<string, "map" | "value">): ResourceValidation {
    return (args, report) => {
        const check = (path: PropertyPath, get: () => unknown, shown: string) => {
            if (isSecretInput(args, path)) return;
            const value = read(get);
            if (value !== UNKNOWN && value !== undefined && value !== null) {
                report(`${shown} is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config`);
            }
        };
        for (const [field, shape] of Object.entries(fields)) {
            if (shape === "value") {
                check([field], () => args.props[field], field);
                continue;
            }
            if (isSecretInput(args, [field])) continue;
            const entries = readObject(() => args.props[field]);
            if (entries === UNKNOWN) continue;
            for (const key of Object.keys(entries)) check([field, key], () => entries[key], `${field}[${JSON.stringify(key)}]`);
        }
    };
}

export const kubernetesSecretDataIsSecret = resourcePolicy({
    name: "kubernetes-secret-data-is-secret",
    description:
        "Every value of a Kubernetes Secret's data and stringData is a Pulumi secret, so it is encrypted in the stack's state and masked in previews and logs.",
    enforcementLevel: "mandatory",
    appliesTo: /^kubernetes:core\/v1:Secret(Patch)?$/,
    otherwise: "not a Kubernetes Secret",
    validate: reportPlainValues({ data: "map", stringData: "map" }),
});

export const actionsSecretValueIsSecret = resourcePolicy({
    name: "actions-secret-value-is-secret",
    description:
        "A GitHub Actions secret's plaintext value is a Pulumi secret, so the token it carries is encrypted in the stack's state and masked in previews and logs.",
    enforcementLevel: "mandatory",
    appliesTo: [
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
        "github:index/actionsSecret:ActionsSecret",
        "github:index/actionsOrganizationSecret:ActionsOrganizationSecret",
    ],
    otherwise: "not a GitHub Actions secret",
    // `value` is the github provider's newer name for `plaintextValue`.
    validate: reportPlainValues({ plaintextValue: "value", value: "value" }),
});
