/**
 * Reading the running stack's configuration: the one impure edge of configuration. Everything it
 * reads goes through {@link parseConfig} (config/), which validates it and hands each
 * component its Args; invalid configuration throws a {@link ConfigError} before the program
 * registers a single resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import * as fs from "fs";
import { promotionRead } from "../components/promoted-image";
import type { OutputRead } from "../components/stack-reference";
import { CONFIG_NAMESPACE } from "./errors";
import type * as YAML from "yaml";
import { EsteiraConfig, parseConfig, RawSecretMap } from "./parse";
import type { RawConfig } from "./stack";
import { SECRET_KEYS, SECRET_MAPS, SecretMapName, SecretName, stackSchema } from "../vocabulary/schema";

export { ConfigError, CONFIG_NAMESPACE } from "./errors";
export { parseConfig, type EsteiraConfig, type RawConfig } from "./parse";

/**
 * Whether the CLI handed a key over as a secret: the SDK's own test (what `Config.get` would warn
 * with), exported at run time but left out of its typings.
 */
const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };

/** Plain keys read from `esteira:`; everything else under the namespace is either secret or unknown. */
const PLAIN_KEYS = Object.keys(stackSchema.shape);

/**
 * A secret map (`esteira:secrets`, …): its shape, with each leaf its value as a Pulumi secret
 * taken from the SDK's secret read (`requireSecretObject`), never a plain string; a leaf that is no
 * string stays `null`, so validation can name it without its value. `plain` says the stack file
 * holds the values in plain text (not set with `--secret`).
 */
function readSecretMap(fullKey: string): RawSecretMap | undefined {
    const text = pulumi.runtime.getConfig(fullKey);
    if (text === undefined) return undefined;
    const [namespace, key] = fullKey.split(":", 2);
    const secret = new pulumi.Config(namespace).requireSecretObject<unknown>(key);
    let shape: unknown;
    try {
        shape = JSON.parse(text);
    } catch {
        shape = null;
    }
    const at = (path: string[]) => secret.apply((root) => path.reduce<any>((node, segment) => node?.[segment], root) as string);
    const leaves = (node: unknown, path: string[]): unknown => {
        if (typeof node === "string") return at(path);
        if (node !== null && typeof node === "object" && !Array.isArray(node)) {
            return Object.fromEntries(Object.entries(node).map(([name, child]) => [name, leaves(child, [...path, name])]));
        }
        return null;
    };
    return { plain: !isConfigSecret(fullKey), values: leaves(shape, []) };
}

/**
 * How the stack file (in the project directory, where Pulumi runs the program) writes a workload's
 * `env` value: a plain scalar's source text. Undefined when the file or the value is not there (a
 * config file given elsewhere): the rule then asks for a quoted string. The file is read and
 * parsed (and yaml loaded) at the first question, which only an env value that arrived as a number
 * asks: most stacks never pay for it.
 */
function envWrittenAs(stack: string): RawConfig["envWrittenAs"] {
    let document: ReturnType<typeof YAML.parseDocument> | null | undefined;
    return (kind, name, variable) => {
        const { isScalar, parseDocument } = require("yaml") as typeof YAML;
        if (document === undefined) {
            try {
                document = parseDocument(fs.readFileSync(`Pulumi.${stack}.yaml`, "utf8"));
            } catch {
                document = null;
            }
        }
        const node = document?.getIn(["config", `${CONFIG_NAMESPACE}:${kind}`, name, "env", variable], true);
        return isScalar(node) ? node.source : undefined;
    };
}

/**
 * Reads the running stack's configuration and validates it. Call before registering any resource.
 * `commitSha` is the commit being deployed, when known (see {@link deployedCommit});
 * `previousStatefulNames`, the names this stack deployed last time (config/renames.ts).
 */
export function loadConfig(commitSha?: string, previousStatefulNames?: Record<string, string>): EsteiraConfig {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const values: Record<string, unknown> = {};
    // Unknown keys (typos such as `esteira:servces`) are passed on so the strict schema names them;
    // only the key is looked at, never its value, which might be a secret.
    const known = new Set<string>([
        ...PLAIN_KEYS.map((key) => `${CONFIG_NAMESPACE}:${key}`),
        ...Object.values(SECRET_KEYS).map((s) => s.key),
        ...Object.values(SECRET_MAPS).map((s) => s.key),
    ]);
    const all = Object.keys(pulumi.runtime.allConfig());
    for (const fullKey of all) {
        const [namespace, key] = fullKey.split(":", 2);
        if (namespace === CONFIG_NAMESPACE && !known.has(fullKey)) values[key] = null;
    }
    for (const key of PLAIN_KEYS) {
        const text = config.get(key);
        if (text === undefined) continue;
        // Structured values arrive as JSON; plain strings do not parse and stay strings.
        try {
            values[key] = JSON.parse(text);
        } catch {
            values[key] = text;
        }
    }
    const secrets: Partial<Record<SecretName, pulumi.Output<string>>> = {};
    for (const [name, { key: fullKey }] of Object.entries(SECRET_KEYS) as [SecretName, { key: string }][]) {
        const [namespace, key] = fullKey.split(":", 2);
        const value = new pulumi.Config(namespace).getSecret(key);
        if (value !== undefined) secrets[name] = value;
    }
    const secretMaps: Partial<Record<SecretMapName, RawSecretMap>> = {};
    for (const [name, { key }] of Object.entries(SECRET_MAPS) as [SecretMapName, { key: string }][]) {
        const map = readSecretMap(key);
        if (map) secretMaps[name] = map;
    }
    // Which keys are secret is all the program learns of `--secret`: a value set with `--secret --path`
    // inside a structured key marks the whole key.
    const secretKeys = all.filter((key) => isConfigSecret(key));
    return parseConfig({
        stack: pulumi.getStack(),
        project: pulumi.getProject(),
        organization: pulumi.getOrganization(),
        values,
        secrets,
        secretMaps,
        secretKeys,
        commitSha,
        previousStatefulNames,
        // The GitHub provider reads the owner from its config, else from GITHUB_OWNER.
        githubOwner: new pulumi.Config("github").get("owner") ?? process.env.GITHUB_OWNER,
        envWrittenAs: envWrittenAs(pulumi.getStack()),
        // Pulumi runs the program in the project directory, where build paths start.
        pathExists: (file) => fs.existsSync(file),
    });
}

/**
 * The commit being deployed: ESTEIRA_COMMIT when a workflow deploys another commit than the one it
 * runs on (a manual deploy of a chosen commit), else GITHUB_SHA in Actions, else the checkout's
 * HEAD, else unknown.
 */
export function deployedCommit(): string | undefined {
    if (process.env.ESTEIRA_COMMIT) return process.env.ESTEIRA_COMMIT;
    if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
    try {
        return execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
    } catch {
        return undefined;
    }
}

/**
 * Every output of another stack this stack's configuration needs (the stages it promotes images
 * from: never a credential), each with the key that asks for it: what the program reads and checks
 * before it registers any resource (components/stack-reference.ts).
 */
export function otherStackReads(config: EsteiraConfig): OutputRead[] {
    const reads: OutputRead[] = [];
    const kinds = { services: config.services, workers: config.workers, jobs: config.jobs };
    for (const [kind, workloads] of Object.entries(kinds)) {
        for (const [name, workload] of Object.entries(workloads)) {
            const image = workload.image;
            if ("promoteFrom" in image) reads.push(promotionRead({ ...image, configKey: `${kind}.${name}.image.promoteFrom` }));
        }
    }
    return reads;
}
