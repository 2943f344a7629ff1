import * as pulumi from "@pulumi/pulumi";

/**
 * The `StackReference` name for a stack given in config: a bare stack name (`homolog`) means that
 * stack of this project in this organization; `<organization>/<project>/<stack>` is used as given.
 */
export function stackReferenceName(stack: string): string {
    return stack.includes("/") ? stack : `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}

/**
 * Reads another stack's outputs as `<name>-source` under `parent`. A read, not a resource this
 * stack owns: `pulumi destroy` never touches what the other stack created.
 */
export function readStack(parent: pulumi.Resource, name: string, stack: string): pulumi.StackReference {
    return new pulumi.StackReference(`${name}-source`, { name: stackReferenceName(stack) }, { parent });
}

/**
 * One output of another stack. When the stack does not export it (not deployed yet, or laid out
 * differently), the program fails with one line — no stack trace — naming this stack, the config
 * key that points at the other stack, and the fix.
 */
export function stackOutput<T>(
    source: pulumi.StackReference,
    args: {
        /** The output to read, e.g. `kubeconfig`. */
        output: string;
        /** The config key that names the other stack, e.g. `cluster.stack`. */
        configKey: string;
        /** The other stack, as the config gives it. */
        stack: string;
        /** What to do about it, e.g. "run `pulumi up -s homolog` first". */
        fix: string;
    },
): pulumi.Output<T> {
    return source.getOutput(args.output).apply((value: T | undefined | null) => {
        if (value === undefined || value === null) {
            throw new pulumi.RunError(
                `${pulumi.getStack()}: ${args.configKey}: stack "${args.stack}" exports no \`${args.output}\` output; ${args.fix}`,
            );
        }
        return value;
    });
}
