import * as assert from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { lookUpDigest, RegistryDigestInputs } from "../../components/parts/registry-digest";
import { PIN_NOT_FOUND, PromotedImage, VerifiedPromotionArgs, verifiedTag } from "../../components/promoted-image";
import { stackReferenceName } from "../../components/stack-reference";
import { assertRunError, fakeDigest, isSecretInput, OTHER_STACK_OUTPUTS, promiseOf, Recorder } from "../mocks";

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

describe("PromotedImage, from another stack's output (promoteFrom)", () => {
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
            // Used alone, the engine prefixes where the value surfaced (the component's outputs); the
            // program reads first (readStacksFirst), and there the message comes alone.
            err.message.endsWith(
                'prod: services.api.image.promoteFrom: stack "homolog" exports no image for "api" (it has ["sample"]): run `pulumi up -s homolog` with that workload first, or build the image here (image.build)',
            ),
        );
    });

    it("fails with its message, not a stack trace, when the stack exports no images at all", async () => {
        OTHER_STACK_OUTPUTS["organization/esteira/staging"] = {};
        const { ref } = await promote("staging");
        await assertRunError(
            ref,
            'prod: services.sample.image.promoteFrom: stack "staging" exports no `images` output; run `pulumi up -s staging` first, or build the image here (image.build)',
        );
    });

    it("refuses a reference that is not pinned by digest", async () => {
        OTHER_STACK_OUTPUTS["organization/esteira/staging"] = { images: { sample: "ghcr.io/acme/sample:latest" } };
        const { ref } = await promote("staging");
        await assert.rejects(ref, (err: Error) =>
            err.message.endsWith(
                'prod: services.sample.image.promoteFrom: stack "staging" exports "ghcr.io/acme/sample:latest" for "sample", which is not pinned by digest; promotion needs <repository>@sha256:<digest>: deploy staging again with a current esteira, or pin a digest in esteira:pins',
            ),
        );
    });
});

const COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const LOOKUP = "pulumi-nodejs:dynamic:Resource";

async function verified(extra: Partial<VerifiedPromotionArgs> = {}) {
    const recorder = new Recorder();
    await recorder.install("prod");
    const image = new PromotedImage("sample", {
        verifiedIn: "homolog",
        service: "sample",
        repository: "ghcr.io/acme/shop/sample",
        commit: COMMIT,
        registry: { server: "ghcr.io", username: "bot", token: "pull-token" },
        ...extra,
    });
    const ref = promiseOf(image.ref);
    ref.catch(() => undefined);
    await recorder.settle();
    return { recorder, ref };
}

describe("PromotedImage, from a stage's verification (verifiedIn)", () => {
    it("names the verified tag after the stage and the first 12 characters of the commit", () => {
        assert.strictEqual(verifiedTag("homolog", COMMIT), "verified-homolog-4b825dc642cb");
    });

    it("runs the digest the registry holds under the stage's verified tag of this commit, asked by a lookup of its own", async () => {
        const { recorder, ref } = await verified();
        const tag = "ghcr.io/acme/shop/sample:verified-homolog-4b825dc642cb";
        assert.strictEqual(await ref, `ghcr.io/acme/shop/sample@${fakeDigest(tag)}`);
        const lookup = recorder.get(LOOKUP, "sample-digest");
        assert.strictEqual(recorder.parentOf(lookup)?.urn, recorder.get("esteira:image:PromotedImage", "sample").urn);
        assert.strictEqual(lookup.inputs.domain, "ghcr.io");
        assert.strictEqual(lookup.inputs.repository, "acme/shop/sample");
        assert.strictEqual(lookup.inputs.tag, "verified-homolog-4b825dc642cb");
        assert.strictEqual(lookup.inputs.username, "bot", "the lookup authenticates with the stack's pull token");
        assert.ok(isSecretInput(lookup, "password"), "the pull token stays secret");
        assert.strictEqual(recorder.all("pulumi:providers:docker").length, 0, "no provider plugin is needed");
        assert.deepStrictEqual(recorder.all("docker-build:index:Image"), [], "nothing is built");
        assert.deepStrictEqual(recorder.reads, [], "no other stack is read");
    });

    it("fails with what to do when the stage never verified this commit, never showing the token", async () => {
        const { recorder } = await verified({ verifiedIn: "dev" });
        const inputs = recorder.get(LOOKUP, "sample-digest").inputs as RegistryDigestInputs;
        await withEmptyRegistry(async (domain) => {
            await assert.rejects(lookUpDigest({ ...inputs, domain }), (err: Error) => {
                assert.strictEqual(
                    err.message,
                    `${domain}/acme/shop/sample:verified-dev-4b825dc642cb: no such tag: no image verified in dev for commit 4b825dc642cb: deploy and smoke-test this commit in dev first, or deploy a verified digest with the deploy workflow's "Run workflow"`,
                );
                assert.ok(!err.message.includes("pull-token"), "the message never holds the token");
                return true;
            });
        });
    });

    it("takes a pin as it is, and its lookup only checks the registry holds it: pinning adds or removes no resource", async () => {
        const pin = `ghcr.io/acme/shop/sample@${fakeDigest("last-good")}`;
        const { recorder, ref } = await verified({ pin });
        assert.strictEqual(await ref, pin, "the pin itself, known to a preview");
        const lookup = recorder.get(LOOKUP, "sample-digest");
        assert.strictEqual(lookup.inputs.repository, "acme/shop/sample");
        assert.strictEqual(lookup.inputs.tag, fakeDigest("last-good"));
        assert.strictEqual(lookup.inputs.notFound, PIN_NOT_FOUND);
    });

    it("asks another registry than the stack's anonymously", async () => {
        const { recorder } = await verified({ pin: `docker.io/acme/sample@${fakeDigest("elsewhere")}` });
        const lookup = recorder.get(LOOKUP, "sample-digest");
        assert.strictEqual(lookup.inputs.domain, "docker.io");
        assert.strictEqual(lookup.inputs.username, undefined);
        assert.strictEqual(lookup.inputs.password, undefined);
    });
});

/** A registry on loopback that holds no tag at all. */
async function withEmptyRegistry(run: (domain: string) => Promise<void>) {
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
        await run(`127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
        server.close();
    }
}
