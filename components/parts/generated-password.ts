import * as pulumi from "@pulumi/pulumi";

/**
 * A random password made once, when the resource is created, and kept in the state (a secret
 * output) until the resource is replaced or deleted: a dynamic resource, so the local line and
 * every runner need no further provider plugin (what @pulumi/random would add).
 */
const passwordProvider: pulumi.dynamic.ResourceProvider = {
    async create() {
        // 32 bytes as base64url: no character a connection URL must escape.
        const password = require("crypto").randomBytes(32).toString("base64url");
        return { id: require("crypto").randomUUID(), outs: { password } };
    },
    async diff() {
        return { changes: false };
    },
};

export class GeneratedPassword extends pulumi.dynamic.Resource {
    declare public readonly password: pulumi.Output<string>;

    constructor(name: string, opts?: pulumi.CustomResourceOptions) {
        super(passwordProvider, name, { password: undefined }, { ...opts, additionalSecretOutputs: ["password"] });
    }
}
