import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";

export interface ImageArgs {
    /** Image repository without tag, e.g. `ghcr.io/acme/shop/api`. */
    repository: string;
    /** Build context directory, relative to the project (kept relative so state is the same on every machine). */
    context: string;
    /** Dockerfile path, relative to the project. Default: `<context>/Dockerfile`. */
    dockerfile?: string;
    /** Build arguments. Default: none. */
    buildArgs?: Record<string, pulumi.Input<string>>;
    /** Build stage to stop at. Default: the last stage. */
    target?: string;
    /** Tags pushed besides the digest, e.g. `sha-<commit>` and the stack name. Default: none. */
    tags?: string[];
    /** Registry credentials for the push; the password stays secret. */
    registry: { address: pulumi.Input<string>; username: pulumi.Input<string>; password: pulumi.Input<string> };
    /** Build during `pulumi preview` too. Default: false — previews (PR checks) never build or push. */
    buildOnPreview?: boolean;
    /** Use the registry as build cache (`<repository>:buildcache`). Default: true. */
    cache?: boolean;
    /** Target platforms. Default: `linux/amd64` (DOKS nodes). */
    platforms?: dockerBuild.Platform[];
    /** Build network. Default: the builder's default; `host` where the build must reach a registry on loopback. */
    network?: dockerBuild.NetworkMode;
    /**
     * Run the machine's `docker buildx` plugin instead of the provider's embedded client. Default:
     * false. Where no BuildKit image can be pulled, exec mode with the daemon's own `default`
     * builder is what builds.
     */
    exec?: boolean;
    /** Existing buildx builder to use, e.g. `default` (the Docker daemon's own). Default: one the provider creates. */
    builder?: string;
}

/** Defaults of {@link ImageArgs}, applied once in the component. */
export const IMAGE_DEFAULTS = {
    buildOnPreview: false,
    cache: true,
    platforms: ["linux/amd64"] as dockerBuild.Platform[],
};

/**
 * A service image built from its Dockerfile and pushed to the registry as part of `pulumi up`.
 * Consumers use {@link Image.ref}, pinned by digest, so pods roll only when the bytes change.
 */
export class Image extends pulumi.ComponentResource {
    /** `<repository>@sha256:…` — the exact pushed image. */
    public readonly ref: pulumi.Output<string>;
    /** The manifest digest, `sha256:…`. */
    public readonly digest: pulumi.Output<string>;

    constructor(name: string, args: ImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:image:Image", name, {}, opts);

        const d = IMAGE_DEFAULTS;
        const cacheRef = `${args.repository}:buildcache`;
        const cache = args.cache ?? d.cache;

        const image = new dockerBuild.Image(
            `${name}-image`,
            {
                context: { location: args.context },
                dockerfile: { location: args.dockerfile ?? path.posix.join(args.context, "Dockerfile") },
                buildArgs: args.buildArgs,
                target: args.target,
                platforms: args.platforms ?? d.platforms,
                network: args.network,
                exec: args.exec,
                builder: args.builder !== undefined ? { name: args.builder } : undefined,
                tags: (args.tags ?? []).map((tag) => `${args.repository}:${tag}`),
                push: true,
                buildOnPreview: args.buildOnPreview ?? d.buildOnPreview,
                registries: [
                    {
                        address: args.registry.address,
                        username: args.registry.username,
                        password: pulumi.secret(args.registry.password),
                    },
                ],
                cacheFrom: cache ? [{ registry: { ref: cacheRef } }] : undefined,
                cacheTo: cache ? [{ registry: { ref: cacheRef, mode: "max", imageManifest: true, ociMediaTypes: true } }] : undefined,
            },
            {
                parent: this,
                // Destroying a stack must not delete images other stacks (or a rollback) still run.
                retainOnDelete: true,
            },
        );
        this.digest = image.digest;
        this.ref = pulumi.interpolate`${args.repository}@${image.digest}`;

        this.registerOutputs({ ref: this.ref, digest: this.digest });
    }
}
