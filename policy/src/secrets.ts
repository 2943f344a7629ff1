/**
 * Which resource inputs are Pulumi secrets.
 *
 * The engine sends a resource's inputs to the analyzer with secrets still marked, but
 * @pulumi/policy unwraps every secret before a policy sees the value and has no way to ask
 * whether a value was one (pulumi/pulumi-policy#241). So this module wraps the SDK's own
 * deserializer: it lets the SDK build the props exactly as before and, on the side, records the
 * paths that arrived marked secret, keyed by that props object. `@pulumi/policy` is pinned to an
 * exact version in package.json because this reaches into its internals; test/secrets.test.ts
 * drives the SDK's real Analyze handler and fails if the hook stops seeing its calls.
 */
import { ResourceValidationArgs } from "@pulumi/policy";

// Internal modules of @pulumi/policy (their .d.ts files are empty): typed here by hand.
const deserializeModule: {
    deserializeProperties: (struct: { toJavaScript(): Record<string, unknown> }, proxySecrets: boolean) => Record<string, unknown>;
} = require("@pulumi/policy/deserialize");
const proxyModule: { getSpecialProxyTarget: string } = require("@pulumi/policy/proxy");
const rpc: { specialSigKey: string; specialSecretSig: string } = require("@pulumi/pulumi/runtime/rpc");

/** A property path, e.g. `["stringData", "DATABASE_URL"]`. */
export type PropertyPath = readonly (string | number)[];

const secretPathsByProps = new WeakMap<object, PropertyPath[]>();

function isSecretMarker(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;
}

/** Paths of every value in a marshalled property map that arrived wrapped as a secret. */
export function secretPathsIn(raw: unknown, at: PropertyPath = []): PropertyPath[] {
    if (isSecretMarker(raw)) return [at];
    if (Array.isArray(raw)) return raw.flatMap((item, index) => secretPathsIn(item, [...at, index]));
    if (typeof raw === "object" && raw !== null) {
        return Object.entries(raw).flatMap(([key, value]) => secretPathsIn(value, [...at, key]));
    }
    return [];
}

const original = deserializeModule.deserializeProperties;
if (!(original as { esteiraSecretPaths?: boolean }).esteiraSecretPaths) {
    const recording = (struct: { toJavaScript(): Record<string, unknown> }, proxySecrets: boolean) => {
        const props = original(struct, proxySecrets);
        secretPathsByProps.set(props, secretPathsIn(struct.toJavaScript()));
        return props;
    };
    (recording as { esteiraSecretPaths?: boolean }).esteiraSecretPaths = true;
    deserializeModule.deserializeProperties = recording;
}

/** The SDK hands policies a proxy over the deserialized props; the map is keyed by the object behind it. */
function target(props: object): object {
    return ((props as Record<string, unknown>)[proxyModule.getSpecialProxyTarget] as object | undefined) ?? props;
}

/**
 * Whether the input at `path` (or a value that contains it) was a Pulumi secret. Throws when the
 * props did not come through the SDK's deserializer: a policy that cannot tell must not pass.
 */
export function isSecretInput(args: Pick<ResourceValidationArgs, "props">, path: PropertyPath): boolean {
    const paths = secretPathsByProps.get(target(args.props));
    if (paths === undefined) {
        throw new Error(
            "esteira policy: cannot tell which inputs are secret (the @pulumi/policy deserializer hook saw no call for these props); " +
                "was @pulumi/policy upgraded without test/secrets.test.ts?",
        );
    }
    return paths.some((secret) => secret.length <= path.length && secret.every((part, index) => part === path[index]));
}
