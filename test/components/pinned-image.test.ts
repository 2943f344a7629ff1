import * as assert from "assert";
import { digestPinned, PinnedImage, PinnedImageArgs } from "../../components/pinned-image";
import { fakeDigest, isSecretInput, promiseOf, Recorder } from "../mocks";

const LOOKUP = "pulumi-nodejs:dynamic:Resource";

async function pin(args: PinnedImageArgs) {
    const recorder = new Recorder();
    await recorder.install("homolog");
    const image = new PinnedImage("api", args);
    const ref = promiseOf(image.ref);
    await recorder.settle();
    return { recorder, ref: await ref, lookup: recorder.get(LOOKUP, "api-digest") };
}

describe("PinnedImage", () => {
    it("pins a tag to the digest it points at when deployed, asked of the registry by a lookup of its own", async () => {
        const { recorder, ref, lookup } = await pin({ ref: "ghcr.io/acme/api:1.4.2" });
        assert.strictEqual(ref, `ghcr.io/acme/api:1.4.2@${fakeDigest("ghcr.io/acme/api:1.4.2")}`);
        assert.strictEqual(recorder.parentOf(lookup)?.urn, recorder.get("esteira:image:PinnedImage", "api").urn);
        assert.strictEqual(lookup.inputs.domain, "ghcr.io");
        assert.strictEqual(lookup.inputs.repository, "acme/api");
        assert.strictEqual(lookup.inputs.tag, "1.4.2");
        assert.strictEqual(recorder.all("pulumi:providers:docker").length, 0, "no provider plugin is needed");
    });

    it("reads a familiar name as Docker does: nginx is docker.io/library/nginx:latest", async () => {
        const { ref } = await pin({ ref: "nginx" });
        assert.strictEqual(ref, `docker.io/library/nginx:latest@${fakeDigest("docker.io/library/nginx:latest")}`);
    });

    it("authenticates with the stack's pull token, kept secret, to the stack's registry only", async () => {
        const registry = { server: "ghcr.io", username: "bot", token: "s3cret" };
        const own = await pin({ ref: "ghcr.io/acme/api:1", registry });
        assert.strictEqual(own.lookup.inputs.username, "bot");
        assert.strictEqual(own.lookup.inputs.password, "s3cret");
        assert.ok(isSecretInput(own.lookup, "password"), "the token stays secret");
        const other = await pin({ ref: "docker.io/library/nginx:1.27", registry });
        assert.strictEqual(other.lookup.inputs.password, undefined, "another registry is asked anonymously");
        assert.strictEqual(other.lookup.inputs.username, undefined);
    });

    it("knows a reference that names its digest needs no lookup", () => {
        assert.ok(digestPinned(`ghcr.io/acme/api@${fakeDigest("x")}`));
        assert.ok(digestPinned(`ghcr.io/acme/api:1@${fakeDigest("x")}`));
        assert.ok(!digestPinned("ghcr.io/acme/api:1"));
    });
});
