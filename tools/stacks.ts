/**
 * `npm run -s stacks`: the stacks the workflows act on, read from the stack files, so that a new
 * `Pulumi.<name>.yaml` is all a new environment takes.
 *
 *   npm run -s stacks                              every stack the workflows manage, in deploy order (preview)
 *   npm run -s stacks -- --ref refs/heads/main     the stacks a push or tag of that ref deploys, in order
 *   npm run -s stacks -- --line refs/heads/main    the same as deploy.yml's matrix: {stack, environment, evidence}
 *   npm run -s stacks -- --dispatch homolog        the "Run workflow" target: {stack, environment, stage}, or an error
 *   npm run -s stacks -- --recover homolog         operations.yml's recovery target below prod: {stack, environment}
 *
 * Prints JSON, for a workflow matrix or a job's environment (`fromJSON`). A stack is the
 * workflows' when its file sets `esteira:github` (local stacks do not). It deploys on a ref its
 * `esteira:github.deployFrom` admits, unless `deployOn: release` (a release run deploys it, no push). Order: a stack comes after those it names in
 * `esteira:github.deployAfter`, promotes an image from (`promoteFrom`, or the stage whose
 * verification it promotes, `verifiedIn`), when they deploy on the same ref; otherwise by name.
 */
import { githubSchema, GitHubSettings } from "../vocabulary/schema";
import { stackFileConfig, stackFiles } from "../lib/stack-files";

/** What the workflows need to know about one stack file. */
export interface WorkflowStack {
    stack: string;
    /** Its GitHub environment: `esteira:github.environment`, else `esteira:environment`, else the stack's name. */
    environment: string;
    deployFrom: NonNullable<GitHubSettings["deployFrom"]>;
    /** `release`: no push deploys it; a release run does (deploy.yml, workflow_dispatch on main). */
    deployOn: NonNullable<GitHubSettings["deployOn"]>;
    /** Stacks that deploy first when both deploy on the same ref. */
    after: string[];
    /** `esteira:production`: reached only through a release run's two approvals, never a push. */
    production: boolean;
    /** A workload builds its image here (`image.build`): its verification is the provenance of what it built. */
    builds: boolean;
    /** The stages whose verified digests it deploys (`image.verifiedIn`). */
    verifiedIn: string[];
}

/** One entry of deploy.yml's matrix: the stack, the environment its job runs in, the evidence it leaves. */
export interface LineEntry {
    stack: string;
    environment: string;
    /** `provenance`: it builds, and attests what it built from the commit; `verified`: it signs what it promoted. */
    evidence: "provenance" | "verified";
}

/** What "Run workflow" deploys to a stack below prod: whose verification of a commit (`stage`). */
export interface DispatchTarget {
    stack: string;
    environment: string;
    stage: string;
}

/** A stack name of this project from a reference to another stack (`homolog` or `<org>/<project>/homolog`). */
const stackOf = (reference: string) => reference.slice(reference.lastIndexOf("/") + 1);

/** The workflows' stacks among the given stack files' configs, by stack name. */
export function workflowStacks(configs: Record<string, Record<string, any>>): WorkflowStack[] {
    return Object.entries(configs)
        .filter(([, config]) => config["esteira:github"] !== undefined)
        .map(([stack, config]) => {
            const github = githubSchema.safeParse(config["esteira:github"]);
            if (!github.success) throw new Error(`Pulumi.${stack}.yaml: esteira:github is invalid; run npm test for the details`);
            const images = ["services", "workers", "jobs"]
                .flatMap((kind) => Object.values<any>(config[`esteira:${kind}`] ?? {}))
                .map((workload) => workload?.image);
            const verifiedIn = images.map((image) => image?.verifiedIn).filter((s): s is string => typeof s === "string");
            const reads = images.flatMap((image) => [image?.promoteFrom, image?.verifiedIn]);
            const after = [...(github.data.deployAfter ?? []), ...reads.filter((s): s is string => typeof s === "string")].map(stackOf);
            return {
                stack,
                environment: github.data.environment ?? config["esteira:environment"] ?? stack,
                deployFrom: github.data.deployFrom ?? "all",
                deployOn: github.data.deployOn ?? "push",
                after: [...new Set(after)].sort(),
                production: config["esteira:production"] === true,
                builds: images.some((image) => image?.build !== undefined),
                verifiedIn: [...new Set(verifiedIn)].sort(),
            };
        });
}

/** A GitHub ref pattern as a regular expression: `*` within one path segment, `**` across them. */
function pattern(glob: string): RegExp {
    const body = glob
        .split("**")
        .map((part) =>
            part
                .split("*")
                .map((text) => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
                .join("[^/]*"),
        )
        .join(".*");
    return new RegExp(`^${body}$`);
}

/** Whether a stack deploys on a ref: any ref, any branch (GitHub enforces which are protected), or the patterns. */
export function deploysOn(deployFrom: WorkflowStack["deployFrom"], ref: string): boolean {
    if (deployFrom === "all") return true;
    if (deployFrom === "protected") return ref.startsWith("refs/heads/");
    const [kind, name] = ref.startsWith("refs/heads/")
        ? ["branches", ref.slice("refs/heads/".length)]
        : ref.startsWith("refs/tags/")
          ? ["tags", ref.slice("refs/tags/".length)]
          : [undefined, ""];
    const patterns = kind === "branches" ? deployFrom.branches : kind === "tags" ? deployFrom.tags : undefined;
    return (patterns ?? []).some((glob) => pattern(glob).test(name));
}

/** The stacks in deploy order: each after those it depends on among them, by name otherwise; a cycle or an unknown stack is an error. */
export function deployOrder(stacks: WorkflowStack[], ref?: string): string[] {
    const known = new Set(stacks.map((s) => s.stack));
    for (const { stack, after } of stacks) {
        for (const other of after.filter((name) => !known.has(name))) {
            throw new Error(
                `Pulumi.${stack}.yaml: deploys after "${other}", which is no stack the workflows manage (a Pulumi.<stack>.yaml with esteira:github)`,
            );
        }
    }
    const chosen = stacks
        .filter((s) => ref === undefined || (s.deployOn === "push" && deploysOn(s.deployFrom, ref)))
        .sort((a, b) => a.stack.localeCompare(b.stack));
    const names = new Set(chosen.map((s) => s.stack));
    const order: string[] = [];
    const visiting: string[] = [];
    const visit = (entry: WorkflowStack) => {
        if (order.includes(entry.stack)) return;
        if (visiting.includes(entry.stack))
            throw new Error(`the stacks deploy after each other in a circle: ${[...visiting, entry.stack].join(" → ")}`);
        visiting.push(entry.stack);
        for (const before of entry.after.filter((name) => names.has(name))) visit(chosen.find((s) => s.stack === before)!);
        visiting.pop();
        order.push(entry.stack);
    };
    chosen.forEach(visit);
    return order;
}

/**
 * deploy.yml's matrix for a push of `ref`: the stacks it deploys, in order (the matrix runs one at a
 * time, in this order, and stops at the first failure). A production stack never joins a push: it
 * is reached through a release run's two approvals only.
 */
export function deployLine(stacks: WorkflowStack[], ref: string): LineEntry[] {
    return deployOrder(stacks, ref).map((name) => {
        const entry = stacks.find((s) => s.stack === name)!;
        if (entry.production)
            throw new Error(
                `Pulumi.${name}.yaml: a production stack (esteira:production) is deployed by release runs only, through prod-preview's and its own approval; set esteira:github.deployOn: release`,
            );
        return { stack: name, environment: entry.environment, evidence: entry.builds ? "provenance" : "verified" };
    });
}

/**
 * The stage whose verification of a commit a stack deploys: its own, when it builds (a redeploy
 * of an earlier build), else the one stage its workloads name in `image.verifiedIn`.
 */
export function promotionStage(entry: WorkflowStack): string {
    if (entry.builds && entry.verifiedIn.length === 0) return entry.stack;
    if (!entry.builds && entry.verifiedIn.length === 1) return entry.verifiedIn[0];
    const found = [...(entry.builds ? [`${entry.stack} (image.build)`] : []), ...entry.verifiedIn];
    throw new Error(
        `Pulumi.${entry.stack}.yaml: its workloads come from ${found.length === 0 ? "no stage" : found.join(" and ")}; a deploy of verified digests needs exactly one: build every image here, or set the same image.verifiedIn on each`,
    );
}

/** The stack below prod whose environment (or stack) is `name`: one a push may deploy; prod's way is a release run's. */
function belowProd(stacks: WorkflowStack[], name: string, prodWay: string): WorkflowStack {
    const entry = stacks.find((s) => s.environment === name) ?? stacks.find((s) => s.stack === name);
    const choices = stacks.filter((s) => s.deployOn === "push" && !s.production).map((s) => s.environment);
    if (!entry)
        throw new Error(
            `no stack file deploys to environment "${name}" (a Pulumi.<stack>.yaml with esteira:github); choose one of: ${choices.join(", ")}`,
        );
    if (entry.deployOn === "release" || entry.production) throw new Error(`${entry.environment} is deployed by a release run: ${prodWay}`);
    return entry;
}

/** The "Run workflow" target named `name` (an environment or a stack): a stack a push may deploy, and the stage it promotes from. */
export function dispatchTarget(stacks: WorkflowStack[], name: string): DispatchTarget {
    const entry = belowProd(stacks, name, "give a release tag (release: v1.2.3) instead");
    return { stack: entry.stack, environment: entry.environment, stage: promotionStage(entry) };
}

/** operations.yml's recovery target below prod named `name`: the stack and its environment. */
export function recoveryTarget(stacks: WorkflowStack[], name: string): { stack: string; environment: string } {
    const { stack, environment } = belowProd(stacks, name, "operations.yml recovers it through its own two approvals (environment prod)");
    return { stack, environment };
}

/** The repository's stack files, as the workflows see them. */
export function repositoryStacks(): WorkflowStack[] {
    return workflowStacks(Object.fromEntries(stackFiles().map((stack) => [stack, stackFileConfig(stack)])));
}

/** What the command line asks for. */
export function run(args: string[], stacks: () => WorkflowStack[]): unknown {
    const [flag, value] = args;
    if (args.length === 0) return deployOrder(stacks());
    if (args.length !== 2) throw new Error(`unexpected arguments: ${args.join(" ")}`);
    if (flag === "--ref") return deployOrder(stacks(), value);
    if (flag === "--line") return deployLine(stacks(), value);
    if (flag === "--dispatch") return dispatchTarget(stacks(), value);
    if (flag === "--recover") return recoveryTarget(stacks(), value);
    throw new Error(`unexpected arguments: ${args.join(" ")}`);
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const usage = "usage: npm run -s stacks [-- --ref <git ref> | --line <git ref> | --dispatch <environment> | --recover <environment>]";
    if (args.includes("--help") || args.includes("-h")) {
        console.log(
            [
                usage,
                "",
                "Prints, as JSON, from the stack files with esteira:github:",
                "  (no argument)        every stack, in deploy order",
                "  --ref <ref>          the stacks a push of the ref deploys, in order (e.g. refs/heads/main)",
                "  --line <ref>         deploy.yml's matrix for that push: [{stack, environment, evidence}]",
                '  --dispatch <env>     "Run workflow"\'s target below prod: {stack, environment, stage}',
                "  --recover <env>      operations.yml's target below prod: {stack, environment}",
            ].join("\n"),
        );
        process.exit(0);
    }
    try {
        console.log(JSON.stringify(run(args, repositoryStacks)));
    } catch (err) {
        console.error(`stacks: ${(err as Error).message}`);
        console.error(usage);
        process.exit(/unexpected arguments/.test((err as Error).message) ? 2 : 1);
    }
}
