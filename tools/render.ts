/**
 * `npm run render`: each stack file's Kubernetes objects as YAML, one file per object, for a team
 * that reviews YAML or hands it to Argo CD, and for the manifest linters (scripts/lint-manifests.sh).
 * The program is evaluated under mocks exactly as `npm test` evaluates it, so it runs anywhere,
 * with no cloud account, engine or cluster; values only the cloud reports (a built image's digest,
 * a VPC's range, a load balancer's address) are the tests' stand-ins (lib/fakes.ts).
 *
 *   npm run -s render                               every stack file, and the PR template as pr-42
 *   npm run -s render -- -s homolog [-s prod] [-o dir]
 *
 * Writes <dir>/<stack>/<kind>-<name>.yaml (<kind>-<namespace>.<name>.yaml where a stack spans several
 * namespaces; default dir: rendered/, git-ignored), replacing the
 * files an earlier render wrote there. Secret values are never written: every value that is a
 * Pulumi secret, and every value of a Secret's data and stringData, becomes `<secret>`.
 */
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { evaluated, isSecretValue, RecordedResource, Recorder, REPO_ROOT, stackCases } from "../lib/mocks";

export const SECRET_PLACEHOLDER = "<secret>";
export const DEFAULT_OUTPUT = path.join(REPO_ROOT, "rendered");

/** The first line of every file this tool writes; it only ever replaces files that start with it. */
const HEADER = "# Rendered by esteira (npm run render)";

/** `kubernetes:apps/v1:Deployment` → apiVersion `apps/v1`, kind `Deployment` (`core/v1` is plain `v1`). */
export function apiOf(type: string): { apiVersion: string; kind: string } {
    const match = /^kubernetes:([^:]+):([A-Za-z]+)$/.exec(type);
    if (!match) throw new Error(`${type} is not a Kubernetes resource type`);
    return { apiVersion: match[1].replace(/^core\//, ""), kind: match[2] };
}

/** A serialized input with every Pulumi secret replaced by the placeholder, keeping a map's keys. */
function redact(value: any): any {
    if (isSecretValue(value)) {
        const inner = value.value;
        return inner && typeof inner === "object" && !Array.isArray(inner)
            ? Object.fromEntries(Object.keys(inner).map((key) => [key, SECRET_PLACEHOLDER]))
            : SECRET_PLACEHOLDER;
    }
    if (Array.isArray(value)) return value.map(redact);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
    return value;
}

/**
 * The manifest a Kubernetes resource's inputs make, secrets replaced; with `standIns`, secrets keep
 * the evaluation's stand-in values (lib/fakes.ts), so the manifest can be applied to a test cluster.
 */
export function manifestOf(resource: RecordedResource, { standIns = false } = {}): Record<string, any> {
    const { apiVersion, kind } = apiOf(resource.type);
    const inputs = standIns ? structuredClone(resource.inputs) : redact(resource.rawInputs);
    const { apiVersion: _a, kind: _k, metadata = {}, ...rest } = inputs;
    if (kind === "Secret" && !standIns) {
        // Whatever the SDK marked, a Secret's values are never written; `data` stays valid base64.
        const hidden = (field: "data" | "stringData", text: string) =>
            rest[field] && (rest[field] = Object.fromEntries(Object.keys(rest[field]).map((key) => [key, text])));
        hidden("data", Buffer.from(SECRET_PLACEHOLDER).toString("base64"));
        hidden("stringData", SECRET_PLACEHOLDER);
    }
    // Pulumi names an object the program leaves unnamed (the migration Job) `<resource name>-<random>`.
    const named = metadata.name ? metadata : { generateName: `${resource.name}-`, ...metadata };
    return { apiVersion, kind, metadata: named, ...rest };
}

/**
 * `<kind>-<name>.yaml`, lower-case kind; `<kind>-<namespace>.<name>.yaml` for a namespaced object of
 * a stack that spans several namespaces (`esteira:namespaces`), where names repeat per namespace.
 */
export function fileNameOf(manifest: Record<string, any>, qualified = false): string {
    const name = manifest.metadata.name ?? manifest.metadata.generateName.replace(/-$/, "");
    const namespace = qualified && manifest.metadata.namespace ? `${manifest.metadata.namespace}.` : "";
    return `${manifest.kind.toLowerCase()}-${namespace}${name}.yaml`;
}

/** The Kubernetes objects an evaluation registered, in registration order. */
export function kubernetesObjects(recorder: Recorder): RecordedResource[] {
    return recorder.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
}

/** One stack file's manifests: file name → YAML text, in file-name order. */
export async function renderStack(stack: string): Promise<Map<string, string>> {
    const { recorder } = await evaluated(stack);
    const file = stackCases().find((c) => c.stack === stack)?.file ?? `Pulumi.${stack}.yaml`;
    const files = new Map<string, string>();
    const resources = kubernetesObjects(recorder);
    const qualified = new Set(resources.map((r) => manifestOf(r).metadata.namespace).filter(Boolean)).size > 1;
    for (const resource of resources) {
        const manifest = manifestOf(resource);
        const name = fileNameOf(manifest, qualified);
        if (files.has(name)) throw new Error(`${stack}: two objects render to ${name}`);
        const header = [
            `${HEADER} from ${file} (stack ${stack}), evaluated under mocks; Pulumi resource ${resource.name}.`,
            `# Values only the cloud reports are stand-ins; secret values are replaced by ${SECRET_PLACEHOLDER}, never written.`,
        ].join("\n");
        files.set(name, `${header}\n${stringify(manifest, { lineWidth: 0 })}`);
    }
    return new Map([...files].sort(([a], [b]) => a.localeCompare(b)));
}

/** Writes one stack's manifests under `<output>/<stack>/`, removing what an earlier render left there. */
export async function writeStack(stack: string, output: string): Promise<string[]> {
    const directory = path.join(output, stack);
    fs.mkdirSync(directory, { recursive: true });
    for (const entry of fs.readdirSync(directory)) {
        const full = path.join(directory, entry);
        if (entry.endsWith(".yaml") && fs.readFileSync(full, "utf8").startsWith(HEADER)) fs.rmSync(full);
    }
    const files = await renderStack(stack);
    for (const [name, text] of files) fs.writeFileSync(path.join(directory, name), text);
    return [...files.keys()].map((name) => path.join(directory, name));
}

const USAGE = "usage: npm run -s render -- [-s <stack>]... [-o <dir>]";

function usage(problem: string): never {
    console.error(`${problem}\n${USAGE}`);
    process.exit(2);
}

async function main(argv: string[]): Promise<void> {
    if (argv.includes("--help") || argv.includes("-h")) {
        console.log(`${USAGE}\n\nWrites each stack file's Kubernetes objects as YAML, one file per object (default: rendered/<stack>/).`);
        return;
    }
    const known = stackCases().map((c) => c.stack);
    const stacks: string[] = [];
    let output = DEFAULT_OUTPUT;
    for (let i = 0; i < argv.length; i++) {
        const [flag, value] = [argv[i], argv[i + 1]];
        if ((flag === "-s" || flag === "--stack") && value) stacks.push(value);
        else if ((flag === "-o" || flag === "--output") && value) output = path.resolve(value);
        else usage(`unknown argument ${JSON.stringify(flag)}`);
        i++;
    }
    for (const stack of stacks) {
        if (!known.includes(stack)) usage(`no stack file for "${stack}"; the stacks are: ${known.join(", ")}`);
    }
    for (const stack of stacks.length > 0 ? stacks : known) {
        const written = await writeStack(stack, output);
        const where = path.relative(process.cwd(), path.join(output, stack));
        console.log(`${stack}: ${written.length} objects in ${where.startsWith("..") ? path.join(output, stack) : where}`);
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((err) => {
        console.error(err);
        process.exit(1);
    });
}
