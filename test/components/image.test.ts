import * as assert from "assert";
import { Image, ImageArgs } from "../../components/image";
import { fakeDigest, isSecretInput, promiseOf, Recorder } from "../mocks";

const DOCKER_IMAGE = "docker-build:index:Image";

async function build(extra: Partial<ImageArgs> = {}) {
    const recorder = new Recorder();
    await recorder.install("test");
    const image = new Image("api", {
        repository: "ghcr.io/acme/shop/api",
        context: "app",
        registry: { server: "ghcr.io", username: "bot", pushToken: "push-token" },
        ...extra,
    });
    await recorder.settle();
    return { recorder, image, built: recorder.get(DOCKER_IMAGE, "api-image") };
}

describe("Image", () => {
    it("registers esteira:image:Image with the docker-build Image as its child", async () => {
        const { recorder, built } = await build();
        assert.strictEqual(recorder.parentOf(built)?.urn, recorder.get("esteira:image:Image", "api").urn);
    });

    it("builds the context with its Dockerfile for linux/amd64 and pushes", async () => {
        const { built } = await build();
        assert.deepStrictEqual(built.inputs.context, { location: "app" });
        assert.deepStrictEqual(built.inputs.dockerfile, { location: "app/Dockerfile" });
        assert.deepStrictEqual(built.inputs.platforms, ["linux/amd64"]);
        assert.strictEqual(built.inputs.push, true);
    });

    it("never builds during preview unless asked", async () => {
        assert.strictEqual((await build()).built.inputs.buildOnPreview, false);
        assert.strictEqual((await build({ buildOnPreview: true })).built.inputs.buildOnPreview, true);
    });

    it("tags the pushed image with the given tags", async () => {
        const { built } = await build({ tags: ["sha-0123456789ab", "homolog"] });
        assert.deepStrictEqual(built.inputs.tags, ["ghcr.io/acme/shop/api:sha-0123456789ab", "ghcr.io/acme/shop/api:homolog"]);
    });

    it("authenticates to the registry with a secret password", async () => {
        const { built } = await build();
        assert.strictEqual(built.inputs.registries[0].address, "ghcr.io");
        assert.strictEqual(built.inputs.registries[0].username, "bot");
        assert.ok(isSecretInput(built, "registries.0.password"), "the push token must be secret");
    });

    it("reads other repositories' caches after its own, and writes only its own (a pull request's builds)", async () => {
        const { built } = await build({ repository: "ghcr.io/acme/shop/pr/api", cacheFrom: ["ghcr.io/acme/shop/api"] });
        assert.deepStrictEqual(built.inputs.cacheFrom, [
            { registry: { ref: "ghcr.io/acme/shop/pr/api:buildcache" } },
            { registry: { ref: "ghcr.io/acme/shop/api:buildcache" } },
        ]);
        assert.deepStrictEqual(
            built.inputs.cacheTo.map((c: any) => c.registry.ref),
            ["ghcr.io/acme/shop/pr/api:buildcache"],
            "main's cache is never written",
        );
        const uncached = await build({ cache: false, cacheFrom: ["ghcr.io/acme/shop/api"] });
        assert.strictEqual(uncached.built.inputs.cacheFrom, undefined, "cache: false reads no cache at all");
    });

    it("caches in the registry by default, and not when disabled", async () => {
        const { built } = await build();
        assert.deepStrictEqual(built.inputs.cacheFrom, [{ registry: { ref: "ghcr.io/acme/shop/api:buildcache" } }]);
        assert.deepStrictEqual(built.inputs.cacheTo, [
            { registry: { ref: "ghcr.io/acme/shop/api:buildcache", mode: "max", imageManifest: true, ociMediaTypes: true } },
        ]);
        const uncached = await build({ cache: false });
        assert.strictEqual(uncached.built.inputs.cacheFrom, undefined);
        assert.strictEqual(uncached.built.inputs.cacheTo, undefined);
    });

    it("keeps pushed images when the stack is destroyed", async () => {
        assert.strictEqual((await build()).built.retainOnDelete, true);
    });

    it("passes build args, target, Dockerfile, platforms and network", async () => {
        const { built } = await build({
            dockerfile: "docker/api.Dockerfile",
            args: { BASE_IMAGE: "node:20" },
            target: "runtime",
            platforms: ["linux/arm64"],
            network: "host",
        });
        assert.deepStrictEqual(built.inputs.dockerfile, { location: "docker/api.Dockerfile" });
        assert.deepStrictEqual(built.inputs.buildArgs, { BASE_IMAGE: "node:20" });
        assert.strictEqual(built.inputs.target, "runtime");
        assert.deepStrictEqual(built.inputs.platforms, ["linux/arm64"]);
        assert.strictEqual(built.inputs.network, "host");
    });

    it("uses the provider's own client and builder unless told to exec a named builder", async () => {
        const { built } = await build();
        assert.strictEqual(built.inputs.exec, undefined);
        assert.strictEqual(built.inputs.builder, undefined);
        const local = await build({ exec: true, builder: "default" });
        assert.strictEqual(local.built.inputs.exec, true);
        assert.deepStrictEqual(local.built.inputs.builder, { name: "default" });
    });

    it("passes build secrets as BuildKit secrets, kept secret, that never rebuild the image when they rotate", async () => {
        const { built } = await build({ secrets: { PIP_INDEX_TOKEN: "t0ken" } });
        assert.deepStrictEqual(built.inputs.secrets, { PIP_INDEX_TOKEN: "t0ken" });
        assert.ok(isSecretInput(built, "secrets"), "the token stays secret");
        assert.deepStrictEqual(built.inputs.ignoreSecretsInDiffCalculation, ["PIP_INDEX_TOKEN"]);
        assert.strictEqual(built.inputs.buildArgs, undefined, "never a build argument");
        const none = await build();
        assert.strictEqual(none.built.inputs.secrets, undefined);
        assert.strictEqual(none.built.inputs.ignoreSecretsInDiffCalculation, undefined);
    });

    it("exposes the digest-pinned reference", async () => {
        const { image } = await build();
        assert.strictEqual(await promiseOf(image.ref), `ghcr.io/acme/shop/api@${fakeDigest("api-image")}`);
        assert.strictEqual(await promiseOf(image.digest), fakeDigest("api-image"));
    });
});
