/**
 * Evaluates the real program (index.ts) for a stack under mocks, with the stack's real file.
 *
 * `setMocks` must run before the program is imported; {@link evaluateStack} takes care of that and
 * re-imports index.ts for each stack, so several stacks can be evaluated in one mocha process.
 * {@link evaluated} evaluates each stack file once per run and shares the result between test files.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { StateFaker, TEST_COMMIT, TEST_SECRETS } from "./fakes";
import { Recorder } from "./recorder";
import { REPO_ROOT, stackFileConfig } from "./stack-files";

export interface EvaluateOptions {
    /** Config values (full keys) laid over the stack file's; `undefined` removes a key. */
    overrides?: Record<string, unknown>;
    /** Secret values (full keys); default {@link TEST_SECRETS}. */
    secrets?: Record<string, string | undefined>;
    preview?: boolean;
    fakeState?: StateFaker;
    /** Recorder to use, so a test can inspect registrations even when evaluation throws. */
    recorder?: Recorder;
    /** The commit being deployed (GITHUB_SHA); default {@link TEST_COMMIT}. */
    commitSha?: string;
}

export interface Evaluation {
    recorder: Recorder;
    /** The program's exports (stack outputs). */
    outputs: Record<string, any>;
}

/** Sets the runtime config exactly as the language host would: every value a string, secrets flagged. */
export function setConfig(plain: Record<string, unknown>, secrets: Record<string, string | undefined>): void {
    const { config, secretKeys } = hostConfig(plain, secrets);
    pulumi.runtime.setAllConfig(config, secretKeys);
}

/** The runtime config as the language host hands it to the program: every value a string, and the keys that are secret. */
export function hostConfig(
    plain: Record<string, unknown>,
    secrets: Record<string, string | undefined>,
): { config: Record<string, string>; secretKeys: string[] } {
    const all: Record<string, string> = {};
    for (const [key, value] of Object.entries(plain)) {
        if (value === undefined) continue;
        all[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(secrets)) {
        if (value === undefined) continue;
        all[key] = value;
        secretKeys.push(key);
    }
    return { config: all, secretKeys };
}

/**
 * Evaluates index.ts for a stack under mocks, with the stack's real `Pulumi.<stack>.yaml` (or,
 * for `config`, a given map), and waits for every registration.
 */
export async function evaluateStack(stack: string, options: EvaluateOptions = {}, config?: Record<string, unknown>): Promise<Evaluation> {
    const recorder = options.recorder ?? new Recorder(options.fakeState);
    await recorder.install(stack, options.preview ?? false);
    const { plain, secrets } = stackConfig(stack, options, config);
    setConfig(plain, secrets);
    process.env.GITHUB_SHA = options.commitSha ?? TEST_COMMIT;

    const entry = require.resolve(path.join(REPO_ROOT, "index.ts"));
    delete require.cache[entry];
    // index.ts exports a promise: it reads other stacks before it builds (components/stack-reference.ts).
    const outputs = await require(entry);
    await recorder.settle();
    return { recorder, outputs };
}

/**
 * A stack's config as a test runs it: its file's (or, for `config`, a given map) with the overrides
 * laid over. Secret values in a stack file are ciphertext; the test supplies the plaintext instead:
 * a secret key's from `secrets`, and each value inside a secret map (`esteira:secrets`, …) as the
 * engine would decrypt it, a stand-in naming its path, with the whole key marked secret.
 */
export function stackConfig(
    stack: string,
    options: Pick<EvaluateOptions, "overrides" | "secrets"> = {},
    config?: Record<string, unknown>,
): { plain: Record<string, unknown>; secrets: Record<string, string | undefined> } {
    const plain: Record<string, unknown> = {};
    const decrypted: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...(config ?? stackFileConfig(stack)), ...options.overrides })) {
        if (isSecure(value)) continue;
        if (containsSecure(value)) decrypted[key] = JSON.stringify(decrypt(value, key));
        else plain[key] = value;
    }
    return { plain, secrets: { ...decrypted, ...(options.secrets ?? testSecretsFor(plain)) } };
}

/**
 * The stand-in secrets a stack holds: the registry token, the database URL where its database is
 * external and the server's admin URL where it is made on a server, the one mode that reads each
 * (an unused secret key is refused, secret-keys-the-mode-uses).
 */
function testSecretsFor(plain: Record<string, unknown>): Record<string, string> {
    const { "esteira:databaseUrl": databaseUrl, "esteira:databaseAdminUrl": adminUrl, ...always } = TEST_SECRETS;
    const mode = (plain["esteira:database"] as { mode?: string } | undefined)?.mode;
    if (mode === "external") return { ...always, "esteira:databaseUrl": databaseUrl };
    if (mode === "server") return { ...always, "esteira:databaseAdminUrl": adminUrl };
    return always;
}

/** A value written by `pulumi config set --secret`: `{secure: <ciphertext>}`. */
function isSecure(value: unknown): boolean {
    return Boolean(value && typeof value === "object" && "secure" in (value as object));
}

function containsSecure(value: unknown): boolean {
    return value !== null && typeof value === "object" && Object.values(value as object).some((v) => isSecure(v) || containsSecure(v));
}

/** Each `{secure}` inside a value replaced with the stand-in plaintext `test-secret:<key>.<path>`. */
function decrypt(value: unknown, path: string): unknown {
    if (isSecure(value)) return `test-secret:${path}`;
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, decrypt(v, `${path}.${k}`)]));
}

const cache = new Map<string, Promise<Evaluation>>();

/** The stack file evaluated as it is, once per test run, shared by every test that only reads it. */
export function evaluated(stack: string): Promise<Evaluation> {
    let evaluation = cache.get(stack);
    if (!evaluation) {
        evaluation = evaluateStack(stack);
        cache.set(stack, evaluation);
    }
    return evaluation;
}
