/**
 * Benchmark: the program's own start-up, from the moment the language host hands over to index.ts
 * until the program registers its first resource, in fresh Node.js processes: each heavy package
 * the program's modules load, the program's own modules (transpiled by ts-node with SWC, as
 * Pulumi.yaml's tsconfig.pulumi.json has the SDK do at deploy time), and reading and validating
 * the stack's configuration (loadConfig, which index.ts calls first). Time and resident memory
 * added, per item, median of the runs; and, per stack file, which packages its run loads at start
 * and which it registers resources from.
 *
 * Each run is a new `node` that first does what the SDK's language host (@pulumi/pulumi/cmd/run)
 * does before it runs a program: its modules, tracing, and ts-node registered with the project's
 * tsconfig.pulumi.json. The program then runs under the SDK's mocks with the stack file's config
 * handed over as the language host hands it (PULUMI_CONFIG), test stand-ins for its secrets.
 *
 *   npm run bench:startup      ESTEIRA_BENCH_RUNS=7  ESTEIRA_BENCH_STACKS=local,dev,...
 *
 * Writes bench/results/startup.md.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostConfig, stackConfig } from "../lib/evaluate";
import { OTHER_STACK_OUTPUTS, ORGANIZATION, PROJECT, TEST_COMMIT } from "../lib/fakes";
import { REPO_ROOT, stackFiles } from "../lib/stack-files";

export const RESULTS = path.join(REPO_ROOT, "bench", "results", "startup.md");
export const BENCH_COMMAND = "npm run bench:startup";
const RUNS = Number(process.env.ESTEIRA_BENCH_RUNS ?? 7);
const STACKS = process.env.ESTEIRA_BENCH_STACKS?.split(",") ?? stackFiles();
/** The stack the breakdown is for: the one with the fewest providers' resources. */
const DETAILED = "local";

/** What one item cost in one run: milliseconds of its own (what it loads for no one else) and bytes of resident memory added. */
interface Cost {
    ms: number;
    rss: number;
}

/** What a probe reports. */
interface ProbeResult {
    /** Milestones since the process started (performance.timeOrigin), with the resident memory then. */
    marks: Record<string, Cost & { at?: string }>;
    /** Per item (`pkg:<name>` or a program directory), what loading it cost before the first registration. */
    start: Record<string, Cost & { modules: number }>;
    /** Items first loaded after the first registration (while registering), with their cost. */
    later: Record<string, Cost & { modules: number }>;
    /** loadConfig as index.ts calls it, and parseConfig within it. */
    calls: Record<string, Cost>;
    /** The type of every resource registered or read, for which providers' packages the stack uses. */
    types: string[];
    /** Per item, the part of its own time spent in ts-node's transpilation (SWC) of its files. */
    transpiling: Record<string, number>;
    error?: string;
}

interface ProbeArgs {
    out: string;
    repoRoot: string;
    project: string;
    organization: string;
    stack: string;
    otherStackOutputs: Record<string, Record<string, unknown>>;
}

/**
 * Runs in the fresh process, as plain JavaScript (this function's own source, once ts-node has
 * stripped its types): nothing may be loaded before it but what the language host loads, so it
 * uses `require` alone and reaches nothing outside itself.
 */
async function probe(args: ProbeArgs): Promise<void> {
    const Module = require("module");
    const fs = require("fs");
    const path = require("path");
    const { performance } = require("perf_hooks");
    const rss = (): number => process.memoryUsage.rss();
    const result: ProbeResult = { marks: {}, start: {}, later: {}, calls: {}, types: [], transpiling: {} };
    const frames: { item: string; t: number; r: number; childMs: number; childRss: number }[] = [];
    const mark = (name: string, at?: string) => (result.marks[name] = { ms: performance.now(), rss: rss(), at });
    mark("node started");

    // 1. What the SDK's language host (cmd/run/index.js and run.js) loads and does before it
    // requires the program; its own start-up, not the program's.
    const sdk = Module.createRequire(require.resolve("@pulumi/pulumi/cmd/run/run.js"));
    for (const m of ["./instrumentation", "source-map-support/register", "../../log", "../../runtime/settings", "minimist"]) sdk(m);
    await sdk("../../runtime/closure/v8Hooks").isInitializedAsync();
    for (const m of ["../../errors", "../../runtime/manifest", "../../runtime/stack", "./tracing", "./error"]) sdk(m);
    const tsutils = sdk("../../tsutils");
    const tsConfigPath = process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json";
    const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
    const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
    const ts = sdk(typescriptRequire);
    const version = sdk("semver").parse(ts.version);
    const nodeNext = version && version.compare("4.7.0") >= 0;
    const service = sdk(tsnodeRequire).register({
        compiler: typescriptRequire,
        transpileOnly: compilerOptions.noCheck,
        project: tsConfigPath,
        skipProject: !fs.existsSync(tsConfigPath),
        compilerOptions: {
            target: "ES2020",
            module: nodeNext ? "nodenext" : "commonjs",
            moduleResolution: nodeNext ? "nodenext" : "node",
            sourceMap: "true",
            ...compilerOptions,
        },
    });
    // Each file's transpilation, timed for the module being loaded (ts-node looks compile up per file).
    const transpiling: Record<string, number> = {};
    const compile = service.compile;
    service.compile = (...a: unknown[]) => {
        const t = performance.now();
        try {
            return compile.apply(service, a);
        } finally {
            const item = frames[frames.length - 1]?.item ?? "?";
            transpiling[item] = (transpiling[item] ?? 0) + performance.now() - t;
        }
    };
    // The SDK's mocks stand in for the engine (the monitor), as the tests' do: not loaded by a real
    // run, but it needs the same runtime modules the language host has loaded already.
    const settings = sdk("../../runtime/settings");
    await sdk("../../runtime/mocks").setMocks(
        {
            newResource: (a: any) =>
                a.type === "pulumi:pulumi:StackReference"
                    ? { id: a.name, state: { ...a.inputs, outputs: args.otherStackOutputs[a.inputs.name] ?? {}, secretOutputNames: [] } }
                    : { id: `${a.name}-id`, state: a.inputs },
            call: (a: any) => ({
                ...a.inputs,
                environments: [],
                variables: [],
                sha256Digest: `sha256:${"0".repeat(64)}`,
                ipRange: "10.0.0.0/20",
            }),
        },
        args.project,
        args.stack,
        true,
        args.organization,
    );
    // The program starts registering when it constructs its first resource (the SDK's
    // registerResource, called from the constructor); reads (StackReference) come before.
    const resources = sdk("../../runtime/resource");
    const register = resources.registerResource;
    let registering = false;
    resources.registerResource = (...a: any[]) => {
        if (!registering) {
            registering = true;
            mark("first registration", a[2]);
        }
        return register(...a);
    };
    const monitor = settings.getMonitor();
    for (const method of ["registerResource", "readResource"]) {
        const original = monitor[method].bind(monitor);
        monitor[method] = (req: any, callback: unknown) => {
            result.types.push(req.getType());
            return original(req, callback);
        };
    }
    mark("language host ready");

    // 2. The program. Each module's own cost goes to its item: a program directory, or the package
    // the program loaded it through (a package's own dependencies count as the package's).
    const entry = path.join(args.repoRoot, "index.ts");
    const configIndex = path.join(args.repoRoot, "config", "index.ts");
    const configParse = path.join(args.repoRoot, "config", "parse.ts");
    const itemOf = (filename: string, parentItem?: string): string => {
        const packaged = filename.lastIndexOf(`${path.sep}node_modules${path.sep}`);
        if (packaged < 0) {
            const parts = path.relative(args.repoRoot, filename).split(path.sep);
            return parts.length === 1 ? parts[0] : `${parts[0]}/`;
        }
        if (parentItem?.startsWith("pkg:")) return parentItem;
        const [scope, name] = filename.slice(packaged).split(path.sep).slice(2);
        return `pkg:${scope.startsWith("@") ? `${scope}/${name}` : scope}`;
    };
    const timed = (name: string, fn: (...a: unknown[]) => unknown) =>
        function (this: unknown, ...a: unknown[]) {
            const t = performance.now();
            const r = rss();
            try {
                return fn.apply(this, a);
            } finally {
                result.calls[name] = { ms: performance.now() - t, rss: rss() - r };
            }
        };
    const load = Module._load;
    Module._load = function (...loadArgs: [string, any, boolean]) {
        const [request, parent, isMain] = loadArgs;
        let filename: string;
        try {
            filename = Module._resolveFilename(request, parent, isMain);
        } catch {
            return load.apply(this, loadArgs);
        }
        const wrap = (exports: any) => {
            // loadConfig as index.ts calls it, parseConfig as loadConfig calls it.
            if (filename === configIndex && parent?.filename === entry) {
                return Object.create(exports, { loadConfig: { enumerable: true, value: timed("loadConfig", exports.loadConfig) } });
            }
            if (filename === configParse && parent?.filename === configIndex) {
                return Object.create(exports, { parseConfig: { enumerable: true, value: timed("parseConfig", exports.parseConfig) } });
            }
            return exports;
        };
        if (Module._cache[filename] || !path.isAbsolute(filename)) return wrap(load.apply(this, loadArgs));
        const above = frames[frames.length - 1];
        const frame = { item: itemOf(filename, above?.item), t: performance.now(), r: rss(), childMs: 0, childRss: 0 };
        frames.push(frame);
        try {
            return wrap(load.apply(this, loadArgs));
        } finally {
            frames.pop();
            const ms = performance.now() - frame.t;
            const grown = rss() - frame.r;
            const into = registering ? result.later : result.start;
            const cost = (into[frame.item] ??= { ms: 0, rss: 0, modules: 0 });
            cost.ms += ms - frame.childMs;
            cost.rss += grown - frame.childRss;
            cost.modules += 1;
            if (above) {
                above.childMs += ms;
                above.childRss += grown;
            }
        }
    };
    try {
        const exported = require(entry);
        mark("modules loaded");
        await exported;
        // Until nothing more registers, so what loads while registering is all seen.
        for (let stable = 0, last = -1; stable < 5;) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            stable = result.types.length === last ? stable + 1 : 0;
            last = result.types.length;
        }
    } catch (err) {
        result.error = String((err as Error)?.stack ?? err);
    }
    result.transpiling = transpiling;
    fs.writeFileSync(args.out, JSON.stringify(result));
    // Registrations the mocks leave waiting would make the SDK's exit handler fail the process.
    process.exit(0);
}

/** One fresh process running the probe for a stack; its result. */
function runOnce(stack: string, dir: string, run: number): ProbeResult {
    const { plain, secrets } = stackConfig(stack);
    const { config, secretKeys } = hostConfig(plain, secrets);
    const args: ProbeArgs = {
        out: path.join(dir, `${stack}-${run}.json`),
        repoRoot: REPO_ROOT,
        project: PROJECT,
        organization: ORGANIZATION,
        stack,
        otherStackOutputs: OTHER_STACK_OUTPUTS,
    };
    const child = spawnSync(process.execPath, ["-e", `(${probe.toString()})(${JSON.stringify(args)})`], {
        cwd: REPO_ROOT,
        env: {
            ...process.env,
            // What the language host sets: the config, the tsconfig Pulumi.yaml names, and (as CI
            // does) the commit, so deployedCommit() runs no git.
            PULUMI_CONFIG: JSON.stringify(config),
            PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys),
            PULUMI_NODEJS_TYPESCRIPT: "true",
            PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.pulumi.json",
            GITHUB_SHA: TEST_COMMIT,
            ESTEIRA_COMMIT: "",
        },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    if (!fs.existsSync(args.out)) throw new Error(`probe for ${stack} failed (${child.status}):\n${child.stderr}`);
    const result = JSON.parse(fs.readFileSync(args.out, "utf8")) as ProbeResult;
    if (result.error) throw new Error(`the program failed for ${stack}:\n${result.error}`);
    if (!result.marks["first registration"]) throw new Error(`the program registered nothing for ${stack}`);
    return result;
}

const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const ms = (value: number) => `${value.toFixed(0)} ms`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Which provider's resources a package registers, by the type's first segment. */
const PROVIDER_PACKAGES: Record<string, string> = {
    kubernetes: "pkg:@pulumi/kubernetes",
    digitalocean: "pkg:@pulumi/digitalocean",
    github: "pkg:@pulumi/github",
    "docker-build": "pkg:@pulumi/docker-build",
    docker: "pkg:@pulumi/docker",
};

/** The packages a stack's run registers or reads resources of, and the items it loads at start. */
function usage(results: ProbeResult[]): { loaded: Map<string, number>; later: Set<string>; registers: Set<string> } {
    const registers = new Set<string>();
    for (const type of results[0].types) {
        const provider = PROVIDER_PACKAGES[type.split(":")[0]];
        if (provider) registers.add(provider);
    }
    const loaded = new Map(Object.entries(results[0].start).map(([item, cost]) => [item, cost.modules]));
    return { loaded, later: new Set(Object.keys(results[0].later)), registers };
}

/** The milestones' table: the floor before the program, then the program's phases. */
function phasesTable(results: ProbeResult[]): string[] {
    const at = (name: string) => median(results.map((r) => r.marks[name].ms));
    const rssAt = (name: string) => median(results.map((r) => r.marks[name].rss));
    // The median of each run's phase, as the per-stack table gives it.
    const phase = (label: string, from: string, to: string) => {
        const took = median(results.map((r) => r.marks[to].ms - r.marks[from].ms));
        const grown = median(results.map((r) => r.marks[to].rss - r.marks[from].rss));
        return `| ${label} | ${ms(took)} | ${mib(grown)} |`;
    };
    const call = (name: string) => {
        const costs = results.map((r) => r.calls[name] ?? { ms: 0, rss: 0 });
        return `${ms(median(costs.map((c) => c.ms)))} | ${mib(median(costs.map((c) => c.rss)))}`;
    };
    return [
        "| phase | time | resident memory added |",
        "| --- | --: | --: |",
        `| Node.js until the probe runs (not the program's) | ${ms(at("node started"))} | ${mib(rssAt("node started"))} (total) |`,
        phase(
            "the language host's own start, ts-node + SWC registered (the SDK's, not the program's)",
            "node started",
            "language host ready",
        ),
        phase("**the program's modules loaded** (require of index.ts)", "language host ready", "modules loaded"),
        phase("**main() until the first registration** (loadConfig among it)", "modules loaded", "first registration"),
        `| of which loadConfig (index.ts's call) | ${call("loadConfig")} |`,
        `| of which parseConfig (the schema's validation and rules, inside loadConfig) | ${call("parseConfig")} |`,
        phase("**the program's start-up** (index.ts required → first registration)", "language host ready", "first registration"),
    ];
}

/** The per-item table for one stack: each item's own time and memory before the first registration. */
function itemsTable(results: ProbeResult[], uses: Map<string, ReturnType<typeof usage>>): string[] {
    const items = [...new Set(results.flatMap((r) => Object.keys(r.start)))];
    const cost = (item: string, key: "ms" | "rss") => median(results.map((r) => r.start[item]?.[key] ?? 0));
    items.sort((a, b) => cost(b, "ms") - cost(a, "ms"));
    // Only a provider's package says by itself which stacks need it: the ones with its resources.
    const needs = (item: string) => {
        if (!Object.values(PROVIDER_PACKAGES).includes(item)) return item.startsWith("pkg:") ? "—" : "every stack (the program)";
        const stacks = [...uses].filter(([, u]) => u.registers.has(item)).map(([stack]) => stack);
        return stacks.length ? `its resources: ${stacks.join(", ")}` : "none of these stacks";
    };
    const loadedBy = (item: string) =>
        [...uses]
            .filter(([, u]) => u.loaded.has(item))
            .map(([stack]) => stack)
            .join(", ");
    return [
        "| item | own time | of which transpiling | resident memory added | modules | loaded at start by | needed by |",
        "| --- | --: | --: | --: | --: | --- | --- |",
        ...items.map((item) => {
            const transpiling = median(results.map((r) => r.transpiling[item] ?? 0));
            return `| ${item.replace(/^pkg:/, "")} | ${ms(cost(item, "ms"))} | ${transpiling ? ms(transpiling) : "—"} | ${mib(cost(item, "rss"))} | ${results[0].start[item]?.modules ?? 0} | ${loadedBy(item)} | ${needs(item)} |`;
        }),
    ];
}

/** Per stack: its start-up, and what it loads only once it registers. */
function stacksTable(all: Map<string, ProbeResult[]>): string[] {
    const rows = [...all].map(([stack, results]) => {
        const start = median(results.map((r) => r.marks["first registration"].ms - r.marks["language host ready"].ms));
        const grown = median(results.map((r) => r.marks["first registration"].rss - r.marks["language host ready"].rss));
        const later = Object.keys(results[0].later)
            .filter((item) => item.startsWith("pkg:"))
            .map((item) => item.replace(/^pkg:/, ""));
        return `| ${stack} | ${ms(start)} | ${mib(grown)} | ${later.join(", ") || "—"} |`;
    });
    return [
        "| stack | start-up (index.ts required → first registration) | resident memory added | packages first loaded while registering |",
        "| --- | --: | --: | --- |",
        ...rows,
    ];
}

/** Each provider's package: the stacks that register its resources, and the ones that load its index before they register anything. */
function providersTable(uses: Map<string, ReturnType<typeof usage>>): string[] {
    const stacksWhere = (has: (u: ReturnType<typeof usage>) => boolean, detail?: (u: ReturnType<typeof usage>) => string) =>
        [...uses]
            .filter(([, u]) => has(u))
            .map(([stack, u]) => (detail ? `${stack} (${detail(u)})` : stack))
            .join(", ") || "none";
    return [
        "| package | its resources registered by | loaded before the first registration by |",
        "| --- | --- | --- |",
        ...Object.values(PROVIDER_PACKAGES)
            .filter((item) => [...uses.values()].some((u) => u.loaded.has(item) || u.later.has(item) || u.registers.has(item)))
            .map(
                (item) =>
                    `| ${item.replace(/^pkg:/, "")} | ${stacksWhere((u) => u.registers.has(item))} | ${stacksWhere(
                        (u) => u.loaded.has(item),
                        (u) => `${u.loaded.get(item)} module${u.loaded.get(item) === 1 ? "" : "s"}`,
                    )} |`,
            ),
    ];
}

function report(all: Map<string, ProbeResult[]>): string {
    const uses = new Map([...all].map(([stack, results]) => [stack, usage(results)]));
    const detailed = all.get(DETAILED) ?? [...all.values()][0];
    const cpus = os.cpus();
    return [
        `# Start-up benchmark (generated by \`${BENCH_COMMAND}\`)`,
        "",
        `Medians of ${RUNS} fresh processes per stack; ${new Date().toISOString().slice(0, 10)}, Node.js ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.trim()}).`,
        "The program under the SDK's mocks, transpiled as at deploy time (ts-node with SWC, tsconfig.pulumi.json); the stack files' config with stand-in secrets.",
        "",
        `## Phases (${DETAILED})`,
        "",
        ...phasesTable(detailed),
        "",
        `## Items loaded before the first registration (${DETAILED})`,
        "",
        "Own time: loading the item's modules (transpiling them, for the program's) and running their top level, less what they load of other items;",
        "a package's own dependencies count as the package's, the first time they load. Needed by: for a provider's package, the stacks that register its resources.",
        "",
        ...itemsTable(detailed, uses),
        "",
        "## Per stack",
        "",
        ...stacksTable(all),
        "",
        "## Provider packages per stack",
        "",
        ...providersTable(uses),
        "",
    ].join("\n");
}

function main(): void {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-startup-"));
    const all = new Map<string, ProbeResult[]>(STACKS.map((stack) => [stack, []]));
    try {
        // One untimed round warms the file cache; the stacks then alternate, so drift hits them alike.
        for (const stack of STACKS) runOnce(stack, dir, -1);
        for (let run = 0; run < RUNS; run++) {
            for (const stack of STACKS) all.get(stack)!.push(runOnce(stack, dir, run));
            process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    const text = report(all);
    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, text);
    console.log(text);
}

if (require.main === module) main();
