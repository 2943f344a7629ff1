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
