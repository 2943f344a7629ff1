/**
 * Every script under scripts/ answers -h and --help at once, with exit 0 and its usage, on a machine
 * with nothing installed but bash and coreutils: no pulumi, docker, kubectl, sed or awk on PATH, and
 * nothing built or started first. And a delivery script run without a tool it needs says which tool
 * is missing and what to install, instead of failing later with another tool's message.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../mocks";

const SCRIPTS = path.join(REPO_ROOT, "scripts");

/** bash and the coreutils commands a script may use before it answers; nothing else. */
const BARE_TOOLS = ["bash", "dirname", "basename", "cat", "pwd", "env", "printf", "readlink", "mkdir", "rm", "ls", "head", "tr", "id", "uname"];

/** A PATH holding only {@link BARE_TOOLS}, and an empty HOME and cache, so nothing cached is found. */
function bareEnvironment(): { env: NodeJS.ProcessEnv; dir: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-bare-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    for (const tool of BARE_TOOLS) {
        const found = ["/usr/bin", "/bin"].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
        if (found) fs.symlinkSync(found, path.join(bin, tool));
    }
    return { env: { PATH: bin, HOME: dir, ESTEIRA_CACHE: path.join(dir, "cache") }, dir };
}

const scripts = fs
    .readdirSync(SCRIPTS)
    .filter((name) => name.endsWith(".sh"))
    .sort();

function run(script: string, args: string[], env: NodeJS.ProcessEnv) {
    return spawnSync(path.join("/bin", "bash"), [path.join(SCRIPTS, script), ...args], { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 10_000 });
}

describe("scripts answer --help with nothing installed", () => {
    let bare: { env: NodeJS.ProcessEnv; dir: string };
    before(() => (bare = bareEnvironment()));
    after(() => fs.rmSync(bare.dir, { recursive: true, force: true }));

    for (const script of scripts) {
        for (const flag of ["--help", "-h"]) {
            it(`scripts/${script} ${flag}: exit 0, its usage on stdout`, () => {
                const result = run(script, [flag], bare.env);
                assert.strictEqual(result.status, 0, `scripts/${script} ${flag} exited ${result.status}: ${result.stderr}`);
                assert.match(result.stdout, new RegExp(`^usage: (scripts/)?${script.replace(".", "\\.")}|^usage: npm run`), result.stdout);
                assert.strictEqual(result.stderr, "", `scripts/${script} ${flag} wrote to stderr: ${result.stderr}`);
            });
        }
    }

    it("nothing was built, cached or started to answer", () => {
        assert.ok(!fs.existsSync(bare.env.ESTEIRA_CACHE!), `${bare.env.ESTEIRA_CACHE} was created`);
    });

    it("a usage error is still one: exit 2, the usage on stderr", () => {
        const result = run("recover.sh", [], bare.env);
        assert.strictEqual(result.status, 2);
        assert.match(result.stderr, /^usage: scripts\/recover\.sh/);
    });
});

describe("a missing tool is named, with what to install", () => {
    let bare: { env: NodeJS.ProcessEnv; dir: string };
    before(() => (bare = bareEnvironment()));
    after(() => fs.rmSync(bare.dir, { recursive: true, force: true }));

    const cases: [string, string[], string, RegExp][] = [
        ["deploy.sh", ["dev"], "pulumi", /install the Pulumi CLI 3\.x/],
        ["recover.sh", ["dev", "cancel"], "pulumi", /install the Pulumi CLI 3\.x/],
        ["pr-stack.sh", ["list"], "pulumi", /install the Pulumi CLI 3\.x/],
        ["smoke-test.sh", ["dev"], "kubectl", /install kubectl/],
        ["mark-verified.sh", ["dev"], "docker", /install Docker with Buildx/],
        ["local-up.sh", ["--use-existing", "--yes"], "pulumi", /install the Pulumi CLI 3\.x/],
    ];
    for (const [script, args, tool, hint] of cases) {
        it(`scripts/${script} ${args.join(" ")} without ${tool}: "${tool} is not on PATH", and what to install`, () => {
            const result = run(script, args, bare.env);
            assert.strictEqual(result.status, 1, result.stderr);
            assert.match(result.stderr, new RegExp(`FAILED: ${tool} is not on PATH`));
            assert.match(result.stderr, hint);
        });
    }
});
