/**
 * scripts/lib.sh's process helpers, run by bash for real: what the local line's daemons are
 * started with (scripts/local-node.sh, local-services.sh, local-cluster.sh) decides whether
 * local-down.sh can stop them and whether a `flock` around setup is ever released.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../mocks";
import { stopped } from "../support/scripts";

const bash = (script: string) =>
    spawnSync("bash", ["-c", `set -euo pipefail; source "${REPO_ROOT}/scripts/lib.sh"; ${script}`], { encoding: "utf8" });


describe("scripts/lib.sh", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-lib-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("without_inherited_fds CMD &: $! is the daemon itself (so its pidfile stops it), holding none of the caller's descriptors", () => {
        const lock = path.join(dir, "lock");
        const result = bash(`
            exec 9>"${lock}"
            without_inherited_fds sleep 30 </dev/null >/dev/null 2>&1 &
            pid=$!
            for _ in $(seq 50); do [[ "$(cat /proc/$pid/comm)" == sleep ]] && break; sleep 0.1; done
            echo "comm=$(cat /proc/$pid/comm)"
            echo "lock=$(find /proc/$pid/fd -lname "${lock}" | wc -l)"
            kill "$pid"
            wait "$pid" 2>/dev/null || true
            kill -0 "$pid" 2>/dev/null && echo alive || echo stopped`);
        assert.strictEqual(result.status, 0, result.stderr);
        assert.match(result.stdout, /^comm=sleep$/m, "no shell is left between the pidfile and the daemon");
        assert.match(result.stdout, /^lock=0$/m, "the daemon does not hold the caller's lock");
        assert.match(result.stdout, /^stopped$/m, "killing $! stops the daemon");
    });

    it("scratch_dir: the directory and the background processes recorded in pids are gone when the script exits", () => {
        const result = bash(`
            scratch_dir test
            sleep 30 &
            pids+=("$!")
            # Until the child has become sleep: before its exec it still has bash's own handler for
            # SIGTERM (the EXIT trap installs it), which would take the signal and let sleep run on.
            until [[ "$(cat /proc/$!/comm)" == sleep ]]; do sleep 0.01; done
            echo "dir=$workdir"
            echo "pid=$!"`);
        assert.strictEqual(result.status, 0, result.stderr);
        const scratch = /^dir=(.+)$/m.exec(result.stdout)![1];
        const pid = Number(/^pid=(\d+)$/m.exec(result.stdout)![1]);
        assert.ok(!fs.existsSync(scratch), `${scratch} is removed`);
        assert.ok(stopped(pid), "the background process is stopped");
    });

    it("unmount_under: every mount on or below the directories goes, deepest first, and nothing beside them", function () {
        // Mounting takes root, which the local line needs anyway (docs/local-line.md).
        if (process.getuid?.() !== 0) this.skip();
        for (const sub of ["exec/netns", "data", "beside"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
        const mounted = () => fs.readFileSync("/proc/mounts", "utf8").split("\n").filter((line) => line.includes(dir)).length;
        try {
            const result = bash(`
                mount -t tmpfs tmpfs "${dir}/exec/netns"
                mkdir -p "${dir}/exec/netns/inner" && mount -t tmpfs tmpfs "${dir}/exec/netns/inner"
                mount --bind "${dir}/data" "${dir}/data"
                mount -t tmpfs tmpfs "${dir}/beside"
                unmount_under "${dir}/data" "${dir}/exec"`);
            assert.strictEqual(result.status, 0, result.stderr);
            assert.strictEqual(mounted(), 1, "only the mount beside the directory is left");
        } finally {
            spawnSync("umount", ["-l", path.join(dir, "beside")]);
        }
    });
});
