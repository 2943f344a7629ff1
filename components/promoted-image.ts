import * as pulumi from "@pulumi/pulumi";
import { readStack } from "./stack-reference";

export interface PromotedImageArgs {
    /**
     * Stack to take the image from: a stack name of this project (`homolog`) or a full
     * `<organization>/<project>/<stack>` reference.
     */
    promoteFrom: string;
    /** Service whose image to take, a key of the other stack's `images` output. */
    service: string;
}

/**
 * A service image promoted from another stack instead of built: the digest-pinned reference that
 * stack exported, so this environment runs exactly the bytes the other one tested.
 */
export class PromotedImage extends pulumi.ComponentResource {
    /** `<repository>@sha256:…` exported by the other stack. */
    public readonly ref: pulumi.Output<string>;

    constructor(name: string, args: PromotedImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:image:PromotedImage", name, {}, opts);

        const source = readStack(this, name, args.promoteFrom);
        // getOutput, not requireOutput: a stack without images fails with the message below, not a stack trace.
        this.ref = source.getOutput("images").apply((images: Record<string, string> | undefined) => {
            const ref = images?.[args.service];
            if (!ref) {
                throw new pulumi.RunError(
                    `stack "${args.promoteFrom}" exports no image for service "${args.service}": run \`pulumi up -s ${args.promoteFrom}\` first, or build the image here (image.build)`,
                );
            }
            if (!/@sha256:[0-9a-f]{64}$/.test(ref)) {
                throw new pulumi.RunError(
                    `stack "${args.promoteFrom}" exports ${JSON.stringify(ref)} for service "${args.service}", which is not pinned by digest; promotion needs <repository>@sha256:<digest>`,
                );
            }
            return ref;
        });

        this.registerOutputs({ ref: this.ref });
    }
}
