/**
 * A Pulumi mock monitor that records every registration (type, name, inputs, parent, options)
 * and every read, so tests can assert on the resource graph the way a policy would.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeState from "@pulumi/pulumi/runtime/state";
import { callResults, defaultState, ORGANIZATION, PROJECT, StateFaker } from "./fakes";

const { specialSigKey, specialSecretSig } = pulumi.runtime;

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
    /** Aliases as the SDK sends them (e.g. `{ name }` for a former name). */
    aliases: { name?: string }[];
}

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
        // The engine this project runs (the CLI 3.259.0 built from the module proxy) serves no
        // resource or error hooks: it answers UNIMPLEMENTED and the program fails. The mocks would
        // accept them, so they refuse them here as the engine does (and no callback port is opened).
        const refuse = async (hook: { name: string }) => {
            throw new Error(`hook ${hook.name}: the Pulumi engine this project runs serves no resource or error hooks`);
        };
        store().callbacks = {
            registerResourceHook: refuse,
            registerErrorHook: refuse,
            awaitStackRegistrations: async () => undefined,
            shutdown: () => undefined,
        };
        const monitor = pulumi.runtime.getMonitor() as any;
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: (err: any, res: any) => void) =>
            register(req, (err: any, res: any) => {
                if (!err) this.resources.push(recorded(req, res));
                callback(err, res);
            });
        // Reads are recorded apart: `pulumi destroy` never deletes them.
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

/** The SDK's run-time state, where the program's callback server lives (left out of its typings). */
function store(): { callbacks?: unknown } {
    return (runtimeState as unknown as { getStore(): { callbacks?: unknown } }).getStore();
}

function recorded(req: any, res: any): RecordedResource {
    const rawInputs = req.getObject()?.toJavaScript() ?? {};
    return {
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
        // Only the fields an alias spec sets (the rest default to the resource's own).
        aliases: req
            .getAliasesList()
            .map((alias: any) => Object.fromEntries(Object.entries(alias.getSpec()?.toObject() ?? {}).filter(([, value]) => value))),
    };
}

/** Whether a serialized input is a Pulumi secret (its value under `.value`). */
export function isSecretValue(value: any): boolean {
    return Boolean(value && value[specialSigKey] === specialSecretSig);
}

function unwrapSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        if (isSecretValue(value)) return unwrapSecrets(value.value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** True when the serialized input at `keyPath` (dotted) is, or sits inside, a secret. */
export function isSecretInput(resource: RecordedResource, keyPath: string): boolean {
    let node: any = resource.rawInputs;
    for (const key of keyPath.split(".")) {
        if (isSecretValue(node)) return true;
        if (node === undefined || node === null) return false;
        node = node[key];
    }
    return isSecretValue(node);
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
