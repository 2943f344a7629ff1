/**
 * Promotion evidence against the local registry, with the real cosign (v2.6.5, built by
 * scripts/toolchain.sh): dev's provenance and homolog's signature made and verified by
 * scripts/promotion-evidence.sh, the functions scripts/release-preview.sh runs before it promotes;
 * a digest whose evidence is forged (another key, another commit) or missing is refused, saying so.
 * Each image's SBOM (the real syft v1.57.2) is attested with dev's key and read back by digest.
 */
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FINISH_SETUP_TIMEOUT_MS, finishSetup, local, REPO_ROOT } from "./harness";

const SCRIPT = path.join(REPO_ROOT, "scripts", "promotion-evidence.sh");
const COMMIT = crypto.randomBytes(20).toString("hex");
const OTHER_COMMIT = crypto.randomBytes(20).toString("hex");

describe("promotion evidence: signed, verified, and refused when forged or missing", function () {
    this.timeout(10 * 60 * 1000);

    let dir: string;
    /** A cosign key pair per identity: dev's, homolog's, and someone below the stage forging them. */
    const keys: Record<string, { key: string; pub: string }> = {};
    let env: NodeJS.ProcessEnv;

    /** A fresh image of its own in the local registry, by digest; FROM scratch unless a base is given. */
    const pushImage = (name: string, base = "scratch"): string => {
        const context = path.join(dir, `image-${name}`);
        fs.mkdirSync(context);
        fs.writeFileSync(path.join(context, "nonce"), `${name} ${Date.now()} ${Math.random()}\n`);
        fs.writeFileSync(path.join(context, "Dockerfile"), `FROM ${base}\nCOPY nonce /nonce\n`);
        const ref = `${local.registry}/esteira/evidence-e2e:${name}`;
        execFileSync("docker", ["build", "-q", "-t", ref, context], { env: { ...env, DOCKER_BUILDKIT: "0" } });
        execFileSync("docker", ["push", "-q", ref], { env });
        const digest = execFileSync("docker", ["inspect", "-f", "{{index .RepoDigests 0}}", ref], { env, encoding: "utf8" }).trim();
        return digest;
    };
    const evidence = (args: string[], extra: Record<string, string> = {}) => {
        // An SBOM lists every file of the image: megabytes of JSON on stdout.
        const result = spawnSync("bash", [SCRIPT, ...args], { env: { ...env, ...extra }, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
        return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
    };
    const sign = (identity: string) => ({ EVIDENCE_SIGNING_KEY: fs.readFileSync(keys[identity].key, "utf8"), COSIGN_PASSWORD: identity });
    const verifiers = {
        EVIDENCE_PROVENANCE_PUBLIC_KEY: "", // set in before()
        EVIDENCE_VERIFIED_PUBLIC_KEY: "",
    };
    const verify = (ref: string, commit = COMMIT) => evidence(["verify", "homolog", ref, commit], verifiers);

    // cosign and syft (the evidence and the SBOMs) build in the background while the suites before this one run.
    before(function () {
        this.timeout(FINISH_SETUP_TIMEOUT_MS);
        finishSetup();
    });

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-e2e-evidence-"));
        // cosign reads registry credentials from the Docker config, as registry_login leaves them.
        const dockerConfig = path.join(dir, "docker");
        fs.mkdirSync(dockerConfig);
        const auth = Buffer.from(`${local.registryUser}:${local.registryPassword}`).toString("base64");
        fs.writeFileSync(path.join(dockerConfig, "config.json"), JSON.stringify({ auths: { [local.registry]: { auth } } }));
        env = { ...process.env, DOCKER_CONFIG: dockerConfig };
        for (const identity of ["dev", "homolog", "forger"]) {
            const at = path.join(dir, identity);
            fs.mkdirSync(at);
            execFileSync("cosign", ["generate-key-pair"], { cwd: at, env: { ...env, COSIGN_PASSWORD: identity }, stdio: "ignore" });
            keys[identity] = { key: path.join(at, "cosign.key"), pub: path.join(at, "cosign.pub") };
        }
        verifiers.EVIDENCE_PROVENANCE_PUBLIC_KEY = fs.readFileSync(keys.dev.pub, "utf8");
        verifiers.EVIDENCE_VERIFIED_PUBLIC_KEY = fs.readFileSync(keys.homolog.pub, "utf8");
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("a digest with dev's provenance and homolog's signature for the full commit is promoted", () => {
        const ref = pushImage("good");
        assert.strictEqual(evidence(["provenance", ref, COMMIT], sign("dev")).code, 0);
        assert.strictEqual(evidence(["sign", "homolog", ref, COMMIT], sign("homolog")).code, 0);
        const { code, output } = verify(ref);
        assert.strictEqual(code, 0, output);
        assert.match(
            output,
            new RegExp(`evidence: .* built from ${COMMIT} \\(dev's provenance\\) and verified in homolog \\(its signature\\)`),
        );
    });

    it("is refused for another commit: the evidence binds the whole sha, and a prefix is no sha", () => {
        const ref = pushImage("good-other-commit");
        evidence(["provenance", ref, COMMIT], sign("dev"));
        evidence(["sign", "homolog", ref, COMMIT], sign("homolog"));
        const other = verify(ref, OTHER_COMMIT);
        assert.strictEqual(other.code, 1);
        assert.match(other.output, new RegExp(`REFUSED: dev's provenance for .* names commit\\(s\\) ${COMMIT} and not ${OTHER_COMMIT}`));
        const prefix = verify(ref, COMMIT.slice(0, 12));
        assert.match(prefix.output, /is not a full commit sha/);
    });

    it("is refused when homolog's signature is forged with another key", () => {
        const ref = pushImage("forged-signature");
        evidence(["provenance", ref, COMMIT], sign("dev"));
        assert.strictEqual(
            evidence(["sign", "homolog", ref, COMMIT], sign("forger")).code,
            0,
            "anyone with push rights can attach a signature",
        );
        const { code, output } = verify(ref);
        assert.strictEqual(code, 1);
        assert.match(
            output,
            new RegExp(`REFUSED: ${ref.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} has no signature of homolog's key for commit ${COMMIT}`),
        );
    });

    it("is refused when dev's provenance is forged with another key", () => {
        const ref = pushImage("forged-provenance");
        evidence(["provenance", ref, COMMIT], sign("forger"));
        evidence(["sign", "homolog", ref, COMMIT], sign("homolog"));
        const { code, output } = verify(ref);
        assert.strictEqual(code, 1);
        assert.match(output, /REFUSED: .* has no provenance signed by dev's identity/);
    });

    it("is refused when the evidence is missing: no provenance, or no signature of the stage", () => {
        const bare = pushImage("missing");
        const none = verify(bare);
        assert.strictEqual(none.code, 1);
        assert.match(none.output, /REFUSED: .* has no provenance signed by dev's identity/);
        assert.match(none.output, /FAILED: the promotion evidence of .* does not hold/);
        evidence(["provenance", bare, COMMIT], sign("dev"));
        const unsigned = verify(bare);
        assert.strictEqual(unsigned.code, 1);
        assert.match(unsigned.output, /REFUSED: .* has no signature of homolog's key/);
    });

    it("an image's SBOM is attested with dev's key and read back by its digest: its Debian packages and its npm packages", () => {
        // The local line's base image: Debian packages, and the npm that Node.js's release bundles.
        const ref = pushImage("sbom", `${local.registry}/esteira/node-base:bookworm`);
        const made = evidence(["sbom", ref], sign("dev"));
        assert.strictEqual(made.code, 0, made.output);
        assert.match(made.output, /SBOM: .*, \d+ packages, attested/);
        const read = evidence(["sbom-read", ref], verifiers);
        assert.strictEqual(read.code, 0, read.output);
        const sbom = JSON.parse(read.output.split("\n").find((line) => line.startsWith("{"))!);
        assert.strictEqual(sbom.spdxVersion, "SPDX-2.3");
        const purls: string[] = sbom.packages.flatMap((p: any) => (p.externalRefs ?? []).map((r: any) => r.referenceLocator));
        assert.ok(
            purls.some((purl) => /^pkg:deb\/debian\/libc6@/.test(purl)),
            "the Debian packages (libc6)",
        );
        assert.ok(
            purls.some((purl) => /^pkg:npm\/npm@/.test(purl)),
            "the npm packages (npm itself)",
        );
    });

    it("an SBOM is refused when it is missing, or attested by any key but dev's", () => {
        const bare = pushImage("sbom-missing");
        const missing = evidence(["sbom-read", bare], verifiers);
        assert.strictEqual(missing.code, 1);
        assert.match(missing.output, /FAILED: .* has no SBOM attested by dev's key/);
        const forged = pushImage("sbom-forged");
        assert.strictEqual(evidence(["sbom", forged], sign("forger")).code, 0, "anyone with push rights can attach an attestation");
        const refused = evidence(["sbom-read", forged], verifiers);
        assert.strictEqual(refused.code, 1);
        assert.match(refused.output, /FAILED: .* has no SBOM attested by dev's key/);
    });

    it("a signature for another stage is no homolog signature", () => {
        const ref = pushImage("dev-stage");
        evidence(["provenance", ref, COMMIT], sign("dev"));
        // homolog's own key, but the stage annotation says dev: not what prod-preview asks for.
        evidence(["sign", "dev", ref, COMMIT], sign("homolog"));
        assert.match(verify(ref).output, /REFUSED: .* has no signature of homolog's key for commit/);
    });
});
