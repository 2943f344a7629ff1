import { parseFamiliarName } from "@swimlane/docker-reference";
import * as pulumi from "@pulumi/pulumi";
import { registryHost } from "../vocabulary/rules";
import { RegistryDigest } from "./parts/registry-digest";
import { OutputRead, stackOutput, StackOutputs } from "./stack-reference";

/** Promotion of whatever another stack exports in its `images` output, read through a StackReference. */
export interface StackPromotionArgs {
    /**
     * Stack to take the image from: a stack name of this project (`homolog`) or a full
     * `<organization>/<project>/<stack>` reference.
     */
    promoteFrom: string;
    /** Service whose image to take, a key of the other stack's `images` output. */
    service: string;
    /** The config key that chose the promotion, for messages. Default: `services.<service>.image.promoteFrom`. */
    configKey?: string;
    /** The other stack's outputs, read before anything was built. Default: read here, when first needed. */
    outputs?: StackOutputs;
}

/**
 * Promotion of the bytes a stage verified for one commit: the digest the registry holds under the
 * tag `verified-<stage>-<first 12 of the commit>`, which the deploy workflow pushes only after that
 * stage's smoke test passed (scripts/mark-verified.sh).
 */
export interface VerifiedPromotionArgs {
    /** The stage (stack name) whose verification to promote, e.g. `dev` for homolog, `homolog` for prod. */
    verifiedIn: string;
    /** Service, worker or job, for messages. */
    service: string;
    /** The workload's image repository, e.g. `ghcr.io/acme/shop/api`. */
    repository: string;
    /** The commit being deployed (full or at least 12 characters). */
    commit: string;
    /**
     * Registry credentials with pull rights, to read the tag; given to the lookup only for the
     * repository's own registry, and the token stays secret.
     */
    registry: { server: string; username: pulumi.Input<string>; token: pulumi.Input<string> };
    /**
     * A digest-pinned reference that replaces the verified tag (esteira:pins: a rollback, a chosen
     * digest, prod's approved release); the lookup then checks that the registry holds it. Default:
     * none, the verified tag's digest.
     */
    pin?: string;
}

/** What a promotion from another stack reads: its `images` output, holding this service's digest-pinned reference. */
export function promotionRead(args: StackPromotionArgs): OutputRead {
    const from = args.promoteFrom;
    return {
        stack: from,
        output: "images",
        configKey: args.configKey ?? `services.${args.service}.image.promoteFrom`,
        fix: `run \`pulumi up -s ${from}\` first, or build the image here (image.build)`,
        check: (images) => {
            const ref = (images as Record<string, unknown>)[args.service];
            if (ref === undefined || ref === null || ref === "") {
                return `exports no image for "${args.service}" (it has ${JSON.stringify(Object.keys(images as object))}): run \`pulumi up -s ${from}\` with that workload first, or build the image here (image.build)`;
            }
            if (typeof ref !== "string" || !DIGEST.test(ref)) {
                return `exports ${JSON.stringify(ref)} for "${args.service}", which is not pinned by digest; promotion needs <repository>@sha256:<digest>: deploy ${from} again with a current esteira, or pin a digest in esteira:pins`;
            }
            return undefined;
        },
    };
}

export type PromotedImageArgs = StackPromotionArgs | VerifiedPromotionArgs;

const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** `verified-<stage>-<first 12 of the commit>`: the tag a stage's passing smoke test puts on what it ran. */
export function verifiedTag(stage: string, commit: string): string {
    return `verified-${stage}-${commit.slice(0, 12)}`;
}

/** What a promotion of a commit the stage never verified is told to do (after the registry's "no such tag"). */
export function notVerifiedHint(stage: string, commit: string): string {
    return (
        `no image verified in ${stage} for commit ${commit.slice(0, 12)}: deploy and smoke-test this commit in ${stage} first, ` +
        `or deploy a verified digest with the deploy workflow's "Run workflow"`
    );
}

/** What a pin the registry does not hold is told. */
export const PIN_NOT_FOUND =
    "the digest esteira:pins names is not in the registry; pin a digest a stage verified (scripts/verified-images.sh)";

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
        return stackOutput<Record<string, string>>(this, name, promotionRead(args), args.outputs).apply((images) => images[args.service]);
    }

    /**
     * The registry is asked over its own API (parts/registry-digest.ts: no Docker daemon, no provider
     * plugin) on every preview and `up`, so a tag that moved shows as a change. Pinned or not, the
     * lookup is the same resource, so a rollback adds or removes nothing; pinned, it only checks that
     * the registry holds the pinned digest, and the pin itself is the image, known to a preview.
     */
    private verified(name: string, args: VerifiedPromotionArgs): pulumi.Output<string> {
        const wanted = parseFamiliarName(args.pin ?? `${args.repository}:${verifiedTag(args.verifiedIn, args.commit)}`);
        const { domain, repository } = wanted;
        // The config's rules refuse such a reference first; this guards other callers.
        if (!domain || !repository) {
            throw new pulumi.RunError(`${name}: image ${JSON.stringify(args.pin ?? args.repository)} names no repository`);
        }
        // The stack's token goes to its own registry only.
        const own = registryHost(args.registry.server) === domain;
        const lookup = new RegistryDigest(
            `${name}-digest`,
            {
                domain,
                repository,
                tag: wanted.digest ?? wanted.tag ?? "latest",
                username: own ? args.registry.username : undefined,
                password: own ? args.registry.token : undefined,
                notFound: args.pin === undefined ? notVerifiedHint(args.verifiedIn, args.commit) : PIN_NOT_FOUND,
            },
            { parent: this },
        );
        return args.pin !== undefined ? pulumi.output(args.pin) : pulumi.interpolate`${domain}/${repository}@${lookup.digest}`;
    }
}
