import * as assert from "assert";
import { digestPinned, PinnedImage, PinnedImageArgs } from "../../components/pinned-image";
import { fakeDigest, isSecretInput, promiseOf, Recorder } from "../mocks";

const PROVIDER = "pulumi:providers:docker";
const LOOKUP = "docker:index/getRegistryImage:getRegistryImage";

async function pin(args: PinnedImageArgs) {
    const recorder = new Recorder();
    await recorder.install("homolog");
    const image = new PinnedImage("api", args);
    const ref = promiseOf(image.ref);
    await recorder.settle();
    return { recorder, ref: await ref, provider: recorder.get(PROVIDER, "api-registry") };
}

describe("PinnedImage", () => {
    it("pins a tag to the digest it points at when deployed, through a docker provider of its own that needs no daemon", async () => {
        const { recorder, ref, provider } = await pin({ ref: "ghcr.io/acme/api:1.4.2" });
        assert.strictEqual(ref, `ghcr.io/acme/api:1.4.2@${fakeDigest("ghcr.io/acme/api:1.4.2")}`);
        assert.strictEqual(recorder.parentOf(provider)?.urn, recorder.get("esteira:image:PinnedImage", "api").urn);
        // Provider configuration reaches the engine as strings.
        assert.strictEqual(provider.inputs.disableDockerDaemonCheck, "true");
        const lookups = recorder.calls.filter((c) => c.token === LOOKUP);
        assert.deepStrictEqual(
            lookups.map((c) => c.inputs),
            [{ name: "ghcr.io/acme/api:1.4.2" }],
        );
        assert.ok(lookups[0].provider?.startsWith(provider.urn), "the lookup goes through that provider, never a default one");
    });

    it("reads a familiar name as Docker does: nginx is docker.io/library/nginx:latest", async () => {
        const { ref } = await pin({ ref: "nginx" });
        assert.strictEqual(ref, `docker.io/library/nginx:latest@${fakeDigest("docker.io/library/nginx:latest")}`);
    });

    it("authenticates with the stack's pull token, kept secret, to the stack's registry only", async () => {
        const registry = { server: "ghcr.io", username: "bot", token: "s3cret" };
        const own = await pin({ ref: "ghcr.io/acme/api:1", registry });
        assert.deepStrictEqual(
            own.provider.inputs.registryAuth,
            JSON.stringify([{ address: "ghcr.io", username: "bot", password: "s3cret" }]),
        );
        assert.ok(isSecretInput(own.provider, "registryAuth"), "the token stays secret");
        const other = await pin({ ref: "docker.io/library/nginx:1.27", registry });
        assert.strictEqual(other.provider.inputs.registryAuth, undefined, "another registry is asked anonymously");
    });

    it("knows a reference that names its digest needs no lookup", () => {
        assert.ok(digestPinned(`ghcr.io/acme/api@${fakeDigest("x")}`));
        assert.ok(digestPinned(`ghcr.io/acme/api:1@${fakeDigest("x")}`));
        assert.ok(!digestPinned("ghcr.io/acme/api:1"));
    });
});
