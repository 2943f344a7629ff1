/**
 * `npm run -s stacks`: the stacks the workflows act on, read from the stack files, so that a new
 * `Pulumi.<name>.yaml` is all a new environment takes.
 *
 *   npm run -s stacks                              every stack the workflows manage, in deploy order (preview)
 *   npm run -s stacks -- --ref refs/heads/main     the stacks a push or tag of that ref deploys, in order
 *
 * Prints a JSON array of stack names, for a workflow matrix (`fromJSON`). A stack is the
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
    deployFrom: NonNullable<GitHubSettings["deployFrom"]>;
    /** `release`: no push deploys it; a release run does (deploy.yml, workflow_dispatch on main). */
    deployOn: NonNullable<GitHubSettings["deployOn"]>;
    /** Stacks that deploy first when both deploy on the same ref. */
    after: string[];
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
            const workloads = ["services", "workers", "jobs"].flatMap((kind) => Object.values<any>(config[`esteira:${kind}`] ?? {}));
            const reads = workloads.flatMap((workload) => [workload?.image?.promoteFrom, workload?.image?.verifiedIn]);
            const after = [...(github.data.deployAfter ?? []), ...reads.filter((s): s is string => typeof s === "string")].map(stackOf);
            return {
                stack,
                deployFrom: github.data.deployFrom ?? "all",
                deployOn: github.data.deployOn ?? "push",
                after: [...new Set(after)].sort(),
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

/** The repository's stack files, as the workflows see them. */
export function repositoryStacks(): WorkflowStack[] {
    return workflowStacks(Object.fromEntries(stackFiles().map((stack) => [stack, stackFileConfig(stack)])));
}

if (require.main === module) {
    const args = process.argv.slice(2);
    const usage = "usage: npm run -s stacks [-- --ref <git ref, e.g. refs/heads/main or refs/tags/v1.2.0>]";
    const ref = args[0] === "--ref" ? args[1] : undefined;
    if (args.includes("--help") || args.includes("-h")) {
        console.log(`${usage}\n\nPrints, as JSON, the stacks with esteira:github in deploy order (those a push to the ref deploys).`);
        process.exit(0);
    }
    if (args.length > 0 && !ref) {
        console.error(usage);
        process.exit(2);
    }
    try {
        console.log(JSON.stringify(deployOrder(repositoryStacks(), ref)));
    } catch (err) {
        console.error(`stacks: ${(err as Error).message}`);
        process.exit(1);
    }
}
