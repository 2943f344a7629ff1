/**
 * Runs one policy the way the analyzer does, without an engine: the props are marshalled into the
 * protobuf Struct the engine sends and deserialized by the SDK's own deserializer (so secrets and
 * unknowns arrive exactly as in `pulumi preview`), then the policy's validation is called with the
 * SDK's argument shape. Returns the messages it reported, or why it did not apply.
 */
import {
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    UnknownValueError,
    unknownCheckingProxy,
} from "@pulumi/policy";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import "../src/secrets"; // installs the deserializer hook before any props are built

const deserialize: {
    deserializeProperties(struct: Struct, proxySecrets: boolean): Record<string, any>;
} = require("@pulumi/policy/deserialize");
const rpc: { specialSigKey: string; specialSecretSig: string } = require("@pulumi/pulumi/runtime/rpc");
const proxy: { unknownStringValue: string; unknownObjectValue: string; unknownArrayValue: string } = require("@pulumi/policy/proxy");

/** A value the program marked secret, as the engine marshals it. */
export const secret = (value: unknown) => ({ [rpc.specialSigKey]: rpc.specialSecretSig, value });
/** Values not known during preview, as the engine marshals them. */
export const UNKNOWN_STRING = proxy.unknownStringValue;
export const UNKNOWN_OBJECT = proxy.unknownObjectValue;
export const UNKNOWN_ARRAY = proxy.unknownArrayValue;

export interface Outcome {
    violations: string[];
    /** Set when the policy declared itself not applicable. */
    notApplicable?: string;
    /** Set when the SDK would have skipped the policy for an unknown value. */
    skippedUnknown?: string;
}

export interface TestResource {
    type: string;
    props: Record<string, unknown>;
    name?: string;
    protect?: boolean;
}

class NotApplicable extends Error {}

function deserialized(props: Record<string, unknown>): Record<string, any> {
    return unknownCheckingProxy(deserialize.deserializeProperties(Struct.fromJavaScript(JSON.parse(JSON.stringify(props))), false));
}

/** The CLI fills in schema defaults and refuses a config missing a required key; so does this. */
function configFor(schema: PolicyConfigSchema | undefined, config: Record<string, unknown>) {
    const result: Record<string, unknown> = {};
    for (const [key, property] of Object.entries(schema?.properties ?? {})) {
        if ("default" in property) result[key] = property.default;
    }
    Object.assign(result, config);
    for (const key of schema?.required ?? []) {
        if (!(key in result)) throw new Error(`${key} is required`);
    }
    return <T extends object>() => result as T;
}

const urnOf = (resource: TestResource) => `urn:pulumi:test::esteira::${resource.type}::${resource.name ?? "subject"}`;

function options(resource: TestResource) {
    return {
        protect: resource.protect ?? false,
        ignoreChanges: [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [],
    };
}

async function capture(run: (notApplicable: (reason?: string) => never) => Promise<void> | void): Promise<Omit<Outcome, "violations">> {
    try {
        await run((reason) => {
            throw new NotApplicable(reason ?? "");
        });
        return {};
    } catch (error) {
        if (error instanceof NotApplicable) return { notApplicable: error.message };
        if (error instanceof UnknownValueError) return { skippedUnknown: (error as Error).message };
        throw error;
    }
}

export async function runResourcePolicy(
    policy: ResourceValidationPolicy,
    resource: TestResource,
    config: Record<string, unknown> = {},
): Promise<Outcome> {
    const violations: string[] = [];
    const validations = [policy.validateResource ?? []].flat();
    let result: Omit<Outcome, "violations"> = {};
    for (const validate of validations) {
        result = await capture((notApplicable) => {
            const props = deserialized(resource.props);
            const args: ResourceValidationArgs = {
                type: resource.type,
                props,
                urn: urnOf(resource),
                name: resource.name ?? "subject",
                opts: options(resource),
                stackTags: new Map(),
                isType: () => false,
                asType: () => undefined,
                getConfig: configFor(policy.configSchema, config),
                notApplicable,
            };
            return validate(args, (message) => violations.push(message));
        });
        if (result.notApplicable !== undefined || result.skippedUnknown !== undefined) break;
    }
    return { violations, ...result };
}

export async function runStackPolicy(
    policy: StackValidationPolicy,
    resources: TestResource[],
    config: Record<string, unknown> = {},
): Promise<Outcome> {
    const violations: string[] = [];
    const result = await capture((notApplicable) => {
        const policyResources: PolicyResource[] = resources.map((resource) => ({
            type: resource.type,
            props: deserialized(resource.props),
            urn: urnOf(resource),
            name: resource.name ?? "subject",
            opts: options(resource),
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
        }));
        const args: StackValidationArgs = {
            resources: policyResources,
            stackTags: new Map(),
            getConfig: configFor(policy.configSchema, config),
            notApplicable,
        };
        // The URN is part of the message here: a stack policy names the resource it is about.
        return policy.validateStack(args, (message, urn) => violations.push(urn ? `${urn}: ${message}` : message));
    });
    return { violations, ...result };
}

export { urnOf };
