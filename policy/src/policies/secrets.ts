/** Policies that keep secret values out of plain text in the stack's state and previews. */
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { UNKNOWN, read, readObject } from "../known";
import { PropertyPath, isSecretInput } from "../secrets";

/**
 * Reports each value under `fields` (each a map, or a single value when `map` is false) that is
 * not a Pulumi secret. A value not known yet and not marked secret is left to `up`.
 */
function plainValues(args: ResourceValidationArgs, fields: string[], map: boolean): string[] {
    const plain: string[] = [];
    const check = (path: PropertyPath, get: () => unknown, shown: string) => {
        if (isSecretInput(args, path)) return;
        const value = read(get);
        if (value !== UNKNOWN && value !== undefined && value !== null) plain.push(shown);
    };
    for (const field of fields) {
        if (!map) {
            check([field], () => args.props[field], field);
            continue;
        }
        if (isSecretInput(args, [field])) continue;
        const entries = readObject(() => args.props[field]);
        if (entries === UNKNOWN) continue;
        for (const key of Object.keys(entries)) {
            check([field, key], () => entries[key], `${field}[${JSON.stringify(key)}]`);
        }
    }
    return plain;
}

const KUBERNETES_SECRET = /^kubernetes:core\/v1:Secret(Patch)?$/;

export const kubernetesSecretDataIsSecret: ResourceValidationPolicy = {
    name: "kubernetes-secret-data-is-secret",
    description:
        "Every value of a Kubernetes Secret's data and stringData is a Pulumi secret, so it is encrypted in the stack's state and masked in previews and logs.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (!KUBERNETES_SECRET.test(args.type)) return args.notApplicable("not a Kubernetes Secret");
        // Names only: a violation message must never print the value it is about.
        for (const shown of plainValues(args, ["data", "stringData"], true)) {
            report(`${shown} is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config`);
        }
    },
};

const ACTIONS_SECRET = new Set([
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
    "github:index/actionsSecret:ActionsSecret",
    "github:index/actionsOrganizationSecret:ActionsOrganizationSecret",
]);

export const actionsSecretValueIsSecret: ResourceValidationPolicy = {
    name: "actions-secret-value-is-secret",
    description:
        "A GitHub Actions secret's plaintext value is a Pulumi secret, so the token it carries is encrypted in the stack's state and masked in previews and logs.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (!ACTIONS_SECRET.has(args.type)) return args.notApplicable("not a GitHub Actions secret");
        // `value` is the github provider's newer name for `plaintextValue`.
        for (const shown of plainValues(args, ["plaintextValue", "value"], false)) {
            report(`${shown} is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config`);
        }
    },
};
