/**
 * Reading the running stack's configuration: the one impure edge of configuration. Everything it
 * reads goes through {@link parseConfig} (config/), which validates it and hands each
 * component its Args; invalid configuration throws a {@link ConfigError} before the program
 * registers a single resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import { CONFIG_NAMESPACE } from "./errors";
import { EsteiraConfig, parseConfig } from "./parse";
import { SECRET_KEYS, SecretName, stackSchema } from "./schema";

export { ConfigError, CONFIG_NAMESPACE } from "./errors";
export { parseConfig, type EsteiraConfig, type RawConfig } from "./parse";

/** Plain keys read from `esteira:`; everything else under the namespace is either secret or unknown. */
const PLAIN_KEYS = Object.keys(stackSchema.shape);

/**
 * Reads the running stack's configuration and validates it. Call before registering any resource.
 * `commitSha` is the commit being deployed, when known (see {@link deployedCommit}).
 */
export function loadConfig(commitSha?: string): EsteiraConfig {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const values: Record<string, unknown> = {};
    // Unknown keys (typos such as `esteira:servces`) are passed on so the strict schema names them;
    // only the key is looked at, never its value, which might be a secret.
    const known = new Set<string>([
        ...PLAIN_KEYS.map((key) => `${CONFIG_NAMESPACE}:${key}`),
        ...Object.values(SECRET_KEYS).map((s) => s.key),
    ]);
    for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
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
    return parseConfig({ stack: pulumi.getStack(), project: pulumi.getProject(), values, secrets, commitSha });
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
