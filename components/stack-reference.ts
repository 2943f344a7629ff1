import * as pulumi from "@pulumi/pulumi";

/**
 * The `StackReference` name for a stack given in config: a bare stack name (`homolog`) means that
 * stack of this project in this organization; `<organization>/<project>/<stack>` is used as given.
 */
export function stackReferenceName(stack: string): string {
    return stack.includes("/") ? stack : `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}

/** One output of another stack the program needs, and what to say when it is missing or wrong. */
export interface OutputRead {
    /** The other stack, as the config gives it. */
    stack: string;
    /** The output to read, e.g. `kubeconfig`. */
    output: string;
    /** The config key that names the other stack, e.g. `services.api.image.promoteFrom`. */
    configKey: string;
    /** What to do when the output is missing, e.g. "run `pulumi up -s homolog` first". */
    fix: string;
    /** What is wrong with the value found (never echoing a secret), or undefined when it is usable. */
    check?: (value: unknown) => string | undefined;
}

/** A value another stack exports, as read before anything was built; secret when it was exported as one. */
interface Found {
    value: unknown;
    secret: boolean;
}

/**
 * Outputs of other stacks, read and checked before the program registers any resource of its own
 * (see {@link readStacksFirst}); the components take their values from here.
 */
export class StackOutputs {
    constructor(private readonly found: ReadonlyMap<string, Found>) {}

    /** The value `stack` exports as `output`, kept secret where the other stack kept it secret; undefined if not read first. */
    get<T>(stack: string, output: string): pulumi.Output<T> | undefined {
        const found = this.found.get(key(stackReferenceName(stack), output));
        if (found === undefined) return undefined;
        const value = pulumi.output(found.value) as pulumi.Output<T>;
        return found.secret ? (pulumi.secret(value) as pulumi.Output<T>) : value;
    }
}

const key = (stack: string, output: string) => `${stack}#${output}`;

/** Pulumi prints a RunError's message without a stack trace. */
export class StackOutputsError extends pulumi.RunError {
    constructor(readonly problems: readonly string[]) {
        super(
            `stack "${pulumi.getStack()}" reads other stacks' outputs it cannot use; nothing was built:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
    }
}

/**
 * Reads every output in `reads` (one StackReference per stack, a read the engine registers, never a
 * resource this stack owns) and checks it, before the program builds anything: a missing or unusable
 * output fails once, each problem naming this stack, the config key, what was found and what to run,
 * instead of failing deep inside a resource's inputs after others were registered.
 */
export async function readStacksFirst(reads: readonly OutputRead[]): Promise<StackOutputs> {
    const references = new Map<string, pulumi.StackReference>();
    for (const read of reads) {
        const name = stackReferenceName(read.stack);
        if (!references.has(name)) references.set(name, new pulumi.StackReference(name, { name }));
    }
    const found = new Map<string, Found>();
    const problems: string[] = [];
    const at = (read: OutputRead) => `${pulumi.getStack()}: ${read.configKey}`;
    for (const read of reads) {
        const name = stackReferenceName(read.stack);
        let details: pulumi.StackReferenceOutputDetails;
        try {
            details = await references.get(name)!.getOutputDetails(read.output);
        } catch (err) {
            problems.push(
                `${at(read)}: stack "${read.stack}" could not be read (${(err as Error).message ?? err}); check the name with \`pulumi stack ls\`, or ${read.fix}`,
            );
            continue;
        }
        const secret = details.secretValue !== undefined;
        const value = secret ? details.secretValue : details.value;
        if (value === undefined || value === null) {
            problems.push(`${at(read)}: stack "${read.stack}" exports no \`${read.output}\` output; ${read.fix}`);
            continue;
        }
        const wrong = read.check?.(value);
        if (wrong !== undefined) {
            problems.push(`${at(read)}: stack "${read.stack}" ${wrong}`);
            continue;
        }
        found.set(key(name, read.output), { value, secret });
    }
    if (problems.length > 0) throw new StackOutputsError(problems);
    return new StackOutputs(found);
}

/**
 * One output of another stack: the value read first when `outputs` holds it, else read here as
 * `<name>-source` under `owner` (a component used on its own). When the stack does not export it,
 * the program fails with one line — no stack trace — naming this stack, the config key that points
 * at the other stack, and the fix.
 */
export function stackOutput<T>(owner: pulumi.Resource, name: string, read: OutputRead, outputs?: StackOutputs): pulumi.Output<T> {
    const first = outputs?.get<T>(read.stack, read.output);
    if (first !== undefined) return first;
    const source = new pulumi.StackReference(`${name}-source`, { name: stackReferenceName(read.stack) }, { parent: owner });
    return source.getOutput(read.output).apply((value: T | undefined | null) => {
        const wrong = value === undefined || value === null ? `exports no \`${read.output}\` output; ${read.fix}` : read.check?.(value);
        if (wrong !== undefined) throw new pulumi.RunError(`${pulumi.getStack()}: ${read.configKey}: stack "${read.stack}" ${wrong}`);
        return value as T;
    });
}

/**
 * One output this very stack exported on its last deployment, read through a StackReference to
 * itself before anything is built (the engine keeps the last deployment's outputs until this one
 * ends); undefined on a first deployment or when the output did not exist yet.
 */
export async function previousOwnOutput(output: string): Promise<unknown> {
    const name = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    const details = await new pulumi.StackReference(name, { name }).getOutputDetails(output);
    return details.value ?? details.secretValue;
}
