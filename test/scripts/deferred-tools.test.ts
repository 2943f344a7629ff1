/**
 * The tools setup-local.sh builds in the background (scripts/toolchain.sh DEFERRED_TOOLS): their
 * build runs for real, with a stand-in toolchain.sh in its place, so that a build that fails is
 * reported with its log, local-down.sh stops one still running with every process it started, and
 * the end-to-end suite runs the suites that need them last, each waiting for them first.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../mocks";
import { stopped } from "../support/scripts";

/** Runs SCRIPT with toolchain.sh's functions, its background build being the stand-in BUILD (a bash script). */
function withStandIn(dir: string, build: string, script: string) {
    const scripts = path.join(dir, "scripts");
    fs.mkdirSync(scripts, { recursive: true });
    fs.writeFileSync(path.join(scripts, "toolchain.sh"), `[[ "$1" == --deferred ]] || exit 64\n${build}\n`);
    return spawnSync(
        "bash",
        [
            "-c",
            `set -euo pipefail
            source "${REPO_ROOT}/scripts/toolchain.sh"
            ESTEIRA_SCRIPTS_DIR="${scripts}" DEFERRED_DIR="${dir}/deferred" DEFERRED_LOG="${dir}/deferred.log"
            ${script}`,
        ],
        { encoding: "utf8", env: { ...process.env, ESTEIRA_CACHE: path.join(dir, "cache") }, timeout: 30_000 },
    );
}


describe("scripts/toolchain.sh: the tools built in the background", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-deferred-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("are cosign, syft and versitygw, and the line's own steps build every other tool", () => {
        const result = withStandIn(dir, "exit 0", `echo "deferred=\${DEFERRED_TOOLS[*]}"; echo "line=$(line_tools | tr '\\n' ' ')"`);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, /^deferred=cosign syft versitygw$/m);
        const line = /^line=(.*)$/m.exec(result.stdout)![1].trim().split(" ");
        assert.ok(line.includes("pulumi") && line.includes("kubernetes"), line.join(" "));
        for (const tool of ["cosign", "syft", "versitygw"]) assert.ok(!line.includes(tool), `${tool} is no step of the line's: ${line.join(" ")}`);
    });

    it("a build that succeeds: the wait returns once it has ended", () => {
        const result = withStandIn(dir, "sleep 1; echo built", `deferred_tools_start; deferred_tools_wait; echo "status=$(cat "$DEFERRED_DIR/status")"`);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, /^status=0$/m);
        assert.match(fs.readFileSync(path.join(dir, "deferred.log"), "utf8"), /^built$/m);
    });

    it("a build that fails: the wait fails with the end of its log and its exit status", () => {
        const result = withStandIn(dir, 'echo "go: example.com/m@v1.2.3: reading: 404 Not Found" >&2; exit 3', "deferred_tools_start; deferred_tools_wait");
        assert.notStrictEqual(result.status, 0);
        assert.match(result.stderr, /go: example\.com\/m@v1\.2\.3: reading: 404 Not Found/);
        assert.match(result.stderr, /the background build of cosign syft versitygw failed \(exit status 3; its log above, all of it in .*deferred\.log\)/);
    });

    it("runs at idle priority, in a session of its own that local-down.sh stops with every process in it", () => {
        const result = withStandIn(
            dir,
            "sleep 60 & wait",
            `deferred_tools_start
            pid="$(cat "$DEFERRED_DIR/pid")"
            for _ in $(seq 50); do [[ -n "$(pgrep -s "$pid" -x sleep)" ]] && break; sleep 0.1; done
            echo "pid=$pid sleep=$(pgrep -s "$pid" -x sleep)"
            echo "policy=$(chrt -p "$pid" | sed -n 's/.*scheduling policy: //p') nice=$(cut -d' ' -f19 "/proc/$pid/stat")"
            deferred_tools_stop`,
        );
        assert.strictEqual(result.status, 0, result.stderr);
        const [, pid, sleeper] = /^pid=(\d+) sleep=(\d+)$/m.exec(result.stdout)!;
        assert.match(result.stdout, /^policy=SCHED_IDLE nice=19$/m);
        assert.ok(stopped(Number(pid)), "the build is stopped");
        assert.ok(stopped(Number(sleeper)), "and what it started with it");
        assert.ok(!fs.existsSync(path.join(dir, "deferred", "pid")));
    });

    it("local-down.sh stops a background build first, as setup-local.sh's failure path and .ci/run's end call it", () => {
        const down = fs.readFileSync(path.join(REPO_ROOT, "scripts", "local-down.sh"), "utf8");
        assert.match(down, /^for part in deferred_tools node cluster services; do$/m);
    });
});

describe("the end-to-end suite and the background build", () => {
    const config = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, ".mocharc.e2e.json"), "utf8"));
    const files = fs
        .readdirSync(path.join(REPO_ROOT, "e2e"))
        .filter((file) => file.endsWith(".e2e.ts"))
        .map((file) => `e2e/${file}`);
    const waits = (file: string) => /\bfinishSetup\(\);/.test(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));

    it("runs every suite once, in the order .mocharc.e2e.json gives", () => {
        assert.deepStrictEqual([...config.spec].sort(), [...files].sort());
    });

    it("each suite that runs cosign, syft or the S3 store waits for the background build first", () => {
        for (const file of files) {
            const text = fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
            if (/promotion-evidence|cosign|"sbom"|versitygw|ESTEIRA_S3_/.test(text)) assert.ok(waits(file), `${file} uses a deferred tool: call finishSetup() in a before hook`);
        }
    });

    it("the suites that wait come last, so that the build has every suite before them to finish in", () => {
        const first = config.spec.findIndex(waits);
        assert.ok(first > 0, "some suite waits");
        assert.deepStrictEqual(
            config.spec.slice(first).filter((file: string) => !waits(file)),
            [],
            "no suite that does not wait runs after one that does",
        );
    });

    it("e2e.sh leaves the deferred tools to the suites that need them", () => {
        assert.match(fs.readFileSync(path.join(REPO_ROOT, "scripts", "e2e.sh"), "utf8"), /^bash scripts\/setup-local\.sh --no-wait$/m);
    });
});
