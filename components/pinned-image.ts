import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { parseFamiliarName } from "@swimlane/docker-reference";
import { registryHost } from "../config/rules";

/** Whether a reference names its digest: it runs as it is, with no lookup. */
export function digestPinned(ref: string): boolean {
    return parseFamiliarName(ref).digest !== undefined;
}

export interface PinnedImageArgs {
    /** An image reference by tag, e.g. `nginx:1.27` or `ghcr.io/acme/api:1.4.2` (`nginx` is `nginx:latest`). */
    ref: string;
    /**
     * The registry the stack pulls from, with its pull token (secret): the lookup authenticates with
     * it only when the image is on that registry, and asks any other registry anonymously. Default: none.
     */
    registry?: { server: string; username: pulumi.Input<string>; token: pulumi.Input<string> };
}

/**
 * An image given by tag, resolved to the digest the tag points at when the stack is deployed, so
 * pods never run a moving tag: `nginx` is `docker.io/library/nginx:latest@sha256:…` until the next
 * deploy looks again. The lookup goes through a docker provider of its own (no daemon needed).
 */
export class PinnedImage extends pulumi.ComponentResource {
    /** `<registry>/<repository>:<tag>@sha256:…`: the tag, for people, and the digest the nodes pull. */
    public readonly ref: pulumi.Output<string>;
    /** The digest the tag pointed at, `sha256:…`. */
    public readonly digest: pulumi.Output<string>;

    constructor(name: string, args: PinnedImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:image:PinnedImage", name, {}, opts);

        const parsed = parseFamiliarName(args.ref);
        const canonical = `${parsed.domain}/${parsed.repository}:${parsed.tag ?? "latest"}`;
        // The stack's token goes to its own registry only, never to another host.
        const registry = args.registry && registryHost(args.registry.server) === parsed.domain ? args.registry : undefined;
        const provider = new docker.Provider(
            `${name}-registry`,
            {
                // A registry lookup needs no Docker daemon.
                disableDockerDaemonCheck: true,
                registryAuth: registry
                    ? [{ address: registry.server, username: registry.username, password: pulumi.secret(registry.token) }]
                    : undefined,
            },
            { parent: this },
        );
        this.digest = docker.getRegistryImageOutput({ name: canonical }, { parent: this, provider }).sha256Digest;
        this.ref = pulumi.interpolate`${canonical}@${this.digest}`;

        this.registerOutputs({ ref: this.ref, digest: this.digest });
    }
}
