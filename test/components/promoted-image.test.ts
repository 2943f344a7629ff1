import * as assert from "assert";
import { PromotedImage } from "../../components/promoted-image";
import { stackReferenceName } from "../../components/stack-reference";
import { assertRunError, fakeDigest, OTHER_STACK_OUTPUTS, promiseOf, Recorder } from "../mocks";

async function promote(promoteFrom: string, service = "sample") {
    const recorder = new Recorder();
    await recorder.install("prod");
    const image = new PromotedImage(service, { promoteFrom, service });
    // Taken before settling, so a failed reference is handled as it fails, not later.
    const ref = promiseOf(image.ref);
    ref.catch(() => undefined);
    await recorder.settle();
    return { recorder, image, ref };
}

describe("PromotedImage", () => {
    afterEach(() => {
        delete OTHER_STACK_OUTPUTS["organization/esteira/staging"];
    });

    it("reads the other stack's digest-pinned reference through a StackReference", async () => {
        const { recorder, ref } = await promote("homolog");
        assert.strictEqual(await ref, `ghcr.io/esteira-dev/esteira/sample@${fakeDigest("homolog-sample")}`);
        const component = recorder.get("esteira:image:PromotedImage", "sample");
        const reference = recorder.reads.find((r) => r.type === "pulumi:pulumi:StackReference");
        assert.ok(reference, "a StackReference is read");
        assert.strictEqual(reference.name, "sample-source");
        assert.strictEqual(reference.id, "organization/esteira/homolog");
        assert.strictEqual(reference.parent, component.urn);
        assert.deepStrictEqual(recorder.all("docker-build:index:Image"), [], "nothing is built");
    });

    it("resolves a bare stack name within this project and keeps a full reference as given", async () => {
        await new Recorder().install("prod");
        assert.strictEqual(stackReferenceName("homolog"), "organization/esteira/homolog");
        assert.strictEqual(stackReferenceName("acme/shop/homolog"), "acme/shop/homolog");
    });

    it("fails, naming the stack, when it exports no image for the service", async () => {
        const { ref } = await promote("homolog", "api");
        await assert.rejects(ref, (err: Error) =>
            // The engine prefixes where the value surfaced (the component's outputs); the message is ours.
            err.message.endsWith(
                'stack "homolog" exports no image for service "api": run `pulumi up -s homolog` first, or build the image here (image.build)',
            ),
        );
    });

    it("fails with its message, not a stack trace, when the stack exports no images at all", async () => {
        OTHER_STACK_OUTPUTS["organization/esteira/staging"] = {};
        const { ref } = await promote("staging");
        await assertRunError(
            ref,
            'stack "staging" exports no image for service "sample": run `pulumi up -s staging` first, or build the image here (image.build)',
        );
    });

    it("refuses a reference that is not pinned by digest", async () => {
        OTHER_STACK_OUTPUTS["organization/esteira/staging"] = { images: { sample: "ghcr.io/acme/sample:latest" } };
        const { ref } = await promote("staging");
        await assert.rejects(ref, (err: Error) =>
            err.message.endsWith(
                'stack "staging" exports "ghcr.io/acme/sample:latest" for service "sample", which is not pinned by digest; promotion needs <repository>@sha256:<digest>',
            ),
        );
    });
});
