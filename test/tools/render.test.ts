import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { apiOf, fileNameOf, renderStack, SECRET_PLACEHOLDER, writeStack } from "../../tools/render";
import { evaluated, stackCases, TEST_SECRETS } from "../mocks";

describe("npm run render (tools/render.ts)", () => {
    it("maps a Kubernetes type token to apiVersion and kind", () => {
        assert.deepStrictEqual(apiOf("kubernetes:apps/v1:Deployment"), { apiVersion: "apps/v1", kind: "Deployment" });
        assert.deepStrictEqual(apiOf("kubernetes:core/v1:Namespace"), { apiVersion: "v1", kind: "Namespace" });
        assert.deepStrictEqual(apiOf("kubernetes:networking.k8s.io/v1:NetworkPolicy"), {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
        });
    });

    for (const { stack } of stackCases()) {
        it(`${stack}: one manifest per Kubernetes object the program registers, as its inputs`, async () => {
            const files = await renderStack(stack);
            const { recorder } = await evaluated(stack);
            const objects = recorder.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
            assert.strictEqual(files.size, objects.length);
            // A base stack (esteira:tenants) runs no Deployment of its own.
            const recorded = objects.find((r) => r.type === "kubernetes:apps/v1:Deployment");
            if (recorded) {
                const deployment = parse([...files].find(([name]) => name.startsWith("deployment-"))![1]);
                assert.deepStrictEqual(deployment.spec, recorded.inputs.spec);
                assert.strictEqual(deployment.apiVersion, "apps/v1");
            }
            assert.deepStrictEqual([...files.keys()], [...files.keys()].sort(), "files in a stable order");
        });

        it(`${stack}: writes no secret value, and says so in every file`, async () => {
            const files = await renderStack(stack);
            const secretValues = [...Object.values(TEST_SECRETS), "generated-password"];
            for (const [name, text] of files) {
                for (const value of secretValues) assert.ok(!text.includes(value), `${name} holds a secret value`);
                assert.match(text, /secret values are replaced by <secret>, never written/, name);
                const manifest = parse(text);
                if (manifest.kind !== "Secret") continue;
                for (const value of Object.values({ ...manifest.stringData })) assert.strictEqual(value, SECRET_PLACEHOLDER, name);
            }
        });
    }

    it("names a namespaced file after its namespace too where a stack spans several", () => {
        const manifest = { kind: "Secret", metadata: { name: "ghcr-secret", namespace: "shop-payments" } };
        assert.strictEqual(fileNameOf(manifest), "secret-ghcr-secret.yaml");
        assert.strictEqual(fileNameOf(manifest, true), "secret-shop-payments.ghcr-secret.yaml");
        assert.strictEqual(fileNameOf({ kind: "Namespace", metadata: { name: "shop-payments" } }, true), "namespace-shop-payments.yaml");
    });

    it("names the auto-named migration Job by generateName, as Pulumi names it", async () => {
        const job = parse((await renderStack("homolog")).get("job-sample-migrate.yaml")!);
        assert.strictEqual(job.metadata.generateName, "sample-migrate-");
        assert.strictEqual(job.metadata.name, undefined);
    });

    it("writes <dir>/<stack>/<kind>-<name>.yaml, replacing only what an earlier render wrote", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-render-"));
        try {
            fs.mkdirSync(path.join(dir, "homolog"));
            fs.writeFileSync(path.join(dir, "homolog", "notes.yaml"), "mine: true\n");
            await writeStack("homolog", dir);
            fs.writeFileSync(
                path.join(dir, "homolog", "service-gone.yaml"),
                "# Rendered by esteira (npm run render) from an older program\n",
            );
            const written = await writeStack("homolog", dir);
            const present = fs.readdirSync(path.join(dir, "homolog")).sort();
            assert.deepStrictEqual(present, [...written.map((f) => path.basename(f)), "notes.yaml"].sort());
            assert.ok(present.includes("namespace-esteira-homolog.yaml"));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
