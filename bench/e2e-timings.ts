/**
 * Benchmark: runs the end-to-end suite (scripts/e2e.sh) and prints how long each step took —
 * `up`, no-op `preview` and `up`, a config change, a rejected bad config, `destroy`, `stack rm`.
 * Timings are printed, never asserted.
 *
 *   npm run bench:e2e
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "esteira-bench-")), "timings.json");
const start = Date.now();
execFileSync("bash", [path.join(__dirname, "..", "scripts", "e2e.sh")], {
    stdio: "inherit",
    env: { ...process.env, ESTEIRA_E2E_TIMINGS: file },
});
const total = (Date.now() - start) / 1000;
const timings: Record<string, number> = JSON.parse(fs.readFileSync(file, "utf8"));
const width = Math.max(...Object.keys(timings).map((k) => k.length), "setup + suite".length);
console.log(`\n${"step".padEnd(width)} | seconds`);
console.log(`${"-".repeat(width)}-|--------`);
for (const [step, seconds] of Object.entries(timings)) console.log(`${step.padEnd(width)} | ${seconds.toFixed(1).padStart(7)}`);
console.log(`${"setup + suite".padEnd(width)} | ${total.toFixed(1).padStart(7)}`);
