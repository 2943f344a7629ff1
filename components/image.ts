import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import type { BuildSettings, ImagesSettings } from "../vocabulary/schema";
import { IMAGE_DEFAULTS } from "../vocabulary/defaults";

/**
 * A service's `image.build` keys and the stack's `esteira:images` keys (vocabulary/schema.ts), with the
 * image's own repository, its tags and the registry to push to.
 */
export type ImageArgs = Omit<BuildSettings, "secrets"> &
    Omit<ImagesSettings, "repository" | "cacheFrom"> & {
        /** BuildKit secrets the build reads (`RUN --mount=type=secret,id=<id>`), id → value; kept secret. Default: none. */
        secrets?: Record<string, pulumi.Input<string>>;
        /** Image repository without tag, e.g. `ghcr.io/acme/shop/api`. */
        repository: string;
        /**
         * Other repositories of this image whose `:buildcache` the build reads but never writes, e.g.
         * main's `ghcr.io/acme/shop/api` for a pull request's `ghcr.io/acme/shop/pr/api`. Default: none.
         */
        cacheFrom?: string[];
        /** Tags pushed besides the digest, e.g. `sha-<commit>` and the stack name. Default: none. */
        tags?: string[];
        /** Registry credentials for the push; the token stays secret. */
        registry: { server: pulumi.Input<string>; username: pulumi.Input<string>; pushToken: pulumi.Input<string> };
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
                buildArgs: args.args,
                target: args.target,
                platforms: (args.platforms ?? d.platforms) as dockerBuild.Platform[],
                network: args.network as dockerBuild.NetworkMode | undefined,
                exec: args.exec,
                builder: args.builder !== undefined ? { name: args.builder } : undefined,
                tags: (args.tags ?? []).map((tag) => `${args.repository}:${tag}`),
                push: true,
                buildOnPreview: args.buildOnPreview ?? d.buildOnPreview,
                registries: [
                    {
                        address: args.registry.server,
                        username: args.registry.username,
                        password: pulumi.secret(args.registry.pushToken),
                    },
                ],
                // Never build args: those stay in the image's history and the state in plain text.
                secrets: args.secrets && pulumi.secret(args.secrets),
                // A rotated token is no new content: it must not rebuild the image.
                ignoreSecretsInDiffCalculation: args.secrets && Object.keys(args.secrets),
                // Its own cache first; others' only as fallbacks, and never written (cacheTo is its own alone).
                cacheFrom: cache
                    ? [cacheRef, ...(args.cacheFrom ?? []).map((repository) => `${repository}:buildcache`)].map((ref) => ({
                          registry: { ref },
                      }))
                    : undefined,
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
