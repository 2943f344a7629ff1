import * as pulumi from "@pulumi/pulumi";

/**
 * The `StackReference` name for a stack given in config: a bare stack name (`homolog`) means that
 * stack of this project in this organization; `<organization>/<project>/<stack>` is used as given.
 */
export function stackReferenceName(stack: string): string {
    return stack.includes("/") ? stack : `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}
