/**
 * Benchmark with the real engine: the Pulumi CLI, language host and Kubernetes provider the local
 * toolchain builds, against a cluster of the benchmark's own (a kwok control plane with fake nodes
 * and no real node: pods are Ready at once, so the figures are the engine's and the program's).
 *
 * Measured, for the engine's floor (an empty TypeScript program with the same Pulumi.yaml,
 * tsconfigs, node_modules, CLI, language host and plugins) and for the `local` stack file's
 * settings with 1, 10 and 50 services (each `local`'s sample, its image given by digest: no
 * builds): first `up`, no-op `preview`, no-op `up`, a one-service change and `destroy`, as wall
 * time and peak memory of the whole `pulumi` process tree (CLI, language host, node, providers),
 * median of several runs, each also as a ratio to the floor's same operation in the same run.
 * No-op previews and ups run with --expect-no-changes: one that changes anything fails the bench.
 * The peer, in the same run and on the same cluster: what a team without esteira runs for the same
 * objects (`kubectl apply --server-side` of what `npm run render` makes, waiting as `up` waits, and
 * `kubectl delete --wait` of the namespace), so each of the engine's times is also a ratio to it.
 * At 50 services, also the engine's settings for a pull request's stack (first up, the one-service
 * change, destroy): the parallelism `pr-stack.sh up` gives it (kubernetes_parallel in
 * scripts/delivery-lib.sh) alone, with per-step checkpoints kept, and with no per-step checkpoints
 * as `pr-stack.sh up` runs it.
 *
 *   npm run bench:engine      ESTEIRA_BENCH_RUNS=3  ESTEIRA_BENCH_SERVICES=1,10,50
 *                             ESTEIRA_BENCH_PARALLEL=<n>  (the engine's --parallel; default: the CLI's)
 *
 * Writes bench/results/engine.md and quotes its table in docs/performance.md. Needs the local toolchain
 * (bash scripts/setup-local.sh once); starts the cluster `esteira-bench` and stops it at the end
 * unless it was already running. Never touches the default local cluster.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { evaluateStack } from "../lib/evaluate";
import { processTree } from "../lib/processes";
import { PERFORMANCE, readBlock, writeBlocks } from "../tools/docs";
import { kubernetesObjects, manifestOf } from "../tools/render";

const REPO_ROOT = path.resolve(__dirname, "..");
export const RESULTS = path.join(REPO_ROOT, "bench", "results", "engine.md");
const RUNS = Number(process.env.ESTEIRA_BENCH_RUNS ?? 3);
const SERVICES = (process.env.ESTEIRA_BENCH_SERVICES ?? "1,10,50").split(",").map(Number);
const PARALLEL = process.env.ESTEIRA_BENCH_PARALLEL;
/** The docs/performance.md block that quotes the results table. */
export const RESULTS_BLOCK = "bench-engine";
export const BENCH_COMMAND = "npm run bench:engine";
/** Any digest: kwok's nodes pull nothing. */
const IMAGE = `127.0.0.1:5000/esteira/sample@sha256:${"e".repeat(64)}`;

// --- the toolchain's environment -------------------------------------------------------------------
/** scripts/env.sh's environment, with the benchmark's own cluster (never the default one). */
function toolchainEnv(): NodeJS.ProcessEnv {
    const cache = process.env.ESTEIRA_CACHE ?? path.join(os.homedir(), ".cache", "esteira");
    const cluster = {
        ESTEIRA_CLUSTER_NAME: "esteira-bench",
        ESTEIRA_KUBECONFIG: path.join(cache, "local", "bench-kubeconfig"),
        ESTEIRA_CLUSTER_NODES: "3",
        // No real node here: the pods go to the fake nodes (scripts/local-cluster.sh).
        ESTEIRA_CLUSTER_TAINT_KWOK: "false",
    };
    const dump = execFileSync("bash", ["-c", `source scripts/env.sh && node -e 'process.stdout.write(JSON.stringify(process.env))'`], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...cluster },
        encoding: "utf8",
    });
    return { ...JSON.parse(dump), ...cluster, PULUMI_CONFIG_PASSPHRASE: "esteira-bench" };
}

// --- measuring a process tree ----------------------------------------------------------------------
let pageSize: number | undefined;

/**
 * What a process of the tree is, from its executable's name: not from its command name, which
 * Node.js 24 sets to its main thread's ("MainThread").
 */
function processKind(executable: string): string {
    if (executable === "pulumi") return "CLI";
    if (executable.startsWith("pulumi-language")) return "language host";
    if (executable === "node") return "Node.js (the program)";
    if (executable.startsWith("pulumi-resource")) return "providers";
    return "other";
}

/** The base name of a process's executable (argv[0]); undefined once it is gone. */
function executableOf(pid: string): string | undefined {
    try {
        return path.basename(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]);
    } catch {
        return undefined;
    }
}

/** Resident memory of `root` and every process below it, in bytes, in all and by kind (one sample of /proc). */
function treeRss(root: number): { total: number; byKind: Record<string, number> } {
    const page = (pageSize ??= Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" })));
    const byKind: Record<string, number> = {};
    let total = 0;
    for (const proc of processTree(root)) {
        const rss = Number(proc.fields[21]) * page;
        const kind = processKind(executableOf(String(proc.pid)) ?? proc.command);
        total += rss;
        byKind[kind] = (byKind[kind] ?? 0) + rss;
    }
    return { total, byKind };
}

interface Sample {
    seconds: number;
    /** Peak of the whole tree. */
    bytes: number;
    /** Peak of each kind of process in the tree (CLI, language host, the program, providers). */
    byKind: Record<string, number>;
}

/** Runs a command, sampling its process tree's memory every 50 ms; fails with the end of its output. */
function measured(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<Sample> {
    return new Promise((resolve, reject) => {
        const start = process.hrtime.bigint();
        const child: ChildProcess = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
        let output = "";
        child.stdout!.on("data", (d) => (output += d));
        child.stderr!.on("data", (d) => (output += d));
        child.stdin!.end(options.input ?? "");
        let peak = 0;
        const byKind: Record<string, number> = {};
        const sample = () => {
            const now = treeRss(child.pid!);
            peak = Math.max(peak, now.total);
            for (const [kind, bytes] of Object.entries(now.byKind)) byKind[kind] = Math.max(byKind[kind] ?? 0, bytes);
        };
        const timer = setInterval(sample, 50);
        sample();
        child.on("close", (code) => {
            clearInterval(timer);
            const seconds = Number(process.hrtime.bigint() - start) / 1e9;
            if (code === 0) resolve({ seconds, bytes: peak, byKind });
            else
                reject(
                    new Error(
                        `${command} ${args.join(" ")} exited ${code} in ${options.cwd}:\n${output.split("\n").slice(-40).join("\n")}`,
                    ),
                );
        });
    });
}

// --- the stacks --------------------------------------------------------------------------------------
interface Target {
    /** Row label. */
    label: string;
    stack: string;
    dir: string;
    /** Edits the stack file for the one-service change; absent for the floor. */
    change?: (round: number) => void;
    /** The stack file; absent for the floor. */
    file?: string;
}

function run(env: NodeJS.ProcessEnv, cwd: string, args: string[], input?: string): string {
    return execFileSync("pulumi", args, { cwd, env, input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 1 << 28 });
}

/** A stack in `dir` with config values given (secret ones through stdin, never in a process list). */
function initStack(env: NodeJS.ProcessEnv, dir: string, stack: string, secrets: Record<string, string>): void {
    run(env, dir, ["stack", "init", stack, "--non-interactive"]);
    for (const [key, value] of Object.entries(secrets)) run(env, dir, ["config", "set", "--secret", key, "-s", stack], value);
}

/** The `local` stack file's settings with `count` copies of its sample service, each given an image by digest. */
function generatedStackFile(count: number): string {
    const local = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.local.yaml"), "utf8")).config;
    const { image: _build, ...sample } = local["esteira:services"].sample;
    const services: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) services[`svc-${String(i).padStart(2, "0")}`] = { ...sample, image: IMAGE };
    return stringifyYaml({
        config: {
            ...local,
            "esteira:services": services,
        },
    });
}

/** Working copies: the program (scripts/local-workdir.sh) and the floor, an empty program beside the same files. */
function setUp(env: NodeJS.ProcessEnv, root: string): { floor: Target; stacks: Target[] } {
    const program = path.join(root, "program");
    execFileSync("bash", [path.join(REPO_ROOT, "scripts", "local-workdir.sh"), program], { stdio: "ignore" });
    const floorDir = path.join(root, "floor");
    fs.mkdirSync(floorDir);
    for (const file of ["Pulumi.yaml", "package.json", "tsconfig.json", "tsconfig.pulumi.json"]) {
        fs.copyFileSync(path.join(REPO_ROOT, file), path.join(floorDir, file));
    }
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(floorDir, "node_modules"));
    fs.writeFileSync(
        path.join(floorDir, "index.ts"),
        `import * as pulumi from "@pulumi/pulumi";\n\nexport const stack = pulumi.getStack();\n`,
    );

    const kubeconfig = execFileSync(path.join(env.ESTEIRA_KUBE_BIN_DIR!, "kubectl"), ["config", "view", "--raw", "--flatten"], {
        env: { ...env, KUBECONFIG: env.ESTEIRA_KUBECONFIG },
        encoding: "utf8",
    });
    // Project-level required keys (Pulumi.yaml's config) hold for the floor too.
    fs.writeFileSync(path.join(floorDir, "Pulumi.floor.yaml"), stringifyYaml({ config: { "esteira:protect": false } }));
    initStack(env, floorDir, "floor", { "esteira:registryToken": "bench-registry-token" });

    const stacks = SERVICES.map((count): Target => {
        const stack = `bench-${count}`;
        const file = path.join(program, `Pulumi.${stack}.yaml`);
        fs.writeFileSync(file, generatedStackFile(count));
        initStack(env, program, stack, {
            "esteira:kubeconfig": kubeconfig,
            "esteira:registryToken": "bench-registry-token",
            "esteira:databaseUrl": "postgresql://bench:bench@10.213.0.1:5433/bench",
        });
        return {
            label: `${count} service${count === 1 ? "" : "s"}`,
            stack,
            dir: program,
            // One service's plain variable: its Deployment rolls and its migration Job runs again.
            change: (round) => {
                const doc = parseYaml(fs.readFileSync(file, "utf8"));
                doc.config["esteira:services"]["svc-00"].env.LOG_LEVEL = round % 2 ? "DEBUG" : "INFO";
                fs.writeFileSync(file, stringifyYaml(doc));
            },
            file,
        };
    });
    return { floor: { label: "floor (empty program)", stack: "floor", dir: floorDir }, stacks };
}

// --- the operations -----------------------------------------------------------------------------------
const OPERATIONS = ["first up", "no-op preview", "no-op up", "one-service change", "destroy"] as const;
type Operation = (typeof OPERATIONS)[number] | "no-op preview, type-checked";
/** The floor's operation each one is compared with (the floor has no service to change). */
const FLOOR_OF: Record<Operation, Operation | undefined> = {
    "first up": "first up",
    "no-op preview": "no-op preview",
    "no-op up": "no-op up",
    "one-service change": "no-op up",
    destroy: "destroy",
    "no-op preview, type-checked": "no-op preview, type-checked",
};

type Results = Map<string, Map<Operation, Sample[]>>;

/** Adds one run's sample to a row's operation. */
function record(results: Results, label: string, operation: Operation, sample: Sample): void {
    const row = results.get(label) ?? new Map<Operation, Sample[]>();
    row.set(operation, [...(row.get(operation) ?? []), sample]);
    results.set(label, row);
}

async function runOnce(
    env: NodeJS.ProcessEnv,
    target: Target,
    round: number,
    tsconfig: string,
    results: Results,
    resources: Map<string, number>,
): Promise<void> {
    const parallel = PARALLEL ? ["--parallel", PARALLEL] : [];
    // What the Node.js language host does with Pulumi.yaml's runtime option `tsconfig` (the host
    // built here, 3.68, predates reading it: see docs/performance.md).
    const projectEnv: NodeJS.ProcessEnv = { ...env, PULUMI_NODEJS_TSCONFIG_PATH: tsconfig };
    const pulumi = (operation: Operation, args: string[], runEnv = projectEnv) =>
        measured("pulumi", [...args, "-s", target.stack, "--non-interactive", ...parallel], { cwd: target.dir, env: runEnv }).then((s) =>
            record(results, target.label, operation, s),
        );

    await pulumi("first up", ["up", "--yes", "--skip-preview"]);
    if (round === 0) {
        // Resources in the state (the stack itself and the provider included), not timed.
        resources.set(target.label, JSON.parse(run(env, target.dir, ["stack", "export", "-s", target.stack])).deployment.resources.length);
    }
    await pulumi("no-op preview", ["preview", "--expect-no-changes"]);
    // Without PULUMI_NODEJS_TSCONFIG_PATH: type-checked, as before this project's tsconfig option, and as
    // the language host built here runs the program whatever Pulumi.yaml says.
    const { PULUMI_NODEJS_TSCONFIG_PATH: _tsconfig, ...typeChecked } = projectEnv;
    await pulumi("no-op preview, type-checked", ["preview", "--expect-no-changes"], typeChecked);
    await pulumi("no-op up", ["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    if (target.change) {
        target.change(round);
        await pulumi("one-service change", ["up", "--yes", "--skip-preview"]);
    }
    await pulumi("destroy", ["destroy", "--yes", "--skip-preview"]);
}

// --- the scripts' settings for Kubernetes-only stacks ------------------------------------------------
/** The service count whose stack is also run with a pull-request stack's engine settings. */
const VARIANTS_AT = 50;

interface Variant {
    /** Appended to the stack's row label. */
    label: string;
    parallel: string;
    skipCheckpoints: boolean;
}

/** The engine's settings scripts/pr-stack.sh uses, from the function it calls, with and without its skipped checkpoints. */
function variants(env: NodeJS.ProcessEnv): Variant[] {
    const parallel = execFileSync("bash", ["-c", "source scripts/lib.sh && source scripts/delivery-lib.sh && kubernetes_parallel"], {
        cwd: REPO_ROOT,
        env,
        encoding: "utf8",
    }).trim();
    return [
        { label: `--parallel ${parallel} alone, checkpoints kept (not adopted)`, parallel, skipCheckpoints: false },
        { label: `--parallel ${parallel}, no per-step checkpoints (pr-stack.sh up)`, parallel, skipCheckpoints: true },
    ];
}

/** The row of a stack run with a variant's settings; its ratios are to its stack's floor and peer. */
const variantRows = new Map<string, string>();

/** First up, the one-service change and destroy of a stack with a variant's settings; the stack file is left as found. */
async function runVariant(env: NodeJS.ProcessEnv, target: Target, variant: Variant, round: number, tsconfig: string, results: Results) {
    const label = `${target.label}, ${variant.label}`;
    variantRows.set(label, target.label);
    const runEnv: NodeJS.ProcessEnv = {
        ...env,
        PULUMI_NODEJS_TSCONFIG_PATH: tsconfig,
        ...(variant.skipCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {}),
    };
    const pulumi = (operation: Operation, args: string[]) =>
        measured("pulumi", [...args, "-s", target.stack, "--non-interactive", "--parallel", variant.parallel], {
            cwd: target.dir,
            env: runEnv,
        }).then((s) => record(results, label, operation, s));
    const file = fs.readFileSync(target.file!, "utf8");
    await pulumi("first up", ["up", "--yes", "--skip-preview"]);
    target.change!(round + 1);
    await pulumi("one-service change", ["up", "--yes", "--skip-preview"]);
    await pulumi("destroy", ["destroy", "--yes", "--skip-preview"]);
    fs.writeFileSync(target.file!, file);
}

// --- the peer: what a team without esteira runs against the same cluster ------------------------------
/** The peer's row under a stack's row. */
const peerLabel = (label: string) => `${label}: kubectl`;

type Manifest = Record<string, any>;

/**
 * The objects `npm run render` makes of the stack file as it stands (evaluated under mocks, with the
 * stand-in secrets so that they apply), as a team without esteira would apply them, in one stream:
 * namespaces, then cluster-wide objects, then the rest. kubectl cannot apply a generated name, so a
 * Job that Pulumi names gets a name from its spec: a change runs a new Job, a re-apply keeps it.
 */
async function peerManifests(target: Target): Promise<Manifest[]> {
    const { recorder } = await evaluateStack(target.stack, {}, parseYaml(fs.readFileSync(target.file!, "utf8")).config);
    const rank = (m: Manifest) => (m.kind === "Namespace" ? 0 : m.metadata.namespace ? 2 : 1);
    return kubernetesObjects(recorder)
        .map((resource) => {
            const manifest = manifestOf(resource, { standIns: true });
            const { generateName, ...metadata } = manifest.metadata;
            if (!generateName) return manifest;
            const hash = createHash("sha256").update(JSON.stringify(manifest.spec)).digest("hex").slice(0, 8);
            return { ...manifest, metadata: { ...metadata, name: `${generateName}${hash}` } };
        })
        .sort((a, b) => rank(a) - rank(b));
}

/**
 * The peer's commands for those manifests: `apply` (server-side), then wait as `pulumi up` waits
 * (each Deployment's rollout, each Job's completion); `destroy` deletes the namespaces, with what is
 * in them, and the cluster-wide objects, waiting until they are gone.
 */
function peerScripts(env: NodeJS.ProcessEnv, manifests: Manifest[], dir: string, stack: string): { apply: string; destroy: string } {
    const kubectl = `${path.join(env.ESTEIRA_KUBE_BIN_DIR!, "kubectl")} --kubeconfig ${env.ESTEIRA_KUBECONFIG}`;
    const write = (name: string, list: Manifest[]) => {
        const file = path.join(dir, `${stack}.${name}.yaml`);
        fs.writeFileSync(file, list.map((m) => stringifyYaml(m)).join("---\n"));
        return file;
    };
    const all = write("peer", manifests);
    const outer = write(
        "peer-outer",
        manifests.filter((m) => !m.metadata.namespace),
    );
    const waits = [...new Set(manifests.map((m) => m.metadata.namespace).filter(Boolean))].flatMap((namespace) => {
        const named = (kind: string) =>
            manifests
                .filter((m) => m.kind === kind && m.metadata.namespace === namespace)
                .map((m) => `${kind.toLowerCase()}/${m.metadata.name}`);
        const [deployments, jobs] = [named("Deployment"), named("Job")];
        return [
            ...(deployments.length ? [`${kubectl} -n ${namespace} rollout status --timeout=300s ${deployments.join(" ")} >/dev/null`] : []),
            ...(jobs.length
                ? [`${kubectl} -n ${namespace} wait --for=condition=Complete --timeout=300s ${jobs.join(" ")} >/dev/null`]
                : []),
        ];
    });
    return {
        apply: [`${kubectl} apply --server-side --field-manager=bench-peer -f ${all} >/dev/null`, ...waits].join(" && "),
        destroy: `${kubectl} delete --wait --ignore-not-found -f ${outer} >/dev/null`,
    };
}

/** The peer's first up, no-op re-apply, one-service change and destroy of a stack's objects. */
async function runPeer(env: NodeJS.ProcessEnv, target: Target, round: number, dir: string, results: Results): Promise<void> {
    const bash = (script: string) => measured("bash", ["-c", script], { cwd: dir, env });
    // Rendered before anything is timed: what the team's render or templating costs is not the peer's apply.
    const before = peerScripts(env, await peerManifests(target), dir, `${target.stack}-before`);
    const file = fs.readFileSync(target.file!, "utf8");
    // Run after the engine's round, which left its change in the file: the next round's change.
    target.change!(round + 1);
    const after = peerScripts(env, await peerManifests(target), dir, `${target.stack}-after`);
    fs.writeFileSync(target.file!, file);
    const label = peerLabel(target.label);
    record(results, label, "first up", await bash(before.apply));
    record(results, label, "no-op up", await bash(before.apply));
    record(results, label, "one-service change", await bash(after.apply));
    record(results, label, "destroy", await bash(after.destroy));
}

/** Deletes the stack's namespace and waits until it is gone (what an interrupted run left behind). */
function deleteNamespace(env: NodeJS.ProcessEnv, target: Target): Promise<Sample> {
    const kubectl = path.join(env.ESTEIRA_KUBE_BIN_DIR!, "kubectl");
    const args = [
        "--kubeconfig",
        env.ESTEIRA_KUBECONFIG!,
        "delete",
        "namespace",
        `esteira-${target.stack}`,
        "--wait",
        "--ignore-not-found",
    ];
    return measured(kubectl, args, { cwd: target.dir, env });
}

// --- the report ------------------------------------------------------------------------------------------
const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const MiB = 1024 * 1024;

function medianOf(results: Results, label: string, operation: Operation | undefined): Sample | undefined {
    const samples = operation && results.get(label)?.get(operation);
    if (!samples?.length) return undefined;
    const kinds = [...new Set(samples.flatMap((s) => Object.keys(s.byKind)))];
    return {
        seconds: median(samples.map((s) => s.seconds)),
        bytes: median(samples.map((s) => s.bytes)),
        byKind: Object.fromEntries(kinds.map((kind) => [kind, median(samples.map((s) => s.byKind[kind] ?? 0))])),
    };
}

/**
 * Wall time and peak memory; for the engine's rows, each as a ratio to the floor's same operation
 * and the time also to kubectl's (the peer's rows carry none).
 */
function cell(results: Results, floorLabel: string, label: string, operation: Operation): string {
    const value = medianOf(results, label, operation);
    if (!value) return "—";
    const stack = variantRows.get(label) ?? label;
    const peer = results.has(peerLabel(stack)) ? medianOf(results, peerLabel(stack), operation) : undefined;
    const floor = results.has(peerLabel(stack)) || label === floorLabel ? medianOf(results, floorLabel, FLOOR_OF[operation]) : undefined;
    const ratios = (a: number, ...against: [number | undefined, string][]) => {
        const parts = against.filter(([b]) => b).map(([b, what]) => `×${(a / b!).toFixed(1)}${what}`);
        return parts.length ? ` (${parts.join(", ")})` : "";
    };
    const time = ratios(value.seconds, [floor?.seconds, peer ? " floor" : ""], [peer?.seconds, " kubectl"]);
    return `${value.seconds.toFixed(1)} s${time}, ${Math.round(value.bytes / MiB)} MiB${ratios(value.bytes, [floor?.bytes, ""])}`;
}

function table(results: Results, floorLabel: string, resources: Map<string, number>): string {
    const columns: Operation[] = [...OPERATIONS, "no-op preview, type-checked"];
    const lines = [
        `| stack | resources | ${columns.join(" | ")} |`,
        `| --- | --: | ${columns.map(() => "--:").join(" | ")} |`,
        ...[...results.keys()].map(
            (label) =>
                `| ${label} | ${resources.get(label) ?? "—"} | ${columns.map((op) => cell(results, floorLabel, label, op)).join(" | ")} |`,
        ),
    ];
    return lines.join("\n");
}

/** Where a no-op preview's memory goes: the peak of each kind of process. */
function memoryTable(results: Results): string {
    const kinds = ["CLI", "language host", "Node.js (the program)", "providers", "other"];
    const lines = [`| no-op preview | ${kinds.join(" | ")} | whole tree |`, `| --- | ${kinds.map(() => "--:").join(" | ")} | --: |`];
    for (const label of results.keys()) {
        const value = medianOf(results, label, "no-op preview");
        if (!value) continue;
        const mib = (bytes: number | undefined) => (bytes ? `${Math.round(bytes / MiB)} MiB` : "—");
        lines.push(`| ${label} | ${kinds.map((kind) => mib(value.byKind[kind])).join(" | ")} | ${mib(value.bytes)} |`);
    }
    return lines.join("\n");
}

interface Goal {
    what: string;
    met: boolean | undefined;
    measured: string;
}

function goals(results: Results, floorLabel: string): Goal[] {
    const ratio = (label: string, operation: Operation) => {
        const value = medianOf(results, label, operation);
        const floor = medianOf(results, floorLabel, FLOOR_OF[operation]);
        return value && floor ? value.seconds / floor.seconds : undefined;
    };
    const at = (count: number) => `${count} service${count === 1 ? "" : "s"}`;
    const check = (what: string, value: number | undefined, limit: number, unit: string): Goal => ({
        what,
        met: value === undefined ? undefined : value <= limit,
        measured:
            value === undefined
                ? "not measured"
                : `${unit === "×" ? "×" : ""}${value.toFixed(unit === "×" ? 2 : 1)}${unit === "×" ? "" : ` ${unit}`}`,
    });
    const fifty = medianOf.bind(undefined, results, at(50));
    const mib = (bytes: number | undefined) => (bytes && bytes > 0 ? bytes / MiB : undefined);
    /** A 50-service row's time as a ratio to the peer's (a variant's row too: the peer is its stack's). */
    const toPeer = (operation: Operation, label = at(50)) => {
        const [value, peer] = [medianOf(results, label, operation), medianOf(results, peerLabel(at(50)), operation)];
        return value && peer ? value.seconds / peer.seconds : undefined;
    };
    return [
        check("no-op preview of the local stack (1 service) ≤ 1.3× the floor", ratio(at(1), "no-op preview"), 1.3, "×"),
        check("no-op preview at 50 services ≤ 2.5× the floor", ratio(at(50), "no-op preview"), 2.5, "×"),
        check("first up of 50 services ≤ 30 s", fifty("first up")?.seconds, 30, "s"),
        check("destroy of 50 services ≤ 15 s", fifty("destroy")?.seconds, 15, "s"),
        check("peak memory of a no-op preview at 50 services ≤ 250 MiB: the whole tree", mib(fifty("no-op preview")?.bytes), 250, "MiB"),
        check(
            "the same, its largest process (what /usr/bin/time -v reports, as the issue measured)",
            mib(Math.max(...Object.values(fifty("no-op preview")?.byKind ?? {}))),
            250,
            "MiB",
        ),
        check("first up of 50 services within 3× kubectl's apply and wait of the same objects", toPeer("first up"), 3, "×"),
        check("destroy of 50 services within 3× kubectl's deletion of the same namespace", toPeer("destroy"), 3, "×"),
        ...[...variantRows.keys()].flatMap((label) => {
            const name = label.slice(at(50).length + 2);
            return [
                check(`first up of 50 services ≤ 30 s, ${name}`, medianOf(results, label, "first up")?.seconds, 30, "s"),
                check(`destroy of 50 services ≤ 15 s, ${name}`, medianOf(results, label, "destroy")?.seconds, 15, "s"),
                check(`first up of 50 services within 3× kubectl's, ${name}`, toPeer("first up", label), 3, "×"),
                check(`destroy of 50 services within 3× kubectl's, ${name}`, toPeer("destroy", label), 3, "×"),
            ];
        }),
        { what: "no-op preview and up change 0 resources (--expect-no-changes)", met: true, measured: "held in every run" },
    ];
}

function report(results: Results, floorLabel: string, resources: Map<string, number>, context: string): string {
    const goalLines = goals(results, floorLabel).map(
        (g) => `| ${g.what} | ${g.measured} | ${g.met === undefined ? "—" : g.met ? "met" : "**not met**"} |`,
    );
    return [
        table(results, floorLabel, resources),
        "",
        context,
        "",
        memoryTable(results),
        "",
        "| goal | measured | |",
        "| --- | --: | --- |",
        ...goalLines,
    ].join("\n");
}

async function main(): Promise<void> {
    const env = toolchainEnv();
    for (const bin of [path.join(env.ESTEIRA_PULUMI_BIN_DIR!, "pulumi"), path.join(env.ESTEIRA_KUBE_BIN_DIR!, "kubectl")]) {
        if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: build the local toolchain first (bash scripts/setup-local.sh)`);
    }
    const cluster = (command: string) =>
        execFileSync("bash", [path.join(REPO_ROOT, "scripts", "local-cluster.sh"), command], { env, stdio: "pipe" });
    let wasRunning = true;
    try {
        cluster("status");
    } catch {
        wasRunning = false;
    }
    if (!wasRunning) cluster("start");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-bench-engine-"));
    fs.mkdirSync(path.join(root, "state"));
    const benchEnv = { ...env, PULUMI_BACKEND_URL: `file://${path.join(root, "state")}` };
    try {
        const { floor, stacks } = setUp(benchEnv, root);
        const tsconfig =
            parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")).runtime?.options?.tsconfig ?? "tsconfig.json";
        // A namespace an interrupted run left behind is another stack's: the program would refuse it.
        for (const target of stacks) await deleteNamespace(benchEnv, target);
        const results: Results = new Map();
        const resources = new Map<string, number>();
        const settings = variants(env);
        for (let round = 0; round < RUNS; round++) {
            for (const target of [floor, ...stacks]) {
                console.error(`run ${round + 1}/${RUNS}: ${target.label}`);
                await runOnce(benchEnv, target, round, tsconfig, results, resources);
                if (target.file) await runPeer(benchEnv, target, round, root, results);
            }
            const fifty = stacks.find((target) => target.label === `${VARIANTS_AT} services`);
            for (const variant of fifty ? settings : []) {
                console.error(`run ${round + 1}/${RUNS}: ${fifty!.label}, ${variant.label}`);
                await runVariant(benchEnv, fifty!, variant, round, tsconfig, results);
            }
        }
        const version = (args: string[]) => execFileSync(args[0], args.slice(1), { env, encoding: "utf8" }).trim();
        const context = [
            `Medians of ${RUNS} runs, \`${BENCH_COMMAND}\`, ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} CPUs,`,
            `${Math.round(os.totalmem() / 1024 ** 3)} GiB, Node.js ${process.version}, Pulumi CLI ${version(["pulumi", "version"])},`,
            `language host ${env.ESTEIRA_PULUMI_NODEJS_HOST_VERSION}, kubernetes provider ${env.ESTEIRA_PROVIDER_KUBERNETES_VERSION},`,
            `engine parallelism ${PARALLEL ?? "the CLI's default"}, a kwok cluster of 3 fake nodes. Each cell: wall time and peak`,
            "resident memory of the whole `pulumi` process tree, with its ratio to the floor's same operation in",
            "the same run (a change to the floor's no-op up). The type-checked preview runs without",
            "PULUMI_NODEJS_TSCONFIG_PATH, as before Pulumi.yaml's tsconfig option and as the language host built here",
            "runs every preview (compared with the floor's own).",
            "`up` and `destroy` run with `--skip-preview`, as the Automation API and pulumi/actions run them.",
            "Each `: kubectl` row is the peer, what a team without esteira runs against the same cluster for the same",
            "objects (`npm run render`'s, with stand-in secrets): `kubectl apply --server-side`, then `kubectl rollout",
            "status` of each Deployment and `kubectl wait` for each Job, as `up` waits (first up, a no-op re-apply, the",
            "same one-service change); destroy is `kubectl delete --wait` of the namespace, with what is in it, and of",
            "the cluster-wide objects. The engine's time is also given as a ratio to the peer's.",
            `The rows at ${VARIANTS_AT} services with \`--parallel\` are a pull request's stack's engine settings`,
            "(`kubernetes_parallel`, scripts/delivery-lib.sh): that parallelism alone, with the state written after every step,",
            "and as `pr-stack.sh up` runs it, with PULUMI_SKIP_CHECKPOINTS=true (the state written once, at the end).",
        ].join("\n");
        const text = report(results, floor.label, resources, context);
        fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
        fs.writeFileSync(RESULTS, `# Engine benchmark (generated by \`${BENCH_COMMAND}\`)\n\n${text}\n`);
        const doc = fs.readFileSync(PERFORMANCE, "utf8");
        if (readBlock(doc, RESULTS_BLOCK, BENCH_COMMAND) !== undefined) {
            fs.writeFileSync(PERFORMANCE, writeBlocks(doc, { [RESULTS_BLOCK]: text }, BENCH_COMMAND, "docs/performance.md"));
        }
        console.log(text);
        console.log(`\nwrote ${path.relative(REPO_ROOT, RESULTS)}`);
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
        if (!wasRunning) cluster("stop");
    }
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err instanceof Error ? err.message : err);
        process.exit(1);
    });
}
