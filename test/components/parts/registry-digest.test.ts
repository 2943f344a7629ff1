import * as assert from "assert";
import * as http from "http";
import { AddressInfo } from "net";
import { lookUpDigest, parseChallenge, registryBaseUrl } from "../../../components/parts/registry-digest";

const DIGEST = `sha256:${"a".repeat(64)}`;

/** A registry on loopback that answers like docker-registry with htpasswd: Basic challenge, then the digest. */
async function withRegistry(run: (domain: string, seen: string[]) => Promise<void>) {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? "-"}`);
        if (req.headers.authorization !== `Basic ${Buffer.from("bot:s3cret").toString("base64")}`) {
            res.writeHead(401, { "WWW-Authenticate": 'Basic realm="esteira-local"' }).end();
        } else if (req.url === "/v2/acme/api/manifests/1.4.2") {
            res.writeHead(200, { "Docker-Content-Digest": DIGEST }).end();
        } else {
            res.writeHead(404).end();
        }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
        await run(`127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
    } finally {
        server.close();
    }
}

describe("registry lookup (parts/registry-digest)", () => {
    it("asks loopback registries over HTTP, Docker Hub at its API host, others over HTTPS", () => {
        assert.strictEqual(registryBaseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert.strictEqual(registryBaseUrl("localhost:5000"), "http://localhost:5000");
        assert.strictEqual(registryBaseUrl("docker.io"), "https://registry-1.docker.io");
        assert.strictEqual(registryBaseUrl("ghcr.io"), "https://ghcr.io");
    });

    it("reads a Bearer challenge's realm, service and scope", () => {
        assert.deepStrictEqual(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/api:pull"'), {
            scheme: "bearer",
            params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:acme/api:pull" },
        });
    });

    it("answers the digest a tag points at, authenticating when challenged", async () => {
        await withRegistry(async (domain, seen) => {
            assert.strictEqual(
                await lookUpDigest({ domain, repository: "acme/api", tag: "1.4.2", username: "bot", password: "s3cret" }),
                DIGEST,
            );
            assert.deepStrictEqual(
                seen.map((s) => s.split(" ").slice(0, 3).join(" ")),
                ["HEAD /v2/acme/api/manifests/1.4.2 -", `HEAD /v2/acme/api/manifests/1.4.2 Basic`],
            );
        });
    });

    it("fails naming the image and the registry's answer, never the credentials", async () => {
        await withRegistry(async (domain) => {
            await assert.rejects(
                lookUpDigest({ domain, repository: "acme/api", tag: "9.9.9", username: "bot", password: "s3cret" }),
                (err: Error) => {
                    assert.strictEqual(err.message, `${domain}/acme/api:9.9.9: no such tag`);
                    return true;
                },
            );
            await assert.rejects(
                lookUpDigest({ domain, repository: "acme/api", tag: "1.4.2", username: "bot", password: "wrong" }),
                (err: Error) => {
                    assert.strictEqual(err.message, `${domain}/acme/api:1.4.2: unauthorized`);
                    assert.ok(!err.message.includes("wrong"));
                    return true;
                },
            );
        });
    });
});
