/**
 * scripts/releases.sh against stand-ins for `pulumi` (outputs, history, config from files) and for
 * the registry (`docker buildx imagetools inspect` answering from a map of tags to digests): what
 * runs where, found from the outputs, the history and the tags, and what a stack can go back to.
 * The real engine and registry's side is e2e/delivery.e2e.ts's.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runScript } from "../support/scripts";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const REPOSITORY = "registry.example/shop/sample";
const C1 = "1111111111111111111111111111111111111111";
const C2 = "2222222222222222222222222222222222222222";

/** `pulumi` answering from $STUB/<stack>/{images,history,config}.json; a stack without a directory cannot be read. */
const PULUMI = `#!/usr/bin/env bash
echo "pulumi $*" >>"$STUB/calls"
stack="\${@: -1}"
dir="$STUB/$stack"
[[ -d "$dir" ]] || { echo "error: no stack named '$stack' found" >&2; exit 255; }
case "$1 $2" in
  "stack output") cat "$dir/images.json" ;;
  "stack history") cat "$dir/history.json" ;;
  "stack export") echo '{"deployment":{"resources":[]}}' ;;
  "config get")
    if [[ "$3" == esteira:registryToken ]]; then echo token; exit 0; fi
    jq -e --arg k "$3" 'has($k)' "$dir/config.json" >/dev/null || exit 1
    jq -c --arg k "$3" '.[$k]' "$dir/config.json" ;;
  *) exit 0 ;;
esac
`;

/** The registry: a tag resolves to the digest $STUB/tags.json gives it, or does not exist. */
const DOCKER = `#!/usr/bin/env bash
case "$1 $2 $3" in
  "login "*) cat >/dev/null ;;
  "buildx imagetools inspect")
    echo "inspect $4" >>"$STUB/calls"
    jq -e --arg r "$4" 'has($r)' "$STUB/tags.json" >/dev/null || exit 1
    jq -c --arg r "$4" '{digest: .[$r]}' "$STUB/tags.json" ;;
  *) exit 1 ;;
esac
`;

const REGISTRY = { server: "registry.example", username: "bot" };

describe("scripts/releases.sh", function () {
    this.timeout(30_000);
    let dir: string;
    let stub: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-releases-"));
        stub = path.join(dir, "stub");
        fs.mkdirSync(path.join(stub, "bin"), { recursive: true });
        fs.writeFileSync(path.join(stub, "bin", "pulumi"), PULUMI, { mode: 0o755 });
        fs.writeFileSync(path.join(stub, "bin", "docker"), DOCKER, { mode: 0o755 });
        // No cluster here: the smoke test's kubectl fails, and so does any deploy's smoke test.
        fs.writeFileSync(path.join(stub, "bin", "kubectl"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
        fs.mkdirSync(path.join(stub, "policy", "node_modules"), { recursive: true });
        fs.writeFileSync(path.join(stub, "policy", "analyzer"), "#!/bin/sh\n", { mode: 0o755 });
        for (const stack of ["dev", "homolog", "prod"]) fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "config: {}\n");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const stack = (name: string, files: { images?: object; history?: object[]; config?: object }) => {
        fs.mkdirSync(path.join(stub, name), { recursive: true });
        fs.writeFileSync(path.join(stub, name, "images.json"), JSON.stringify(files.images ?? {}));
        fs.writeFileSync(path.join(stub, name, "history.json"), JSON.stringify(files.history ?? []));
        fs.writeFileSync(path.join(stub, name, "config.json"), JSON.stringify({ "esteira:registry": REGISTRY, ...files.config }));
    };
    const tags = (map: Record<string, string>) => fs.writeFileSync(path.join(stub, "tags.json"), JSON.stringify(map));
    const git = (...args: string[]) => {
        const result = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
            cwd: dir,
            encoding: "utf8",
            env: { ...process.env, GIT_DIR: path.join(dir, ".git"), GIT_WORK_TREE: dir, GIT_CEILING_DIRECTORIES: path.dirname(dir) },
        });
        assert.strictEqual(result.status, 0, result.stderr);
        return result.stdout.trim();
    };
    const releases = (...args: string[]) => {
        const result = runScript("releases.sh", args, {
            cwd: dir,
            stub,
            env: {
                ESTEIRA_POLICY_PACK: path.join(stub, "policy"),
                ROLLBACK_STATE_DIR: stub,
                GIT_DIR: path.join(dir, ".git"),
                GIT_WORK_TREE: dir,
                GIT_CEILING_DIRECTORIES: path.dirname(dir),
            },
        });
        return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    };
    const update = (version: number, message: string, kind = "update", result = "succeeded") => ({
        version,
        kind,
        result,
        message,
        startTime: `2026-12-0${version}T10:00:00Z`,
        endTime: `2026-12-0${version}T10:05:00Z`,
    });

    it("shows each service's digest, the commit it was built from and the stages that verified it, and the last update's time, kind, commit and run", () => {
        // homolog ran C1's digest, deployed C2, whose smoke test failed and was rolled back to C1's.
        stack("homolog", {
            images: { sample: `${REPOSITORY}@${digest("a")}` },
            history: [
                update(1, `esteira deploy: commit ${C1}, run https://github.com/acme/shop/actions/runs/101`),
                update(2, `esteira deploy: commit ${C2}, run https://github.com/acme/shop/actions/runs/102`, "update", "failed"),
                update(3, `esteira rollback: commit ${C2}, run https://github.com/acme/shop/actions/runs/102`),
                update(4, "", "refresh"),
            ],
        });
        tags({
            [`${REPOSITORY}:sha-111111111111`]: digest("a"),
            [`${REPOSITORY}:verified-dev-111111111111`]: digest("a"),
            [`${REPOSITORY}:verified-homolog-111111111111`]: digest("a"),
            [`${REPOSITORY}:sha-222222222222`]: digest("b"),
            [`${REPOSITORY}:verified-dev-222222222222`]: digest("b"),
        });
        const result = releases("show", "--json", "homolog");
        assert.strictEqual(result.code, 0, result.stderr);
        assert.deepStrictEqual(JSON.parse(result.stdout), [
            {
                stack: "homolog",
                updated: { at: "2026-12-03T10:05:00Z", what: "rollback", commit: C2, run: "https://github.com/acme/shop/actions/runs/102" },
                services: {
                    sample: { image: `${REPOSITORY}@${digest("a")}`, commit: C1, verifiedIn: ["dev", "homolog"], built: true },
                },
            },
        ]);
        const table = releases("homolog");
        assert.strictEqual(table.code, 0, table.stderr);
        assert.match(table.stdout, /### What runs in homolog/);
        assert.match(table.stdout, /Last update 2026-12-03T10:05:00Z: rollback of commit `222222222222`, run https:\/\/github\.com\/acme\/shop\/actions\/runs\/102\./);
        assert.match(table.stdout, new RegExp(`\\| sample \\| \`${digest("a")}\` \\| \`111111111111\` \\(built\\) \\| dev, homolog \\|`));
    });

    it("every stack file's stack by default; one these credentials cannot read is said so, and the others still shown", () => {
        stack("dev", { images: {}, history: [update(1, `esteira deploy: commit ${C1}, run local`)] });
        tags({});
        const result = releases("--json");
        assert.strictEqual(result.code, 0, result.stderr);
        const shown = JSON.parse(result.stdout);
        assert.deepStrictEqual(
            shown.map((s: { stack: string; error?: string }) => [s.stack, Boolean(s.error)]),
            [
                ["dev", false],
                ["homolog", true],
                ["prod", true],
            ],
        );
        assert.match(shown[1].error, /cannot read the images output of stack homolog: error: no stack named 'homolog' found/);
        assert.deepStrictEqual(shown[0].updated, { at: "2026-12-01T10:05:00Z", what: "deploy", commit: C1, run: "local" });
    });

    it("a digest no tag of the stack's updates names has no known commit, and is shown as such", () => {
        stack("dev", { images: { sample: `${REPOSITORY}@${digest("c")}` }, history: [update(1, "an update run by hand")] });
        tags({});
        const result = releases("show", "--json", "dev");
        assert.strictEqual(result.code, 0, result.stderr);
        assert.deepStrictEqual(JSON.parse(result.stdout)[0].services.sample, {
            image: `${REPOSITORY}@${digest("c")}`,
            commit: null,
            verifiedIn: [],
            built: false,
        });
        assert.deepStrictEqual(JSON.parse(result.stdout)[0].updated.what, "update");
    });

    describe("what a stack can go back to", () => {
        let v1: string;
        let v2: string;
        beforeEach(() => {
            git("init", "-q");
            fs.writeFileSync(path.join(dir, "a"), "1");
            git("add", "a");
            git("commit", "-qm", "one");
            v1 = git("rev-parse", "HEAD");
            git("tag", "v1.0.0");
            fs.writeFileSync(path.join(dir, "a"), "2");
            git("commit", "-qam", "two");
            v2 = git("rev-parse", "HEAD");
            git("update-ref", "refs/remotes/origin/main", "HEAD");
            const config = { "esteira:images": { repository: "registry.example/shop" } };
            stack("homolog", { config: { ...config, "esteira:services": { sample: { image: { verifiedIn: "dev" } } } } });
            stack("prod", {
                config: {
                    ...config,
                    "esteira:services": { sample: { image: { verifiedIn: "homolog" } } },
                    "esteira:github": { repository: "shop", deployOn: "release" },
                },
            });
        });

        it("verified: the commits of main whose every service the stack's stage verified, newest first, with their release tags", () => {
            tags({ [`${REPOSITORY}:verified-dev-${v1.slice(0, 12)}`]: digest("a") });
            const result = releases("verified", "--json", "homolog");
            assert.strictEqual(result.code, 0, result.stderr);
            assert.deepStrictEqual(JSON.parse(result.stdout), [{ commit: v1, tags: ["v1.0.0"], images: { sample: `${REPOSITORY}@${digest("a")}` } }]);
            const calls = fs.readFileSync(path.join(stub, "calls"), "utf8");
            assert.ok(calls.includes(`inspect ${REPOSITORY}:verified-dev-${v2.slice(0, 12)}`), "it asked for the newer commit too");
        });

        it("rollback of prod changes nothing here: it names the release run, with that release's tag", () => {
            const result = releases("rollback", "prod", v1);
            assert.strictEqual(result.code, 1);
            assert.match(result.stderr, /FAILED: prod is deployed by release runs only: its rollback takes the same check, preview and two approvals as any release/);
            assert.match(result.stderr, /run deploy\.yml's "Run workflow" on main with environment prod and release v1\.0\.0/);
        });

        it("rollback below prod deploys that commit's verified digests through dispatch-deploy.sh and deploy.sh", () => {
            tags({ [`${REPOSITORY}:verified-dev-${v1.slice(0, 12)}`]: digest("a") });
            const result = releases("rollback", "homolog", "v1.0.0");
            assert.match(result.stderr, new RegExp(`\\[releases\\] rolling homolog to commit ${v1.slice(0, 12)}, as verified in dev`));
            const calls = fs.readFileSync(path.join(stub, "calls"), "utf8").split("\n");
            assert.ok(calls.includes(`pulumi config set --path esteira:pins.sample ${REPOSITORY}@${digest("a")} -s homolog`), calls.join("\n"));
            const up = calls.find((c) => c.startsWith("pulumi up"));
            assert.ok(up?.includes(`--message esteira deploy: commit ${v1}, run local`), `the update names the commit: ${up}`);
            // No cluster here, so the smoke test fails and deploy.sh rolls back: the script's own exit says so.
            assert.strictEqual(result.code, 1);
        });

        it("refuses a commit or tag that is not there", () => {
            const result = releases("rollback", "homolog", "v9.9.9");
            assert.strictEqual(result.code, 1);
            assert.match(result.stderr, /FAILED: no commit or tag 'v9\.9\.9' here/);
        });
    });
});
