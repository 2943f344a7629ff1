/**
 * How invalid configuration is reported: one line per problem naming the stack, the key path, the
 * value received and what is allowed, all in one error raised before any resource exists.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { RETIRED_KEYS } from "../vocabulary/schema";

/** The Pulumi config namespace of this program's own keys (`esteira:<key>`). */
export const CONFIG_NAMESPACE = "esteira";

/** Raised for invalid stack configuration; Pulumi prints a RunError's message without a stack trace. */
export class ConfigError extends pulumi.RunError {
    constructor(
        readonly stack: string,
        readonly problems: readonly string[],
    ) {
        super(
            `invalid configuration for stack "${stack}" (fix Pulumi.${stack}.yaml or \`pulumi config set\`):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
    }
}

/** A value as a message shows it. */
export function describe(value: unknown): string {
    if (value === undefined) return "nothing";
    return JSON.stringify(value);
}

/** Follows a zod issue path into the raw input, to show the value that was received. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let node = root;
    for (const key of path) {
        if (node === null || typeof node !== "object") return undefined;
        node = (node as Record<PropertyKey, unknown>)[key];
    }
    return node;
}

/** What a type is called in a message, with one example of it as a stack file writes it. */
const EXPECTED: Record<string, string> = {
    string: 'a string (e.g. "text")',
    number: "a number (e.g. 3)",
    int: "a whole number (e.g. 3)",
    boolean: "true or false",
    object: "a map of keys (e.g. {key: value})",
    "a map": "a map (e.g. {name: value})",
    array: "a list (e.g. [a, b])",
};
const expectedOf = (expected: string) => EXPECTED[expected] ?? expected;

/** The value received, said so that its type shows: null is an empty YAML value, a quoted number a string. */
function receivedOf(expected: string, received: unknown): string {
    if (received === null) return "null (the key has no value in the stack file)";
    if (Array.isArray(received)) return `a list, ${describe(received)}`;
    if ((expected === "number" || expected === "int") && typeof received === "string" && /^-?\d+(\.\d+)?$/.test(received.trim())) {
        return `the string ${describe(received)}: write the number without quotes`;
    }
    if (expected === "string" && (typeof received === "number" || typeof received === "boolean")) {
        return `${typeof received === "number" ? "the number" : "the boolean"} ${describe(received)}: quote it ("${received}")`;
    }
    if (typeof received === "object") return `a map, ${describe(received)}`;
    return describe(received);
}

/** One line per problem: `<stack>: <key path>: <what is wrong, with the value received>`. */
export function formatIssue(stack: string, issue: z.core.$ZodIssue, input: unknown): string {
    const received = valueAt(input, issue.path);
    let message: string;
    switch (issue.code) {
        case "invalid_type": {
            const expected = issue.expected === "record" ? "a map" : issue.expected;
            // zod's own messages start with "Invalid"; anything else is a schema's own wording.
            const own = !issue.message.startsWith("Invalid");
            if (received === undefined) message = own ? issue.message : `is required (expected ${expected})`;
            else message = `expected ${expectedOf(expected)}, received ${receivedOf(expected, received)}`;
            break;
        }
        case "invalid_value":
            message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}; received ${describe(received)}`;
            break;
        case "unrecognized_keys": {
            // A key an earlier esteira knew, at the top: named with the key that replaced it and how to move it.
            const retired = issue.path.length === 0 && issue.keys.length === 1 ? RETIRED_KEYS[issue.keys[0]] : undefined;
            if (retired) return `${stack}: ${CONFIG_NAMESPACE}:${issue.keys[0]}: ${retired(stack)}`;
            const hints = issue.keys.flatMap((key) => kubernetesKeyHint(issue.path, key, valueAt(input, [...issue.path, key])) ?? []);
            message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}: ${hints.length > 0 ? hints.join("; ") : "check the spelling against docs/configuration.md"}`;
            break;
        }
        case "too_small":
            // zod's own messages start with "Too small"; anything else is a schema's own wording.
            if (issue.origin === "array" || !issue.message.startsWith("Too small"))
                message = `${issue.message}; received ${describe(received)}`;
            else if (issue.origin === "string" && issue.minimum === 1) message = `must not be empty; received ${describe(received)}`;
            else message = `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}; received ${describe(received)}`;
            break;
        case "too_big":
            message =
                issue.origin === "string"
                    ? `${issue.message}; received ${describe(received)}`
                    : `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}; received ${describe(received)}`;
            break;
        case "invalid_format":
        case "invalid_union":
            message = `${issue.message}; received ${describe(received)}`;
            break;
        case "invalid_key":
            // A map key broke its own rule (e.g. a service name): show the key, not its settings.
            message = `${issue.issues[0]?.message ?? issue.message}; received ${describe(issue.path.at(-1))}`;
            break;
        default:
            message = issue.message;
    }
    const path = issue.path.map(String).join(".");
    return `${stack}: ${path || CONFIG_NAMESPACE}: ${message}`;
}

/** A Kubernetes quantity of memory (`256Mi`, `1Gi`, `512Ki`) in whole MiB, or undefined. */
function mebibytes(value: unknown): number | undefined {
    const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)$/.exec(String(value));
    if (!match) return undefined;
    const mib = Number(match[1]) * { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024 }[match[2] as "Ki" | "Mi" | "Gi" | "Ti"];
    return Number.isInteger(mib) ? mib : undefined;
}

/** A Kubernetes CPU quantity (`500m`, `0.5`, `2`) in millicores, or undefined. */
function millicores(value: unknown): number | undefined {
    const text = String(value);
    const milli = /^(\d+)m$/.exec(text);
    if (milli) return Number(milli[1]);
    if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
    const cores = Number(text) * 1000;
    return Number.isInteger(cores) ? cores : undefined;
}

/**
 * The hint for a key written the Kubernetes way where esteira names it with its unit, e.g.
 * `resources.limits.memory: 256Mi` → `memoryMiB: 256`; undefined for any other unknown key.
 */
export function kubernetesKeyHint(at: readonly PropertyKey[], key: string, value: unknown): string | undefined {
    const parent = String(at.at(-1));
    const workload = at.length === 2 && ["services", "workers", "jobs"].includes(String(at[0]));
    const esteiras = (name: string, unit: string, converted: number | undefined) =>
        `"${key}" is Kubernetes' name: esteira's is "${name}", ${unit}` +
        (converted !== undefined ? ` (${describe(value)} is ${name}: ${converted})` : "");
    if (parent === "requests" || parent === "limits") {
        if (key === "memory") return esteiras("memoryMiB", "a whole number of MiB", mebibytes(value));
        if (key === "cpu") return esteiras("cpuMillicores", "a whole number of millicores", millicores(value));
        if (key === "ephemeral-storage" || key === "ephemeralStorage")
            return esteiras("ephemeralStorageMiB", "a whole number of MiB", mebibytes(value));
    }
    if (workload && key === "containerPort") return `"containerPort" is Kubernetes' name: esteira's is "port"`;
    const probe = /^(readiness|liveness|startup)Probe$/.exec(key);
    if (workload && probe) return `"${key}" is Kubernetes' name: esteira's is "probes.${probe[1]}"`;
    return undefined;
}
