/**
 * Shared Pulumi mocks for the unit tests: records every resource registration (type, name,
 * inputs, parent, options) and evaluates the real program against the real stack files.
 *
 * `setMocks` must run before the program is imported; `evaluateStack` takes care of that and
 * re-imports index.ts for each stack, so several stacks can be evaluated in one mocha process.
 */
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const PROJECT = "esteira";
/** The organization a DIY backend reports. */
export const ORGANIZATION = "organization";

/** A digest as the registry would report it, derived from a name so each image differs. */
export function fakeDigest(name: string): string {
    return `sha256:${createHash("sha256").update(name).digest("hex")}`;
}

/** Outputs of other stacks, as `StackReference`s read them: `<org>/<project>/<stack>` → outputs. */
export const OTHER_STACK_OUTPUTS: Record<string, Record<string, unknown>> = {
    [`${ORGANIZATION}/${PROJECT}/homolog`]: {
        images: { sample: `ghcr.io/esteira-dev/esteira/sample@${fakeDigest("homolog-sample")}` },
        kubeconfig: '{"apiVersion":"v1","kind":"Config","current-context":"esteira-homolog"}',
        clusterId: "homolog-doks-id",
        databaseClusterId: "homolog-db-cluster-id",
    },
};

/** Pulumi's marker for a secret value in serialized properties. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

export interface RecordedResource {
    type: string;
    name: string;
    urn: string;
    custom: boolean;
    /** Inputs with secrets unwrapped to their values. */
    inputs: Record<string, any>;
    /** Inputs as serialized, where secrets are still marked. */
    rawInputs: Record<string, any>;
    parent: string;
    provider: string;
    protect: boolean;
    deletedWith: string;
    retainOnDelete: boolean;
    dependencies: string[];
    additionalSecretOutputs: string[];
    ignoreChanges: string[];
    deleteBeforeReplace: boolean;
    customTimeouts?: { create: string; update: string };
}

/** Fake state for resources whose outputs the program reads (e.g. a LoadBalancer's address). */
export type StateFaker = (args: pulumi.runtime.MockResourceArgs) => Record<string, any> | undefined;

/** What the real providers would report for the outputs the program reads. */
export const defaultState: StateFaker = (args) => {
    switch (args.type) {
        case "kubernetes:core/v1:Service":
            return args.inputs.spec?.type === "LoadBalancer"
                ? { status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } } }
                : undefined;
        case "digitalocean:index/kubernetesCluster:KubernetesCluster":
            return {
                endpoint: `https://${args.name}.k8s.ondigitalocean.com`,
                kubeConfigs: [{ clusterCaCertificate: "Q0EtREFUQQ==", rawConfig: "EXPIRING-RAW-CONFIG", token: "expiring" }],
            };
        case "digitalocean:index/databaseCluster:DatabaseCluster":
            return { privateHost: `private-${args.name}.db.ondigitalocean.com`, port: 25060 };
        case "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool":
            return { privateHost: `private-${args.name}.db.ondigitalocean.com`, port: 25061 };
        case "digitalocean:index/databaseUser:DatabaseUser":
            return { password: "generated-password" };
        case "docker-build:index:Image":
            return { digest: fakeDigest(args.name) };
        case "pulumi:pulumi:StackReference":
            return { outputs: OTHER_STACK_OUTPUTS[args.inputs.name] ?? {}, secretOutputNames: [] };
        default:
            return undefined;
    }
};

/** A resource the program read rather than created (`StackReference`, `Resource.get`). */
export interface ReadResource {
    type: string;
    name: string;
    urn: string;
    id: string;
    parent: string;
}

export class Recorder {
    readonly resources: RecordedResource[] = [];
    readonly reads: ReadResource[] = [];
    readonly calls: pulumi.runtime.MockCallArgs[] = [];

    constructor(private readonly fakeState: StateFaker = defaultState) {}

    readonly mocks: pulumi.runtime.Mocks = {
        newResource: (args) => ({
            id: args.custom === false ? undefined : `${args.name}-id`,
            state: { ...args.inputs, ...this.fakeState(args) },
        }),
        call: (args) => {
            this.calls.push(args);
            return callResults(args);
        },
    };

    /** Installs the mocks and wraps the mock monitor so every registration request is recorded. */
    async install(stack: string, preview = false): Promise<void> {
        await pulumi.runtime.setMocks(this.mocks, PROJECT, stack, preview, ORGANIZATION);
        const monitor = pulumi.runtime.getMonitor() as any;
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: (err: any, res: any) => void) =>
            register(req, (err: any, res: any) => {
                if (!err) {
                    const rawInputs = req.getObject()?.toJavaScript() ?? {};
                    this.resources.push({
                        type: req.getType(),
                        name: req.getName(),
                        urn: res.getUrn(),
                        custom: req.getCustom(),
                        inputs: unwrapSecrets(rawInputs),
                        rawInputs,
                        parent: req.getParent(),
                        provider: req.getProvider(),
                        protect: req.getProtect() ?? false,
                        deletedWith: req.getDeletedwith(),
                        retainOnDelete: req.getRetainondelete() ?? false,
                        dependencies: req.getDependenciesList(),
                        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
                        ignoreChanges: req.getIgnorechangesList(),
                        deleteBeforeReplace: req.getDeletebeforereplace(),
                        customTimeouts: req.getCustomtimeouts()?.toObject(),
                    });
                }
                callback(err, res);
            });
        this.recordReads(monitor);
    }

    /** Registrations of reads are recorded apart: `pulumi destroy` never deletes them. */
    private recordReads(monitor: any): void {
        const read = monitor.readResource.bind(monitor);
        monitor.readResource = (req: any, callback: (err: any, res: any) => void) =>
            read(req, (err: any, res: any) => {
                if (!err) {
                    this.reads.push({
                        type: req.getType(),
                        name: req.getName(),
                        urn: res.getUrn(),
                        id: req.getId(),
                        parent: req.getParent(),
                    });
                }
                callback(err, res);
            });
    }

    /** All resources of a type. */
    all(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }

    /** The one resource of this type and name; fails naming what is missing. */
    get(type: string, name: string): RecordedResource {
        const found = this.resources.filter((r) => r.type === type && r.name === name);
        if (found.length !== 1) {
            const names = this.all(type).map((r) => r.name);
            throw new Error(`expected one ${type} named "${name}", found ${found.length} (${type} names: ${names.join(", ") || "none"})`);
        }
        return found[0];
    }

    /** The resource this one was registered under. */
    parentOf(resource: RecordedResource): RecordedResource | undefined {
        return this.resources.find((r) => r.urn === resource.parent);
    }

    /** Waits until registrations stop arriving (some happen inside `apply` callbacks). */
    async settle(): Promise<void> {
        let stable = 0;
        let last = -1;
        while (stable < 5) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            const seen = this.resources.length + this.reads.length;
            stable = seen === last ? stable + 1 : 0;
            last = seen;
        }
    }
}

/** Canned answers for provider functions the program invokes. */
function callResults(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    switch (args.token) {
        // GitHub resolves names to numeric ids; derive stable fake ids from the names.
        case "github:index/getUser:getUser":
            return { ...args.inputs, id: String(fakeId(args.inputs.username)) };
        case "github:index/getTeam:getTeam":
            return { ...args.inputs, id: String(fakeId(args.inputs.slug)) };
        default:
            return args.inputs;
    }
}

/** A stable numeric id for a name, as GitHub would return for a user or team. */
export function fakeId(name: string): number {
    return parseInt(createHash("sha256").update(name).digest("hex").slice(0, 8), 16);
}

function unwrapSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        if (value[SIG_KEY] === SECRET_SIG) return unwrapSecrets(value.value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** True when the serialized input at `keyPath` (dotted) is, or sits inside, a secret. */
export function isSecretInput(resource: RecordedResource, keyPath: string): boolean {
    let node: any = resource.rawInputs;
    for (const key of keyPath.split(".")) {
        if (node && node[SIG_KEY] === SECRET_SIG) return true;
        if (node === undefined || node === null) return false;
        node = node[key];
    }
    return Boolean(node && node[SIG_KEY] === SECRET_SIG);
}

/** Resolves an Output (or plain value) in a test; rejects when the Output failed. */
export function promiseOf<T>(output: pulumi.Input<T> | undefined): Promise<T | undefined> {
    if (output === undefined) return Promise.resolve(undefined);
    // `promise()` is the SDK's own accessor; unlike `apply`, it rejects when the value failed.
    return (pulumi.output(output) as unknown as { promise(): Promise<T> }).promise();
}

/** Whether an Output is a secret. */
export function isSecretOutput(output: pulumi.Output<unknown> | undefined): Promise<boolean> {
    return output === undefined ? Promise.resolve(false) : pulumi.isSecret(output);
}

/** The stacks that have a file in the repository (Pulumi.<stack>.yaml). */
export function stackFiles(): string[] {
    return fs
        .readdirSync(REPO_ROOT)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((stack): stack is string => stack !== undefined)
        .sort();
}

export interface ProjectConfigKey {
    type: string;
    secret?: boolean;
    description?: string;
    default?: unknown;
}

export function projectFile(): { name: string; config: Record<string, ProjectConfigKey> } {
    return parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8"));
}

/** The `config:` map of a real stack file, keys as written (`esteira:services`, …). */
export function stackFileConfig(stack: string): Record<string, unknown> {
    const file = parseYaml(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8"));
    return file?.config ?? {};
}

/** Test values for the secrets a stack holds encrypted (or has set by `pulumi config set --secret`). */
export const TEST_SECRETS: Record<string, string> = {
    "esteira:registryToken": "test-registry-token",
    "digitalocean:token": "test-digitalocean-token",
    "esteira:databaseUrl": "postgresql://app:test-password@db.internal:5432/app?sslmode=require",
};

export interface EvaluateOptions {
    /** Config values (full keys) laid over the stack file's; `undefined` removes a key. */
    overrides?: Record<string, unknown>;
    /** Secret values (full keys); default {@link TEST_SECRETS}. */
    secrets?: Record<string, string | undefined>;
    preview?: boolean;
    fakeState?: StateFaker;
    /** Recorder to use, so a test can inspect registrations even when evaluation throws. */
    recorder?: Recorder;
    /** The commit being deployed (GITHUB_SHA); default a fixed test commit, so tests never depend on the checkout. */
    commitSha?: string;
}

export const TEST_COMMIT = "0123456789abcdef0123456789abcdef01234567";

export interface Evaluation {
    recorder: Recorder;
    /** The program's exports (stack outputs). */
    outputs: Record<string, any>;
}

/** Sets the runtime config exactly as the language host would: every value a string, secrets flagged. */
export function setConfig(plain: Record<string, unknown>, secrets: Record<string, string | undefined>): void {
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
    pulumi.runtime.setAllConfig(all, secretKeys);
}

/**
 * Evaluates index.ts for a stack under mocks, with the stack's real `Pulumi.<stack>.yaml` (or,
 * for `config`, a given map), and waits for every registration.
 */
export async function evaluateStack(stack: string, options: EvaluateOptions = {}, config?: Record<string, unknown>): Promise<Evaluation> {
    const recorder = options.recorder ?? new Recorder(options.fakeState);
    await recorder.install(stack, options.preview ?? false);
    const fileConfig = config ?? stackFileConfig(stack);
    // Secret values in a stack file are ciphertext; the test supplies the plaintext instead.
    const plain = Object.fromEntries(
        Object.entries({ ...fileConfig, ...options.overrides }).filter(
            ([, value]) => !(value && typeof value === "object" && "secure" in (value as object)),
        ),
    );
    setConfig(plain, options.secrets ?? TEST_SECRETS);
    process.env.GITHUB_SHA = options.commitSha ?? TEST_COMMIT;

    const entry = require.resolve(path.join(REPO_ROOT, "index.ts"));
    delete require.cache[entry];
    const outputs = require(entry);
    await recorder.settle();
    return { recorder, outputs };
}

/** A stand-in custom resource, e.g. the cluster that objects are `deletedWith`. */
export class FakeResource extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Cluster", name, {});
    }
}
