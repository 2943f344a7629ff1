/**
 * Reading the running stack's configuration: the one impure edge of configuration. Everything it
 * reads goes through {@link parseConfig} (config/), which validates it and hands each
 * component its Args; invalid configuration throws a {@link ConfigError} before the program
 * registers a single resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import * as fs from "fs";
import { CONFIG_NAMESPACE } from "./errors";
import { EsteiraConfig, parseConfig } from "./parse";
import { SECRET_KEYS, SecretName, stackSchema } from "./schema";

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
    // Which keys are secret is all the program learns of `--secret`: a value set with `--secret --path`
    // inside a structured key marks the whole key.
    const secretKeys = all.filter((key) => isConfigSecret(key));
    return parseConfig({
        stack: pulumi.getStack(),
        project: pulumi.getProject(),
        organization: pulumi.getOrganization(),
        values,
        secrets,
        secretKeys,
        commitSha,
        // The GitHub provider reads the owner from its config, else from GITHUB_OWNER.
        githubOwner: new pulumi.Config("github").get("owner") ?? process.env.GITHUB_OWNER,
        // Pulumi runs the program in the project directory, where build paths start.
        pathExists: (file) => fs.existsSync(file),
    });
}

/** The commit being deployed: GITHUB_SHA in Actions, else the checkout's HEAD, else unknown. */
export function deployedCommit(): string | undefined {
    if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
    try {
        return execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
    } catch {
        return undefined;
    }
}
