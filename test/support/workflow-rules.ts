/**
 * The trust rules of the GitHub workflows, as functions from a workflow (parsed with `yaml`, raw
 * text kept for comments) to the problems found, one line each naming the file and the job.
 * test/workflows.test.ts applies them to every workflow of the repository (no problem allowed) and
 * to bad examples (each rule must catch its own).
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../../lib/stack-files";
import { deployLine, dispatchTarget, recoveryTarget, WorkflowStack } from "../../tools/stacks";

export interface Workflow {
    /** Path relative to the repository, e.g. `.github/workflows/deploy.yml`. */
    file: string;
    text: string;
    doc: any;
}

/** A workflow (or composite action) from its text. */
export function workflowOf(file: string, text: string): Workflow {
    return { file, text, doc: parseYaml(text) ?? {} };
}

/** Every workflow of the repository. */
export function repositoryWorkflows(): Workflow[] {
    const dir = path.join(REPO_ROOT, ".github", "workflows");
    return fs
        .readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => workflowOf(`.github/workflows/${f}`, fs.readFileSync(path.join(dir, f), "utf8")));
}

/** Every composite action of the repository (`.github/actions/<name>/action.yml`). */
export function repositoryActions(): Workflow[] {
    const dir = path.join(REPO_ROOT, ".github", "actions");
    if (!fs.existsSync(dir)) return [];
    return fs
        .readdirSync(dir)
        .sort()
        .map((name) => `.github/actions/${name}/action.yml`)
        .filter((file) => fs.existsSync(path.join(REPO_ROOT, file)))
        .map((file) => workflowOf(file, fs.readFileSync(path.join(REPO_ROOT, file), "utf8")));
}

// ---- helpers -------------------------------------------------------------------------------

type Job = { name: string; job: any };

/**
 * What a job's expressions can be at run time when they come from another job rather than from
 * the workflow file: for each job name, every context it can run with (`matrix.stack`,
 * `needs.plan.outputs.environment`, …), as its plan job computes them from the stack files
 * (tools/stacks.ts). A job whose environment is such an expression, with no contexts given, is
 * taken at its word: an environment named by an expression nobody checked.
 */
export type RunContexts = Record<string, Record<string, string>[]>;

const jobsOf = (wf: Workflow): Job[] => Object.entries(wf.doc.jobs ?? {}).map(([name, job]) => ({ name, job }));
const stepsOf = (job: any): any[] => (Array.isArray(job?.steps) ? job.steps : []);
const triggersOf = (wf: Workflow): string[] => {
    const on = wf.doc.on ?? wf.doc[true as unknown as string];
    if (typeof on === "string") return [on];
    if (Array.isArray(on)) return on;
    return Object.keys(on ?? {});
};

/** Triggers through which a pull request's code or event reaches a job. */
const PULL_REQUEST_TRIGGERS = ["pull_request", "pull_request_target", "workflow_run"];

/** Secret names a job references (`secrets.X`), `GITHUB_TOKEN` aside. */
export function secretsOf(job: any): string[] {
    const names = [...JSON.stringify(job).matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]);
    return [...new Set(names)].filter((name) => name !== "GITHUB_TOKEN").sort();
}

const varsOf = (job: any): string[] => [...new Set([...JSON.stringify(job).matchAll(/vars\.([A-Za-z0-9_]+)/g)].map((m) => m[1]))];

/** A variable name that holds a credential, which belongs in a secret. */
const CREDENTIAL_NAME = /TOKEN|PASSWORD|PASSPHRASE|SECRET|KEY|KUBECONFIG|CREDENTIAL/i;

/** Commands and scripts that change a stack, and so need the stack's environment. */
const MUTATING =
    /\bpulumi\s+(up|update|destroy|refresh|cancel|import|stack\s+rm|state)\b|scripts\/(deploy|rollback|converge|pr-stack|recover|dispatch-deploy|mark-verified)\.sh|scripts\/drift\.sh\s+--remediate\b/;

const runsOf = (job: any): string =>
    stepsOf(job)
        .map((s) => (typeof s.run === "string" ? s.run : ""))
        .join("\n");

// ---- the rules -----------------------------------------------------------------------------

/**
 * Every `uses:` is a local action (`./…`) or pinned to a full commit SHA, with the version it stands
 * for in a comment on the same line (what Dependabot updates with it); a Docker image by digest.
 */
export function unpinnedUses(wf: Workflow): string[] {
    const problems: string[] = [];
    wf.text.split("\n").forEach((line, index) => {
        const m = /^\s*(?:-\s*)?uses:\s*([^\s#]+)\s*(#.*)?$/.exec(line);
        if (!m) return;
        const [, ref, comment] = m;
        if (ref.startsWith("./")) return;
        const pinned = ref.startsWith("docker://")
            ? /@sha256:[0-9a-f]{64}$/.test(ref)
            : /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(ref) && /^#\s*v\d+(\.\d+)*\b/.test(comment ?? "");
        if (!pinned) {
            problems.push(
                `${wf.file}:${index + 1}: "uses: ${ref}" must be pinned to a full commit SHA with its version in a comment (owner/repo@<40 hex> # vX.Y.Z)`,
            );
        }
    });
    return problems;
}

/** The review zone: the only environment, and the only secrets, a job a pull request reaches may use. */
export const REVIEW_ZONE = {
    environment: "review",
    // The pull requests' backend and passphrase (never the review base's: those are review-base's), the
    // base's tenant issuer (confined to pull-request namespaces by admission), the pull token, and the
    // push token of the review zone's own packages.
    secrets: [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "PULUMI_ACCESS_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
        "REGISTRY_TOKEN",
        "REVIEW_REGISTRY_PUSH_TOKEN",
        "TENANT_ISSUER_KUBECONFIG",
    ],
};

/**
 * A job a pull request reaches writes no package with the run's GITHUB_TOKEN: with `packages: write`
 * it writes every package that grants this repository's Actions write access, main's among them. It
 * pushes with the review zone's own token (REVIEW_REGISTRY_PUSH_TOKEN) instead.
 */
export function pullRequestPackages(wf: Workflow): string[] {
    if (!triggersOf(wf).some((t) => PULL_REQUEST_TRIGGERS.includes(t))) return [];
    const problems: string[] = [];
    for (const { name, job } of jobsOf(wf)) {
        const permissions = job.permissions ?? wf.doc.permissions;
        const writes = permissions === "write-all" || (typeof permissions === "object" && permissions?.packages === "write");
        if (writes) {
            problems.push(
                `${wf.file}: jobs.${name}: a job a pull request reaches must not hold packages: write (its GITHUB_TOKEN could write main's packages); push with the review zone's REVIEW_REGISTRY_PUSH_TOKEN`,
            );
        }
    }
    return problems;
}

/**
 * A job a pull request reaches holds no secret beyond the review zone's, and those only in the
 * `review` environment; no variable that is a credential; never `secrets: inherit`; and no
 * `pull_request_target`, which runs with the base repository's secrets on a pull request's event.
 */
export function pullRequestSecrets(wf: Workflow): string[] {
    const triggers = triggersOf(wf);
    if (!triggers.some((t) => PULL_REQUEST_TRIGGERS.includes(t))) return [];
    const problems: string[] = [];
    if (triggers.includes("pull_request_target")) {
        problems.push(
            `${wf.file}: pull_request_target runs with the base repository's secrets on a pull request's event; use pull_request`,
        );
    }
    for (const { name, job } of jobsOf(wf)) {
        const where = `${wf.file}: jobs.${name}`;
        if (job.secrets === "inherit") problems.push(`${where}: "secrets: inherit" hands every secret to the called workflow`);
        const secrets = secretsOf(job);
        const outside = secrets.filter((s) => !REVIEW_ZONE.secrets.includes(s));
        if (outside.length > 0) {
            problems.push(
                `${where}: a job a pull request reaches must not hold ${outside.join(", ")} (allowed: the review zone's ${REVIEW_ZONE.secrets.join(", ")})`,
            );
        }
        if (secrets.length > 0 && job.environment !== REVIEW_ZONE.environment) {
            problems.push(
                `${where}: holds ${secrets.join(", ")} on a pull request's event outside the ${REVIEW_ZONE.environment} environment`,
            );
        }
        for (const variable of varsOf(job).filter((v) => CREDENTIAL_NAME.test(v))) {
            problems.push(
                `${where}: vars.${variable} looks like a credential; a pull request's job must not get one (keep credentials in an environment's secrets)`,
            );
        }
    }
    return problems;
}

/**
 * The environments a workflow may name: the stacks' own (esteira:github; the name defaults to the
 * environment's, which defaults to the stack's) and the ones esteira:repository protects.
 */
export function protectedEnvironments(stackFiles: Record<string, Record<string, any>>): string[] {
    const names = new Set<string>();
    for (const [stack, config] of Object.entries(stackFiles)) {
        const github = config["esteira:github"];
        if (github) names.add(github.environment ?? config["esteira:environment"] ?? stack);
        for (const name of Object.keys(config["esteira:repository"]?.environments ?? {})) names.add(name);
    }
    return [...names].filter(Boolean).sort();
}

/**
 * A job that holds a secret or changes a stack names the environment those credentials belong to,
 * one the stacks protect: a literal, or `${{ inputs.<x> }}` of a `choice` input whose options are
 * all such environments. `prod-preview`, the read-only release preview, changes nothing.
 */
export function environmentOfWrites(wf: Workflow, environments: string[], contexts: RunContexts = {}): string[] {
    const problems: string[] = [];
    const inputs = wf.doc.on?.workflow_dispatch?.inputs ?? {};
    for (const { name, job } of jobsOf(wf)) {
        const where = `${wf.file}: jobs.${name}`;
        const secrets = secretsOf(job);
        // recover.sh --preview shows what an operation would do and changes nothing.
        const mutates = MUTATING.test(runsOf(job).replace(/scripts\/recover\.sh\s+--preview\b/g, ""));
        if (secrets.length === 0 && !mutates) continue;
        const environment = typeof job.environment === "object" ? job.environment?.name : job.environment;
        if (environment === undefined) {
            problems.push(
                `${where}: ${mutates ? "changes a stack" : `holds ${secrets.join(", ")}`} but names no environment: its credentials must come from the environment it may change`,
            );
            continue;
        }
        const input = /^\$\{\{\s*(?:github\.event\.)?inputs\.([\w-]+)\s*\}\}$/.exec(String(environment));
        const names: string[] = input
            ? inputs[input[1]]?.type === "choice"
                ? (inputs[input[1]].options ?? [])
                : [String(environment)]
            : contexts[name]?.length
              ? contexts[name].map((context) => evaluateExpressions(String(environment), context))
              : [environment];
        for (const env of names.filter((n) => !environments.includes(n))) {
            problems.push(
                `${where}: environment ${JSON.stringify(env)} is protected by no stack (esteira:github or esteira:repository.environments); GitHub would create it unprotected`,
            );
        }
        if (names.includes("prod-preview") && mutates)
            problems.push(`${where}: the prod-preview environment only previews; this job changes a stack`);
    }
    return problems;
}

/** Write scopes a job may hold, by `<workflow file name>/<job>`; every other job writes nothing. */
export const WRITE_SCOPES: Record<string, string[]> = {
    "ci.yml/diagrams": ["pull-requests"],
    // CodeQL uploads its analysis to code scanning; it holds no other write.
    "ci.yml/codeql": ["security-events"],
    "review.yml/up": ["pull-requests", "packages"],
    "review.yml/down": ["pull-requests"],
    "review.yml/preview": ["pull-requests"],
    "sweep.yml/tell": ["pull-requests"],
};

/**
 * Least privilege: the workflow grants nothing by default (`permissions: {}`), each job declares
 * its own, and only the jobs in {@link WRITE_SCOPES} write, only those scopes; never `id-token`.
 */
export function leastPrivilege(wf: Workflow): string[] {
    const problems: string[] = [];
    const top = wf.doc.permissions;
    if (!(top && typeof top === "object" && Object.keys(top).length === 0)) {
        problems.push(
            `${wf.file}: top-level permissions must be {} (each job declares what it needs); received ${JSON.stringify(top ?? null)}`,
        );
    }
    for (const { name, job } of jobsOf(wf)) {
        const where = `${wf.file}: jobs.${name}`;
        const permissions = job.permissions;
        if (permissions === undefined) {
            problems.push(`${where}: declares no permissions`);
            continue;
        }
        if (typeof permissions === "string") {
            problems.push(`${where}: permissions ${JSON.stringify(permissions)}; list the scopes it needs`);
            continue;
        }
        const allowed = WRITE_SCOPES[`${path.basename(wf.file)}/${name}`] ?? [];
        for (const [scope, level] of Object.entries(permissions)) {
            if (level === "write" && !allowed.includes(scope))
                problems.push(`${where}: ${scope}: write is not in its allowed write scopes (${allowed.join(", ") || "none"})`);
            if (scope === "id-token" && level !== "none") problems.push(`${where}: id-token: ${level}; no job mints OIDC tokens`);
        }
    }
    return problems;
}

/** No `${{ … }}` expression inside a `run:` script: values reach scripts through `env:`, never as code. */
export function expressionsInRun(wf: Workflow): string[] {
    const problems: string[] = [];
    const check = (where: string, steps: any[]) =>
        steps.forEach((step, i) => {
            if (typeof step.run === "string" && step.run.includes("${{")) {
                problems.push(
                    `${wf.file}: ${where}.steps[${i}]: a \${{ }} expression inside run: is script injection waiting to happen; pass it through env:`,
                );
            }
        });
    for (const { name, job } of jobsOf(wf)) check(`jobs.${name}`, stepsOf(job));
    check("runs", stepsOf(wf.doc.runs));
    return problems;
}

/** Every checkout leaves no credential behind for later steps (`persist-credentials: false`). */
export function persistedCredentials(wf: Workflow): string[] {
    const problems: string[] = [];
    const check = (where: string, steps: any[]) =>
        steps.forEach((step, i) => {
            if (
                typeof step.uses === "string" &&
                step.uses.startsWith("actions/checkout@") &&
                step.with?.["persist-credentials"] !== false
            ) {
                problems.push(`${wf.file}: ${where}.steps[${i}]: actions/checkout must set persist-credentials: false`);
            }
        });
    for (const { name, job } of jobsOf(wf)) check(`jobs.${name}`, stepsOf(job));
    check("runs", stepsOf(wf.doc.runs));
    return problems;
}

/** The local action that installs the program (and normalises the build context's modes). */
export const SETUP_ACTION = "./.github/actions/setup";

/**
 * A job that runs the program (`pulumi preview`/`up`, the deploy scripts) sets up through the
 * setup action before, which runs `npm run -s context-modes -- app` (tools/context-modes.ts).
 */
export function setupBeforePulumi(wf: Workflow): string[] {
    const problems: string[] = [];
    const runsProgram =
        /\bpulumi\s+(preview|up)\b|scripts\/(deploy|rollback|release-preview|dispatch-deploy)\.sh|scripts\/pr-stack\.sh\s+up\b/;
    for (const { name, job } of jobsOf(wf)) {
        const steps = stepsOf(job);
        const first = steps.findIndex((s) => typeof s.run === "string" && runsProgram.test(s.run));
        if (first < 0) continue;
        const setup = steps.findIndex((s) => typeof s.uses === "string" && s.uses.split(/\s/)[0] === SETUP_ACTION);
        if (setup < 0 || setup > first)
            problems.push(`${wf.file}: jobs.${name}: runs the program before ${SETUP_ACTION} (which sets the build context's modes)`);
    }
    return problems;
}

/** A local action is given only the inputs it declares. */
export function localActionInputs(wf: Workflow, actions: Workflow[]): string[] {
    const problems: string[] = [];
    const declared = new Map(actions.map((a) => [`./${path.dirname(a.file)}`, Object.keys(a.doc.inputs ?? {})]));
    for (const { name, job } of jobsOf(wf)) {
        stepsOf(job).forEach((step, i) => {
            if (typeof step.uses !== "string" || !step.uses.startsWith("./")) return;
            const inputs = declared.get(step.uses);
            if (!inputs) {
                problems.push(`${wf.file}: jobs.${name}.steps[${i}]: no action at ${step.uses}`);
                return;
            }
            for (const key of Object.keys(step.with ?? {}).filter((k) => !inputs.includes(k))) {
                problems.push(`${wf.file}: jobs.${name}.steps[${i}]: ${step.uses} has no input "${key}" (it has: ${inputs.join(", ")})`);
            }
        });
    }
    return problems;
}

/**
 * A job in a stack's environment shares that stack's concurrency group (`esteira-<stack>`) and is
 * never cancelled midway: two updates of one stack would contend for its lock, and a cancelled one
 * leaves pending operations.
 */
export function stackConcurrency(wf: Workflow, stackOfEnvironment: Record<string, string>, contexts: RunContexts = {}): string[] {
    const problems: string[] = [];
    for (const { name, job } of jobsOf(wf)) {
        if (!MUTATING.test(runsOf(job))) continue;
        for (const context of contexts[name]?.length ? contexts[name] : [{}]) {
            const stack = stackOfEnvironment[evaluateExpressions(String(job.environment ?? ""), context)];
            if (!stack) continue;
            const group = evaluateExpressions(String(job.concurrency?.group ?? ""), context);
            if (group !== `esteira-${stack}` || job.concurrency?.["cancel-in-progress"] !== false) {
                problems.push(
                    `${wf.file}: jobs.${name}: changes stack ${stack} outside its concurrency group (concurrency: {group: esteira-${stack}, cancel-in-progress: false})`,
                );
            }
        }
    }
    return problems;
}

/**
 * The aggregate gate: a job that needs every other job of the workflow, runs whatever they did
 * (`if: always()`), and fails unless every one succeeded, so a failed, cancelled or skipped
 * required job never reports success.
 */
export function aggregateGate(wf: Workflow, gate: string): string[] {
    const job = wf.doc.jobs?.[gate];
    if (!job) return [`${wf.file}: no job ${gate}`];
    const problems: string[] = [];
    const others = Object.keys(wf.doc.jobs).filter((name) => name !== gate);
    const needs = [job.needs ?? []].flat();
    const missing = others.filter((name) => !needs.includes(name));
    if (missing.length > 0) problems.push(`${wf.file}: jobs.${gate}: does not need ${missing.join(", ")}`);
    if (!/^\$\{\{\s*always\(\)\s*\}\}$|^always\(\)$/.test(String(job.if ?? "")))
        problems.push(`${wf.file}: jobs.${gate}: must run always() (a skipped gate reports success)`);
    if (job.name !== gate) problems.push(`${wf.file}: jobs.${gate}: its name, the status check's, must be "${gate}"`);
    const runs = runsOf(job);
    if (!/toJSON\(needs\)/.test(JSON.stringify(job)) || !/\.result\s*==\s*"success"/.test(runs)) {
        problems.push(`${wf.file}: jobs.${gate}: must fail unless every needed job's result is "success"`);
    }
    return problems;
}

// ---- prod's credentials and approvals ----------------------------------------------------------

/** The environments at prod's level: prod's own, and the preview its first approver opens. */
export const PROD_ENVIRONMENTS = ["prod", "prod-preview"];

/**
 * Secrets that can change what protects prod: a GitHub token that writes environments (GitHub's
 * "Environments: write" covers the secrets and variables of every environment of the repository,
 * not one) or the repository's administration. Only prod's own jobs, behind its approvals, hold one.
 */
export const PROD_CHANGING_SECRET = /^(ESTEIRA_GITHUB_TOKEN|.*GITHUB.*TOKEN.*|GH_.*TOKEN.*|.*ADMIN.*)$/;

/** Write scopes of the workflow token that reach beyond a pull request's comment or its own image path. */
const PROD_CHANGING_SCOPES = ["actions", "administration", "contents", "deployments", "environments", "secrets", "statuses", "checks"];

/**
 * The environments a job can run in: its literal one, or the options of the `choice` input it
 * names, minus those its `if:` excludes (`inputs.<x> != 'name'`) or keeps alone (`inputs.<x> == 'name'`).
 */
export function environmentsOf(wf: Workflow, job: any, contexts: Record<string, string>[] = []): string[] {
    const environment = typeof job.environment === "object" ? job.environment?.name : job.environment;
    if (environment === undefined) return [];
    const input = /^\$\{\{\s*(?:github\.event\.)?inputs\.([\w-]+)\s*\}\}$/.exec(String(environment));
    if (!input && contexts.length > 0) return [...new Set(contexts.map((context) => evaluateExpressions(String(environment), context)))];
    if (!input) return [String(environment)];
    const options: string[] = wf.doc.on?.workflow_dispatch?.inputs?.[input[1]]?.options ?? [String(environment)];
    const condition = String(job.if ?? "");
    const compared = (op: string) =>
        [...condition.matchAll(new RegExp(`inputs\\.${input[1]}\\s*${op}\\s*'([\\w-]+)'`, "g"))].map((m) => m[1]);
    const only = compared("==");
    const not = compared("!=");
    return options.filter((o) => (only.length === 0 || only.includes(o)) && !not.includes(o));
}

/**
 * No job that can run below prod holds what can change prod: a GitHub token that writes
 * environments or administers the repository, or a workflow-token write scope beyond pull requests'
 * comments and images. A job that can run in prod and in another environment counts as below prod.
 */
export function prodCredentialsBelowProd(wf: Workflow, contexts: RunContexts = {}): string[] {
    const problems: string[] = [];
    for (const { name, job } of jobsOf(wf)) {
        const environments = environmentsOf(wf, job, contexts[name]);
        const below = environments.length === 0 ? ["(none)"] : environments.filter((e) => !PROD_ENVIRONMENTS.includes(e));
        if (below.length === 0) continue;
        const where = `${wf.file}: jobs.${name}`;
        const secrets = secretsOf(job).filter((s) => PROD_CHANGING_SECRET.test(s));
        if (secrets.length > 0)
            problems.push(
                `${where}: runs in ${below.join(", ")}, below prod, and holds ${secrets.join(", ")}, which can rewrite prod's environment (its secrets, variables, reviewers)`,
            );
        const scopes = Object.entries(typeof job.permissions === "object" ? (job.permissions ?? {}) : {})
            .filter(([scope, level]) => level === "write" && PROD_CHANGING_SCOPES.includes(scope))
            .map(([scope]) => scope);
        if (job.permissions === "write-all") scopes.push("write-all");
        if (scopes.length > 0) problems.push(`${where}: runs in ${below.join(", ")}, below prod, with ${scopes.join(", ")}: write`);
    }
    return problems;
}

const needsOf = (job: any): string[] => [job?.needs ?? []].flat();

/**
 * Every way into prod takes two approvals and shows the second what it approves: a job in `prod`
 * needs a job in `prod-preview` (its own reviewers: the first approval, which decrypts prod to
 * preview it), which needs a job without environment or secret that checks the release with
 * main's scripts before anyone is asked. Both prod-level jobs run only when the run's ref is
 * main (so the workflow and scripts are main's); a `push` of tags starts none of them.
 */
export function prodPath(wf: Workflow, contexts: RunContexts = {}): string[] {
    const problems: string[] = [];
    const jobs = wf.doc.jobs ?? {};
    const onMain = (job: any) => /github\.ref\s*==\s*'refs\/heads\/main'/.test(String(job.if ?? ""));
    for (const { name, job } of jobsOf(wf)) {
        const environments = environmentsOf(wf, job, contexts[name]);
        const where = `${wf.file}: jobs.${name}`;
        if (environments.includes("prod") && environments.length > 1)
            problems.push(`${where}: runs in prod and in ${environments.filter((e) => e !== "prod").join(", ")}; prod has jobs of its own`);
        if (!environments.some((e) => PROD_ENVIRONMENTS.includes(e))) continue;
        if (!onMain(job))
            problems.push(`${where}: a prod-level job runs only when the run's ref is main (if: github.ref == 'refs/heads/main')`);
        if (environments.includes("prod")) {
            const previews = needsOf(job).filter((n) => environmentsOf(wf, jobs[n] ?? {}).includes("prod-preview"));
            if (previews.length === 0)
                problems.push(`${where}: deploys prod without a prod-preview job before it (the first approval and the preview)`);
        }
        if (environments.includes("prod-preview")) {
            const checks = needsOf(job).filter((n) => jobs[n] && !jobs[n].environment && secretsOf(jobs[n]).length === 0);
            if (checks.length === 0)
                problems.push(
                    `${where}: no check without credentials before the preview (what is released is checked before anyone approves)`,
                );
        }
    }
    const triggers = wf.doc.on ?? {};
    if (typeof triggers === "object" && triggers.push?.tags && jobsOf(wf).some(({ job }) => environmentsOf(wf, job).includes("prod")))
        problems.push(`${wf.file}: a tag push runs the tag's own workflow; prod is reached from main's (workflow_dispatch on main)`);
    return problems;
}

/**
 * The approved prod job applies exactly what its preview saved: the preview saves an update plan
 * and uploads it, the prod job downloads it from that job and passes it to `pulumi up --plan`.
 */
export function appliesThePlan(wf: Workflow): string[] {
    const problems: string[] = [];
    const jobs = wf.doc.jobs ?? {};
    for (const { name, job } of jobsOf(wf)) {
        const where = `${wf.file}: jobs.${name}`;
        const environments = environmentsOf(wf, job);
        const text = JSON.stringify(job);
        if (
            environments.includes("prod-preview") &&
            /--save-plan|release-preview\.sh/.test(text) === false &&
            /recover\.sh/.test(text) === false
        )
            problems.push(`${where}: the preview saves no update plan (pulumi preview --save-plan, scripts/release-preview.sh)`);
        if (!environments.includes("prod") || /recover\.sh/.test(text)) continue;
        const preview = needsOf(job).find((n) => environmentsOf(wf, jobs[n] ?? {}).includes("prod-preview"));
        if (!preview) continue;
        if (!stepsOf(jobs[preview]).some((s) => String(s.uses ?? "").startsWith("actions/upload-artifact@")))
            problems.push(`${wf.file}: jobs.${preview}: uploads no plan for the prod job`);
        if (!stepsOf(job).some((s) => String(s.uses ?? "").startsWith("actions/download-artifact@")))
            problems.push(`${where}: downloads no plan from ${preview}`);
        if (!/--plan\b/.test(runsOf(job))) problems.push(`${where}: does not apply the saved plan (--plan)`);
    }
    return problems;
}

/**
 * A script a prod-level job runs is main's: from a checkout of the run's own commit (no `ref`, or
 * `${{ github.sha }}`; the run's ref is main), never from the release's checkout, which is data.
 */
export function prodScriptsFromMain(wf: Workflow): string[] {
    const problems: string[] = [];
    const own = (ref: unknown) => ref === undefined || ref === "${{ github.sha }}";
    const dirOf = (p: unknown) =>
        String(p ?? ".")
            .replace(/^\.\//, "")
            .replace(/\/$/, "") || ".";
    for (const { name, job } of jobsOf(wf)) {
        if (!environmentsOf(wf, job).some((e) => PROD_ENVIRONMENTS.includes(e))) continue;
        const where = `${wf.file}: jobs.${name}`;
        const steps = stepsOf(job);
        const checkouts = steps.filter((s) => String(s.uses ?? "").startsWith("actions/checkout@"));
        for (const step of steps.filter((s) => typeof s.run === "string")) {
            for (const m of String(step.run).matchAll(/(\S*?)scripts\/[\w-]+\.sh/g)) {
                const dir = dirOf(`${step["working-directory"] ?? "."}/${m[1]}`.replace(/^\.\//, ""));
                const checkout = checkouts.find((c) => dirOf(c.with?.path) === dir);
                if (!checkout) problems.push(`${where}: runs ${m[0]} from no checkout (${dir})`);
                else if (!own(checkout.with?.ref))
                    problems.push(
                        `${where}: runs ${m[0]} from the checkout of ${checkout.with.ref}; a prod-level job runs main's scripts (the run's own commit)`,
                    );
            }
        }
    }
    return problems;
}

/**
 * Every `pulumi preview` and `pulumi up` a workflow or a script runs passes the policy pack: the
 * flags of policy_args (scripts/delivery-lib.sh), `"${POLICY_ARGS[@]}"`, or `--policy-pack`.
 */
export function withoutPolicyPack(file: string, text: string): string[] {
    const problems: string[] = [];
    text.split("\n").forEach((line, index) => {
        // `pulumi` in a command's place: a message that mentions it is no command.
        if (/^\s*#/.test(line) || !/(^|[;&|!]|\$\(|\b(?:if|then|do|exec|else))\s*pulumi\s+(preview|up)\b/.test(line)) return;
        if (/\$\{POLICY_ARGS\[@\]\}|--policy-pack/.test(line)) return;
        problems.push(`${file}:${index + 1}: "${line.trim()}" runs without the policy pack (pass "\${POLICY_ARGS[@]}" after policy_args)`);
    });
    return problems;
}

/**
 * A string with `${{ }}` expressions evaluated against `context` (`inputs.stack`, `github.…`): the
 * operators `==`, `!=`, `&&`, `||`, `!` and `format()` with GitHub's meaning for strings (an empty
 * string is falsy, `a && b || c` picks a value). Enough to compare concurrency groups.
 */
export function evaluateExpressions(text: string, context: Record<string, string>): string {
    const format = (template: string, ...args: string[]) => template.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)] ?? ""));
    return text.replace(/\$\{\{(.*?)\}\}/g, (_, expression: string) => {
        const js = expression.replace(/[A-Za-z_][\w-]*(?:\.[\w-]+)+/g, (name) => `(ctx[${JSON.stringify(name)}] ?? "")`);
        return String(new Function("ctx", "format", `return (${js});`)(context, format));
    });
}

// ---- the line's run-time contexts ----------------------------------------------------------------

/**
 * What deploy.yml's jobs can run with, from the stack files as its `plan` job reads them
 * (tools/stacks.ts): `line`, one matrix entry per stack a push to main deploys; `dispatch`, every
 * stack "Run workflow" may deploy below prod.
 */
export function deployRunContexts(stacks: WorkflowStack[]): RunContexts {
    const targets = stacks.filter((s) => s.deployOn === "push" && !s.production).map((s) => dispatchTarget(stacks, s.environment));
    return {
        line: deployLine(stacks, "refs/heads/main").map((entry) => ({
            "matrix.stack": entry.stack,
            "matrix.environment": entry.environment,
            "matrix.evidence": entry.evidence,
        })),
        dispatch: targets.map((target) => ({
            "needs.plan.outputs.stack": target.stack,
            "needs.plan.outputs.environment": target.environment,
        })),
    };
}

/**
 * What operations.yml's `recover` can run with, from its `plan` job: every stack below prod the stack
 * files name (tools/stacks.ts, --recover), the review base (environment review-base) and a pull
 * request's stack (environment review, stack pr-<number>; 12 stands for any).
 */
export function operationsRunContexts(stacks: WorkflowStack[]): RunContexts {
    const targets = stacks.filter((s) => s.deployOn === "push" && !s.production).map((s) => recoveryTarget(stacks, s.environment));
    return {
        recover: [...targets, { stack: "review", environment: "review-base" }, { stack: "pr-12", environment: "review" }].map((t) => ({
            "needs.plan.outputs.stack": t.stack,
            "needs.plan.outputs.environment": t.environment,
        })),
    };
}

/** The stack each environment's jobs change: the stack files' own, and the review base's (environment review-base). */
export function stackOfEnvironment(stacks: WorkflowStack[]): Record<string, string> {
    return { ...Object.fromEntries(stacks.map((s) => [s.environment, s.stack])), "review-base": "review" };
}
