/**
 * What every end-to-end suite shares: the local stand-ins' coordinates (from scripts/env.sh),
 * stacks of this program in throwaway working copies with a file backend, Kubernetes clients,
 * the node's container runtime, PostgreSQL through psql, HTTP through a Service's ClusterIP
 * (kube-proxy routes it from this host), and step timings for `npm run bench:e2e`.
 */
import * as k8s from "@kubernetes/client-node";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { processTree } from "../lib/processes";

export const REPO_ROOT = path.resolve(__dirname, "..");

export function requireEnv(name: string): string {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the e2e suite with \`npm run test:e2e\` (it sources scripts/env.sh)`);
    return value;
}

/** The local stand-ins, as scripts/env.sh and scripts/local-services.sh set them up. */
export const local = {
    kubeconfigPath: requireEnv("ESTEIRA_KUBECONFIG"),
    registry: requireEnv("ESTEIRA_REGISTRY"),
    registryUser: requireEnv("ESTEIRA_REGISTRY_USER"),
    registryPassword: fs.readFileSync(requireEnv("ESTEIRA_REGISTRY_PASSWORD_FILE"), "utf8").trim(),
    nodeName: requireEnv("ESTEIRA_NODE_NAME"),
    pg: {
        host: requireEnv("ESTEIRA_PG_HOST"),
        port: requireEnv("ESTEIRA_PG_PORT"),
        user: requireEnv("ESTEIRA_PG_USER"),
        database: requireEnv("ESTEIRA_PG_DB"),
        password: fs.readFileSync(requireEnv("ESTEIRA_PG_PASSWORD_FILE"), "utf8").trim(),
    },
    ctr: [
        path.join(requireEnv("ESTEIRA_BIN"), `containerd-${requireEnv("ESTEIRA_CONTAINERD_VERSION")}`, "ctr"),
        "--address",
        requireEnv("ESTEIRA_CONTAINERD_SOCK"),
        "--namespace",
        "k8s.io",
    ],
};

export const databaseUrl = `postgresql://${local.pg.user}:${encodeURIComponent(local.pg.password)}@${local.pg.host}:${local.pg.port}/${local.pg.database}`;

/** The local PostgreSQL's admin login (CREATEDB, CREATEROLE), on its `postgres` database: what `database.mode: server` makes a stack's database with. */
export const databaseAdminUrl = `postgresql://${requireEnv("ESTEIRA_PG_ADMIN_USER")}:${encodeURIComponent(
    fs.readFileSync(requireEnv("ESTEIRA_PG_ADMIN_PASSWORD_FILE"), "utf8").trim(),
)}@${local.pg.host}:${local.pg.port}/postgres`;

let finished = false;
/**
 * What e2e.sh's setup leaves for later (setup-local.sh --no-wait): cosign, syft and versitygw, building in
 * the background at idle priority, and the S3 store. A suite that needs them calls this in a hook of
 * its own, with a timeout that covers the build; it waits once, then returns at once.
 */
export function finishSetup(): void {
    if (finished) return;
    execFileSync("bash", [path.join(REPO_ROOT, "scripts", "setup-local.sh"), "--finish"], { stdio: ["ignore", "inherit", "inherit"] });
    finished = true;
}
/** How long a suite's finishSetup hook may wait: the background build's cold time on a busy machine, with room. */
export const FINISH_SETUP_TIMEOUT_MS = 40 * 60 * 1000;

// --- timings ---------------------------------------------------------------------------------------
const timings: Record<string, number> = {};

/** Runs a step and records how long it took (never asserted; bench/e2e-timings.ts prints them). */
export async function timed<T>(step: string, run: () => Promise<T>): Promise<T> {
    const start = Date.now();
    try {
        return await run();
    } finally {
        timings[step] = (Date.now() - start) / 1000;
    }
}

/** Writes the timings where bench/e2e-timings.ts asked for them. */
export function flushTimings(): void {
    const file = process.env.ESTEIRA_E2E_TIMINGS;
    if (!file) return;
    const previous = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
    fs.writeFileSync(file, JSON.stringify({ ...previous, ...timings }, null, 2));
}

// --- stacks ------------------------------------------------------------------------------------------
export interface LocalStack {
    readonly stack: Stack;
    readonly workDir: string;
    /** Edits the working copy's Pulumi.<stack>.yaml `config:` map in place. */
    editConfig(edit: (config: Record<string, any>) => void): void;
    /** Writes a file into the working copy (e.g. a change to the sample's build context). */
    writeFile(relative: string, content: string): void;
    removeFile(relative: string): void;
    /** Removes the working copy (and with it the file backend). */
    dispose(): void;
}

/** A working copy of the program (scripts/local-workdir.sh) with a file backend of its own. */
export interface WorkDir {
    readonly dir: string;
    /** The environment pulumi (and scripts/pr-stack.sh) runs with here: backend, passphrase. */
    readonly env: Record<string, string>;
}

export function workDir(name: string): WorkDir {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `esteira-e2e-${name}-`));
    execFileSync("bash", [path.join(REPO_ROOT, "scripts", "local-workdir.sh"), dir], { stdio: "inherit" });
    const backend = path.join(dir, ".state");
    fs.mkdirSync(backend);
    return {
        dir,
        env: { PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "esteira-e2e", PULUMI_SKIP_UPDATE_CHECK: "true" },
    };
}

/** The local cluster's kubeconfig with its certificates inline, as local-up.sh gives it to the stack. */
export function flatKubeconfig(): string {
    return execFileSync(
        path.join(requireEnv("ESTEIRA_KUBE_BIN_DIR"), "kubectl"),
        ["--kubeconfig", local.kubeconfigPath, "config", "view", "--raw", "--flatten"],
        {
            encoding: "utf8",
        },
    );
}

/** Stack `stackName` in a working copy (a fresh one unless given), selected or created. */
export async function openStack(stackName: string, work: WorkDir): Promise<LocalStack> {
    const stackFile = path.join(work.dir, `Pulumi.${stackName}.yaml`);
    const editConfig = (edit: (config: Record<string, any>) => void) => {
        const file = parseYaml(fs.readFileSync(stackFile, "utf8"));
        edit(file.config);
        fs.writeFileSync(stackFile, stringifyYaml(file));
    };
    const stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: work.dir }, { envVars: work.env });
    return {
        stack,
        workDir: work.dir,
        editConfig,
        writeFile: (relative, content) => fs.writeFileSync(path.join(work.dir, relative), content),
        removeFile: (relative) => fs.rmSync(path.join(work.dir, relative), { force: true }),
        dispose: () => fs.rmSync(work.dir, { recursive: true, force: true }),
    };
}

/**
 * The `local` stack in a working copy (a fresh one unless given), with its secrets set the way
 * local-up.sh sets them: kubeconfig, registry token and database URL.
 */
export async function localStack(stackName: string, options: { databaseUrl?: string; work?: WorkDir } = {}): Promise<LocalStack> {
    const opened = await openStack(stackName, options.work ?? workDir(stackName));
    const { stack } = opened;
    await stack.setConfig("esteira:kubeconfig", { value: flatKubeconfig(), secret: true });
    await stack.setConfig("esteira:registryToken", { value: local.registryPassword, secret: true });
    await stack.setConfig("esteira:databaseUrl", { value: options.databaseUrl ?? databaseUrl, secret: true });
    return opened;
}

/**
 * Runs scripts/pr-stack.sh in a working copy, as review.yml does on GitHub; resolves with its output
 * (and the signal that ended it, if one did). `started` gets the process, leader of a process group
 * of its own: what a runner that is lost or timed out kills, pulumi and its plugins with it.
 */
export function prStackScript(
    work: WorkDir,
    args: string[],
    env: Record<string, string> = {},
    started?: (child: ChildProcess) => void,
): Promise<{ code: number; output: string; stdout: string; signal?: NodeJS.Signals }> {
    return new Promise((resolve) => {
        const child = spawn("bash", [path.join(REPO_ROOT, "scripts", "pr-stack.sh"), ...args], {
            cwd: work.dir,
            env: { ...process.env, ...work.env, REGISTRY_TOKEN: local.registryPassword, ...env },
            detached: started !== undefined,
        });
        started?.(child);
        let output = "";
        let stdout = "";
        child.stdout.on("data", (d) => {
            output += d;
            stdout += d;
        });
        child.stderr.on("data", (d) => (output += d));
        child.on("close", (code, signal) => resolve({ code: code ?? -1, output, stdout, ...(signal ? { signal } : {}) }));
    });
}

/**
 * Kills `root` and every process below it at once, as a runner ends a job that timed out: each is
 * stopped first, so that none starts another or is orphaned before the kill. Pulumi starts its
 * plugins (providers, the policy pack) in process groups of their own, so killing the script's
 * group alone would leave them running.
 */
export function killProcessTree(root: number): void {
    const signal = (pid: number, name: NodeJS.Signals) => {
        try {
            process.kill(pid, name);
        } catch {
            // gone already
        }
    };
    const stopped = new Set<number>();
    for (
        let fresh = [root];
        fresh.length;
        fresh = processTree(root)
            .map((p) => p.pid)
            .filter((pid) => !stopped.has(pid))
    ) {
        for (const pid of fresh) {
            signal(pid, "SIGSTOP");
            stopped.add(pid);
        }
    }
    for (const pid of stopped) signal(pid, "SIGKILL");
}

/** kubectl with the given kubeconfig file; resolves with its exit code and output, never throws. */
export function kubectlAs(kubeconfigFile: string, args: string[], input?: string): { code: number; output: string } {
    const result = spawnSync(path.join(requireEnv("ESTEIRA_KUBE_BIN_DIR"), "kubectl"), ["--kubeconfig", kubeconfigFile, ...args], {
        encoding: "utf8",
        input,
    });
    return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** The operations of a preview or update summary other than `same`, e.g. `[["update", 1]]`. */
export function changes(summary: Record<string, number | undefined> | undefined): [string, number][] {
    return (
        Object.entries(summary ?? {})
            // A read (the stack's own StackReference, for the names it deployed last time) changes nothing.
            .filter(([op, count]) => op !== "same" && op !== "read" && (count ?? 0) > 0)
            .map(([op, count]) => [op, count ?? 0])
    );
}

// --- Kubernetes ----------------------------------------------------------------------------------------
export function kube() {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(local.kubeconfigPath);
    return {
        core: kc.makeApiClient(k8s.CoreV1Api),
        apps: kc.makeApiClient(k8s.AppsV1Api),
        autoscaling: kc.makeApiClient(k8s.AutoscalingV2Api),
        batch: kc.makeApiClient(k8s.BatchV1Api),
        networking: kc.makeApiClient(k8s.NetworkingV1Api),
        policy: kc.makeApiClient(k8s.PolicyV1Api),
    };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await check();
            if (value !== undefined) return value;
        } catch (err) {
            last = err;
        }
        await sleep(1000);
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Resolves once the namespace no longer exists. */
export async function namespaceGone(name: string, timeoutMs = 120_000): Promise<void> {
    const { core } = kube();
    await eventually(
        `namespace ${name} to be deleted`,
        async () => {
            try {
                await core.readNamespace({ name });
                return undefined;
            } catch (err) {
                if ((err as { code?: number }).code === 404) return true;
                throw err;
            }
        },
        timeoutMs,
    );
}

/**
 * `http://<ClusterIP>:<port>` of a Service, once kube-proxy routes it from this host to the pods.
 * `pulumi up` returns when the pods are ready, but the EndpointSlice and kube-proxy's rules follow a
 * moment later. Until then a connection is rejected, or, before kube-proxy has seen the Service at all,
 * follows the default route to whatever answers there (on this machine's network, an HTTP server that
 * says 404 with an empty body). So this waits for kube-proxy's rule that sends the address to the
 * Service's endpoints: `-d <ClusterIP>/32 … --dport <port> -j KUBE-SVC-…` in the nat table.
 */
export async function serviceUrl(namespace: string, name: string, timeoutMs = 30_000): Promise<string> {
    const service = await kube().core.readNamespacedService({ name, namespace });
    const host = service.spec!.clusterIP!;
    const port = service.spec!.ports![0].port;
    const routed = new RegExp(`-d ${host.replace(/\./g, "\\.")}/32 .*--dport ${port} .*-j KUBE-SVC-`);
    await eventually(
        `kube-proxy to route Service ${namespace}/${name} (${host}:${port}) to its endpoints`,
        async () => (routed.test(execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" })) ? true : undefined),
        timeoutMs,
    );
    return `http://${host}:${port}`;
}

/** GETs `url` every `intervalMs` until stopped; counts what failed (anything but a 2xx answer). */
export function requestLoop(url: string, intervalMs = 100) {
    const stats = { ok: 0, failed: 0, errors: [] as string[] };
    let running = true;
    const loop = (async () => {
        while (running) {
            try {
                const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
                await response.arrayBuffer();
                if (response.ok) stats.ok++;
                else {
                    stats.failed++;
                    stats.errors.push(`HTTP ${response.status}`);
                }
            } catch (err) {
                stats.failed++;
                stats.errors.push(String(err));
            }
            await sleep(intervalMs);
        }
    })();
    return {
        stats,
        stop: async () => {
            running = false;
            await loop;
            return stats;
        },
    };
}

// --- the node's runtime ---------------------------------------------------------------------------------
export interface RuntimeContainer {
    id: string;
    labels: Record<string, string>;
    /** The OCI runtime spec runc ran the container with. */
    spec: { process: { user: { uid: number; gid: number } }; root: { readonly?: boolean } };
}

/** The containers the node's containerd holds for pods of a namespace (what `crictl ps -a` lists). */
export function runtimeContainers(namespace: string): RuntimeContainer[] {
    const [ctr, ...args] = local.ctr;
    const ids = execFileSync(ctr, [...args, "containers", "ls", "-q", `labels."io.kubernetes.pod.namespace"==${namespace}`], {
        encoding: "utf8",
    })
        .split("\n")
        .filter(Boolean);
    return ids.map((id) => {
        const info = JSON.parse(execFileSync(ctr, [...args, "containers", "info", id], { encoding: "utf8" }));
        return { id, labels: info.Labels ?? {}, spec: info.Spec };
    });
}

/**
 * What a writer other than Kubernetes' own controllers changes on an object: its identity, its
 * spec's generation, its labels and annotations. Its resourceVersion also moves with every status
 * update (a rollout's conditions settling), so it cannot say "untouched".
 */
export function writtenVersion(object: k8s.V1Deployment): string {
    const { uid, generation, labels, annotations } = object.metadata ?? {};
    return JSON.stringify({ uid, generation, labels, annotations });
}

// --- notifications ------------------------------------------------------------------------------
/** Slack's incoming webhook, standing in: records every post, answers `status` (changeable). */
export class Webhook {
    readonly received: { path: string; body: any }[] = [];
    status = 200;
    private server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => (body += chunk));
        req.on("end", () => {
            this.received.push({ path: req.url ?? "", body: JSON.parse(body) });
            res.writeHead(this.status, { "content-type": "text/plain" }).end(this.status === 200 ? "ok" : "no_service");
        });
    });
    url = "";
    /** Listens on `host`: loopback for the scripts, the node's address for pods. */
    async start(host = "127.0.0.1") {
        await new Promise<void>((resolve) => this.server.listen(0, host, resolve));
        this.url = `http://${host}:${(this.server.address() as AddressInfo).port}/services/T0/B0/e2e-secret-path`;
    }
    close() {
        return new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
    /** The texts received since `from`. */
    texts(from = 0) {
        return this.received.slice(from).map((r) => String(r.body.text));
    }
}

// --- PostgreSQL -------------------------------------------------------------------------------------------
/** Runs SQL with psql against a database URL and returns its unaligned, tuples-only output. */
export function psql(sql: string, url = databaseUrl): string {
    // psql's complaints go into the error this throws, not onto the suite's output.
    return execFileSync("psql", [url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
    }).trim();
}
