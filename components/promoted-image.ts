import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { readStack } from "./stack-reference";

/** Promotion of whatever another stack exports in its `images` output, read through a StackReference. */
export interface StackPromotionArgs {
    /**
     * Stack to take the image from: a stack name of this project (`homolog`) or a full
     * `<organization>/<project>/<stack>` reference.
     */
    promoteFrom: string;
    /** Service whose image to take, a key of the other stack's `images` output. */
    service: string;
}

/**
 * Promotion of the bytes a stage verified for one commit: the digest the registry holds under the
 * tag `verified-<stage>-<first 12 of the commit>`, which the deploy workflow pushes only after that
 * stage's smoke test passed (scripts/mark-verified.sh). Resolved during preview too, so a preview
 * shows the digest that will ship.
 */
export interface VerifiedPromotionArgs {
    /** The stage (stack name) whose verification to promote, e.g. `dev` for homolog, `homolog` for prod. */
    verifiedIn: string;
    /** Service, for messages. */
    service: string;
    /** The service's image repository, e.g. `ghcr.io/acme/shop/api`. */
    repository: string;
    /** The commit being deployed (full or at least 12 characters). */
    commit: string;
    /** Registry credentials with pull rights, to read the tag; the token stays secret. */
    registry: { server: pulumi.Input<string>; username: pulumi.Input<string>; token: pulumi.Input<string> };
    /**
     * A digest-pinned reference that replaces the lookup (esteira:pins: a rollback, a chosen digest,
     * prod's approved release). Default: none, the verified tag's digest.
     */
    pin?: string;
}

export type PromotedImageArgs = StackPromotionArgs | VerifiedPromotionArgs;

const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** `verified-<stage>-<first 12 of the commit>`: the tag a stage's passing smoke test puts on what it ran. */
export function verifiedTag(stage: string, commit: string): string {
    return `verified-${stage}-${commit.slice(0, 12)}`;
}

/**
 * A service image promoted from an earlier stage instead of built: the digest-pinned reference
 * another stack exported, or the digest a stage verified for the commit being deployed, so this
 * environment runs exactly the bytes the other one tested.
 */
export class PromotedImage extends pulumi.ComponentResource {
    /** `<repository>@sha256:…`, the bytes to run. */
    public readonly ref: pulumi.Output<string>;

    constructor(name: string, args: PromotedImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:image:PromotedImage", name, {}, opts);
        this.ref = "verifiedIn" in args ? this.verified(name, args) : this.fromStack(name, args);
        this.registerOutputs({ ref: this.ref });
    }

    private fromStack(name: string, args: StackPromotionArgs): pulumi.Output<string> {
        const source = readStack(this, name, args.promoteFrom);
        return source.requireOutput("images").apply((images: Record<string, string> | undefined) => {
            const ref = images?.[args.service];
            if (!ref) {
                throw new pulumi.RunError(
                    `stack "${args.promoteFrom}" exports no image for service "${args.service}": run \`pulumi up -s ${args.promoteFrom}\` first, or build the image here (image.build)`,
                );
            }
            if (!DIGEST.test(ref)) {
                throw new pulumi.RunError(
                    `stack "${args.promoteFrom}" exports ${JSON.stringify(ref)} for service "${args.service}", which is not pinned by digest; promotion needs <repository>@sha256:<digest>`,
                );
            }
            return ref;
        });
    }

    private verified(name: string, args: VerifiedPromotionArgs): pulumi.Output<string> {
        // Always registered, pinned or not, so a rollback does not add or remove a resource.
        const registry = new docker.Provider(
            `${name}-registry`,
            {
                registryAuth: [
                    { address: args.registry.server, username: args.registry.username, password: pulumi.secret(args.registry.token) },
                ],
                // Only the registry is asked: the job needs no Docker daemon.
                disableDockerDaemonCheck: true,
            },
            { parent: this },
        );
        if (args.pin !== undefined) return pulumi.output(args.pin);

        const tag = `${args.repository}:${verifiedTag(args.verifiedIn, args.commit)}`;
        const lookup = docker.getRegistryImage({ name: tag }, { parent: this, provider: registry }).then(
            (image) => `${args.repository}@${image.sha256Digest}`,
            (err: Error) => {
                throw new pulumi.RunError(
                    `service "${args.service}": no image verified in ${args.verifiedIn} for commit ${args.commit.slice(0, 12)} (${tag}): ` +
                        `deploy and smoke-test this commit in ${args.verifiedIn} first, or deploy a verified digest with the deploy workflow's "Run workflow" (registry: ${err.message})`,
                );
            },
        );
        return pulumi.output(lookup);
    }
}
