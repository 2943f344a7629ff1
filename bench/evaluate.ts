/**
 * Benchmark: how long the program takes to evaluate under Pulumi mocks, per stack file and for
 * generated configurations of 1, 10 and 50 services. Prints a table; asserts nothing.
 *
 *   npm run bench            (ESTEIRA_BENCH_RUNS=N to change the number of timed runs, default 5)
 */
import { performance } from "perf_hooks";
import { evaluateStack, stackFileConfig, stackFiles } from "../lib/mocks";

const RUNS = Number(process.env.ESTEIRA_BENCH_RUNS ?? 5);

/** The homolog stack with its one service copied N times, each with an autoscaler and probes. */
function generated(services: number): Record<string, unknown> {
    const base = stackFileConfig("homolog") as Record<string, any>;
    const template = base["esteira:services"].sample;
    const map: Record<string, unknown> = {};
    for (let i = 0; i < services; i++) {
        map[`svc-${i}`] = { ...template, replicas: undefined, autoscaling: { minReplicas: 2, maxReplicas: 5 } };
    }
    return { ...base, "esteira:services": map };
}

async function measure(stack: string, config?: Record<string, unknown>) {
    // One untimed run warms the module cache and the JIT.
    await evaluateStack(stack, {}, config);
    const times: number[] = [];
    let resources = 0;
    for (let i = 0; i < RUNS; i++) {
        const start = performance.now();
        const { recorder } = await evaluateStack(stack, {}, config);
        times.push(performance.now() - start);
        resources = recorder.resources.length;
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1], resources };
}

async function main() {
    const rows: string[][] = [];
    for (const stack of stackFiles()) {
        const r = await measure(stack);
        rows.push([`Pulumi.${stack}.yaml`, r.median.toFixed(1), r.min.toFixed(1), r.max.toFixed(1), String(r.resources)]);
    }
    for (const n of [1, 10, 50]) {
        const r = await measure("homolog", generated(n));
        rows.push([
            `generated, ${n} service${n === 1 ? "" : "s"}`,
            r.median.toFixed(1),
            r.min.toFixed(1),
            r.max.toFixed(1),
            String(r.resources),
        ]);
    }
    const header = ["configuration", "median ms", "min ms", "max ms", "resources"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
    console.log(`evaluation under mocks, ${RUNS} timed runs each (the settle wait of the recorder is included)\n`);
    console.log(line(header));
    console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
    for (const row of rows) console.log(line(row));
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
