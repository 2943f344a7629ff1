import * as pulumi from "@pulumi/pulumi";
import { parseFamiliarName } from "@swimlane/docker-reference";
import { registryHost } from "../vocabulary/rules";
import { RegistryDigest } from "./parts/registry-digest";

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
 * deploy looks again. The lookup asks the registry's own API (parts/registry-digest.ts).
 */
export class PinnedImage extends pulumi.ComponentResource {
    /** `<registry>/<repository>:<tag>@sha256:…`: the tag, for people, and the digest the nodes pull. */
    public readonly ref: pulumi.Output<string>;
    /** The digest the tag pointed at, `sha256:…`. */
    public readonly digest: pulumi.Output<string>;

    constructor(name: string, args: PinnedImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:image:PinnedImage", name, {}, opts);

        const { domain, repository, tag = "latest" } = parseFamiliarName(args.ref);
        // The config's image rule refuses such a reference first; this guards other callers.
        if (!domain || !repository) throw new pulumi.RunError(`image ${JSON.stringify(args.ref)} names no repository`);
        const canonical = `${domain}/${repository}:${tag}`;
        // The stack's token goes to its own registry only, never to another host.
        const registry = args.registry && registryHost(args.registry.server) === domain ? args.registry : undefined;
        this.digest = new RegistryDigest(
            `${name}-digest`,
            {
                domain,
                repository,
                tag,
                username: registry?.username,
                password: registry?.token,
            },
            { parent: this },
        ).digest;
        this.ref = pulumi.interpolate`${canonical}@${this.digest}`;

        this.registerOutputs({ ref: this.ref, digest: this.digest });
    }
}
