/**
 * The workflows' trust rules (test/support/workflow-rules.ts), held by every workflow and the
 * composite action of the repository, and each shown to catch its own violation in a bad example.
 * zizmor (scripts/zizmor.sh) and actionlint (scripts/lint-workflows.sh) check the rest.
 */
import * as assert from "assert";
import { deployLine, repositoryStacks } from "../tools/stacks";
import { stackFileConfig, stackFiles } from "./mocks";
import {
    aggregateGate,
    appliesThePlan,
    deployRunContexts,
    operationsRunContexts,
    environmentOfWrites,
    evaluateExpressions,
    expressionsInRun,
    leastPrivilege,
    localActionInputs,
    persistedCredentials,
    protectedEnvironments,
    prodCredentialsBelowProd,
    prodPath,
    prodScriptsFromMain,
    pullRequestPackages,
    pullRequestSecrets,
    repositoryActions,
    repositoryWorkflows,
    setupBeforePulumi,
    stackConcurrency,
    stackOfEnvironment,
    unpinnedUses,
    withoutPolicyPack,
    Workflow,
    workflowOf,
} from "./support/workflow-rules";
import { REPO_ROOT } from "./mocks";
import * as fs from "fs";
import * as path from "path";
import { REPOSITORY_SETTINGS_DEFAULTS } from "../vocabulary/access-defaults";

const workflows = repositoryWorkflows();
const actions = repositoryActions();
const environments = protectedEnvironments(Object.fromEntries(stackFiles().map((stack) => [stack, stackFileConfig(stack)])));
const stacks = repositoryStacks();
/** The stack each environment's jobs change (the review base's environment is review-base). */
const STACK_OF_ENVIRONMENT = stackOfEnvironment(stacks);
/** What each workflow's jobs run with at run time, from the stack files (deploy.yml's plan job). */
const contextsOf = (wf: Workflow) =>
    wf.file.endsWith("/deploy.yml") ? deployRunContexts(stacks) : wf.file.endsWith("/operations.yml") ? operationsRunContexts(stacks) : {};

/** A bad example, as a workflow file. */
const bad = (text: string): Workflow => workflowOf(".github/workflows/bad.yml", text.replace(/^ {8}/gm, ""));

const SHA = "3d3c42e5aac5ba805825da76410c181273ba90b1";

/** Secret names a job references. */
const secretsOfJob = (job: unknown): string[] => [...JSON.stringify(job).matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]);

/** The environments prod's stack file protects beside its own (esteira:repository.environments). */
const prod_environments = (): string[] => Object.keys((stackFileConfig("prod")["esteira:repository"] as any)?.environments ?? {});

describe("workflows", () => {
    it("the repository has its workflows and its setup action", () => {
        assert.deepStrictEqual(
            workflows.map((w) => w.file.replace(".github/workflows/", "")),
            ["ci.yml", "deploy.yml", "drift.yml", "operations.yml", "review-base.yml", "review.yml", "sweep.yml"],
        );
        assert.deepStrictEqual(
            actions.map((a) => a.file),
            [".github/actions/setup/action.yml"],
        );
        assert.deepStrictEqual(environments, ["dev", "homolog", "prod", "prod-preview", "review", "review-base"]);
    });

    for (const wf of [...workflows, ...actions]) {
        describe(wf.file, () => {
            it("pins every action to a full commit SHA, with its version in a comment", () => {
                assert.deepStrictEqual(unpinnedUses(wf), []);
            });
            it("interpolates no expression into a run: script", () => {
                assert.deepStrictEqual(expressionsInRun(wf), []);
            });
            it("checks out without persisting credentials", () => {
                assert.deepStrictEqual(persistedCredentials(wf), []);
            });
        });
    }

    for (const wf of workflows) {
        describe(wf.file, () => {
            it("gives a job a pull request reaches nothing beyond the review zone's credentials", () => {
                assert.deepStrictEqual(pullRequestSecrets(wf), []);
            });
            it("gives a job a pull request reaches no packages: write: it never pushes with the GITHUB_TOKEN", () => {
                assert.deepStrictEqual(pullRequestPackages(wf), []);
            });
            it("names, in every job that holds a secret or changes a stack, an environment a stack protects", () => {
                assert.deepStrictEqual(environmentOfWrites(wf, environments, contextsOf(wf)), []);
            });
            it("grants least privilege: nothing by default, writes only where listed", () => {
                assert.deepStrictEqual(leastPrivilege(wf), []);
            });
            it("sets up (build-context modes included) before running the program", () => {
                assert.deepStrictEqual(setupBeforePulumi(wf), []);
            });
            it("passes the local action only the inputs it declares", () => {
                assert.deepStrictEqual(localActionInputs(wf, actions), []);
            });
            it("changes a stack only inside that stack's concurrency group", () => {
                assert.deepStrictEqual(stackConcurrency(wf, STACK_OF_ENVIRONMENT, contextsOf(wf)), []);
            });
            it("holds nothing that can change prod in a job that runs below prod", () => {
                assert.deepStrictEqual(prodCredentialsBelowProd(wf, contextsOf(wf)), []);
            });
            it("reaches prod only from main, through a credential-free check, prod-preview's approval and prod's", () => {
                assert.deepStrictEqual(prodPath(wf, contextsOf(wf)), []);
            });
            it("applies in prod exactly the update plan its preview saved", () => {
                assert.deepStrictEqual(appliesThePlan(wf), []);
            });
            it("runs main's scripts, never the release's, in a prod-level job", () => {
                assert.deepStrictEqual(prodScriptsFromMain(wf), []);
            });
            it("passes the policy pack to every pulumi preview and up", () => {
                const runs = Object.entries(wf.doc.jobs ?? {}).flatMap(([, job]: [string, any]) =>
                    (job.steps ?? []).map((step: any) => step.run ?? ""),
                );
                assert.deepStrictEqual(withoutPolicyPack(wf.file, runs.join("\n")), []);
            });
        });
    }

    it("ci.yml's gate needs every check and fails when any failed or was skipped; the ruleset requires it and review.yml's preview, each a job's name", () => {
        const ci = workflows.find((w) => w.file.endsWith("/ci.yml"))!;
        const gate = "gate";
        assert.deepStrictEqual(aggregateGate(ci, gate), []);
        const required =
            (stackFileConfig("prod")["esteira:repository"] as any)?.requiredChecks ?? REPOSITORY_SETTINGS_DEFAULTS.requiredChecks;
        assert.deepStrictEqual(required, [gate, "pulumi preview (policy pack)"]);
        const names = workflows.flatMap((w) => Object.values<any>(w.doc.jobs).map((job) => job.name));
        for (const check of required) assert.strictEqual(names.filter((n) => n === check).length, 1, `one job is named "${check}"`);
        const preview = workflows.find((w) => w.file.endsWith("/review.yml"))!.doc.jobs.preview;
        assert.strictEqual(preview.name, "pulumi preview (policy pack)");
        assert.match(JSON.stringify(preview.steps), /scripts\/pr-stack\.sh preview \\"\$PR_NUMBER\\"/);
        assert.match(JSON.stringify(preview.steps), /set -o pipefail/, "the tee does not hide a failed preview");
        assert.match(JSON.stringify(preview.steps), /<!-- esteira-preview -->/, "one comment, updated in place");
        assert.deepStrictEqual([workflows.find((w) => w.file.endsWith("/review.yml"))!.doc.jobs.up.needs].flat(), ["preview"]);
    });

    it("promotion evidence is wired: a stack that builds attests provenance with its key, one that promotes signs with its own, prod-preview verifies both with cosign", () => {
        const jobs = workflows.find((w) => w.file.endsWith("/deploy.yml"))!.doc.jobs;
        const envOf = (job: any): Record<string, string> => Object.assign({}, ...job.steps.map((step: any) => step.env ?? {}));
        const cosign = (job: any) => job.steps.some((step: any) => step.uses === "./.github/actions/setup" && step.with?.cosign === "true");
        const line = jobs.line;
        assert.ok(cosign(line), "deploy.yml: the line's jobs install cosign");
        assert.strictEqual(
            envOf(line).EVIDENCE_SIGNING_KEY,
            "${{ secrets.EVIDENCE_SIGNING_KEY }}",
            "each signs with its environment's key",
        );
        assert.strictEqual(envOf(line).COSIGN_PASSWORD, "${{ secrets.COSIGN_PASSWORD }}");
        assert.strictEqual(envOf(line).EVIDENCE_ROLE, "${{ matrix.evidence }}", "the evidence the plan names");
        assert.deepStrictEqual(
            deployLine(stacks, "refs/heads/main").map((entry) => `${entry.stack}: ${entry.evidence}`),
            ["dev: provenance", "homolog: verified"],
        );
        const preview = jobs["preview-prod"];
        assert.ok(cosign(preview), "deploy.yml: preview-prod installs cosign");
        assert.strictEqual(envOf(preview).EVIDENCE_PROVENANCE_PUBLIC_KEY, "${{ vars.EVIDENCE_PROVENANCE_PUBLIC_KEY }}");
        assert.strictEqual(envOf(preview).EVIDENCE_VERIFIED_PUBLIC_KEY, "${{ vars.EVIDENCE_VERIFIED_PUBLIC_KEY }}");
        // Public halves only: no signing key where the promotion is decided.
        assert.ok(!secretsOfJob(preview).includes("EVIDENCE_SIGNING_KEY"));
    });

    it("SBOMs are wired: a stack that builds installs syft, and its deploy attests each image's SBOM with its key after the provenance", () => {
        const line = workflows.find((w) => w.file.endsWith("/deploy.yml"))!.doc.jobs.line;
        const setup = line.steps.find((step: any) => step.uses === "./.github/actions/setup")?.with ?? {};
        assert.strictEqual(
            setup.syft,
            "${{ matrix.evidence == 'provenance' }}",
            "deploy.yml: the stack that attests provenance (dev) installs syft",
        );
        assert.match(
            JSON.stringify(line.steps),
            /scripts\/deploy\.sh --verify \\"\$STACK\\"/,
            "the line's deploy marks (and attests) what passed",
        );
        assert.match(
            fs.readFileSync(path.join(REPO_ROOT, "scripts", "mark-verified.sh"), "utf8"),
            /promotion-evidence\.sh" provenance "\$repository@\$digest" "\$sha"\n\s+"\$SCRIPTS\/promotion-evidence\.sh" sbom "\$repository@\$digest"/,
            "mark-verified.sh attests the SBOM with dev's key, where it attests the provenance",
        );
    });

    it("the vulnerability gate is wired: prod-preview installs grype and scans each digest's attested SBOM before it previews", () => {
        const preview = workflows.find((w) => w.file.endsWith("/deploy.yml"))!.doc.jobs["preview-prod"];
        const setup = preview.steps.find((step: any) => step.uses === "./.github/actions/setup");
        assert.strictEqual(setup?.with?.grype, "true", "deploy.yml: preview-prod installs grype");
        const previewEnv = Object.assign({}, ...preview.steps.map((step: any) => step.env ?? {}));
        assert.strictEqual(
            previewEnv.ESTEIRA_GRYPE,
            `\${{ steps.${setup.id}.outputs.grype }}`,
            "the preview scans with the grype the setup installed",
        );
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "release-preview.sh"), "utf8");
        const gate = script.indexOf('\nrequire_no_critical_vulnerabilities "$outdir/images.json"');
        assert.ok(gate > 0, "release-preview.sh runs the vulnerability gate");
        assert.ok(
            gate > script.indexOf('\nrequire_promotion_evidence "$stage"') && gate < script.indexOf("\npulumi preview "),
            "the gate runs after the evidence holds and before the preview: nothing is shown for approval that it refused",
        );
        assert.match(script, /attested_sbom "\$ref"/, "the SBOM scanned is the one dev's key attested");
        assert.match(script, /config_json "\$stack" esteira:vulnerabilityAllowList/, "the allow-list is the stack's");
    });

    it("the setup action normalises the modes of every build context a stack file builds (the image's hash must not follow the umask)", () => {
        const setup = actions.find((a) => a.file === ".github/actions/setup/action.yml")!.doc as any;
        const step = setup.runs.steps.find((s: any) => /context-modes --/.test(s.run ?? ""));
        const normalised = step.run.split("context-modes --")[1].trim().split(/\s+/);
        const contexts = new Set<string>();
        const visit = (value: unknown): void => {
            if (Array.isArray(value)) value.forEach(visit);
            else if (value && typeof value === "object") {
                const build = (value as { build?: { context?: unknown } }).build;
                if (typeof build?.context === "string") contexts.add(build.context);
                Object.values(value).forEach(visit);
            }
        };
        for (const stack of stackFiles()) visit(stackFileConfig(stack));
        assert.deepStrictEqual(
            [...contexts].filter((c) => !normalised.includes(c)),
            [],
        );
        assert.ok(contexts.has("images/backup") && contexts.has("app"));
    });

    it("code scanning (CodeQL) of the TypeScript and the workflows is one of the gate's required jobs", () => {
        const ci = workflows.find((w) => w.file.endsWith("/ci.yml"))!.doc;
        assert.ok([ci.jobs.gate.needs].flat().includes("codeql"), "ci.yml: the gate needs codeql");
        const codeql = ci.jobs.codeql;
        assert.deepStrictEqual(codeql.strategy.matrix.language, ["javascript-typescript", "actions"]);
        const uses = codeql.steps.map((step: any) => step.uses ?? "");
        assert.ok(uses.some((u: string) => u.startsWith("github/codeql-action/init@")));
        assert.ok(uses.some((u: string) => u.startsWith("github/codeql-action/analyze@")));
        assert.deepStrictEqual(codeql.permissions, { contents: "read", "security-events": "write" });
    });

    it("only review.yml's jobs run on a pull request with credentials, and only in the review environment", () => {
        const withSecrets = workflows
            .filter((w) => /pull_request/.test(JSON.stringify(w.doc.on)))
            .flatMap((w) => Object.entries(w.doc.jobs).map(([name, job]: [string, any]) => ({ name: `${w.file}/${name}`, job })))
            .filter(({ job }) => /secrets\./.test(JSON.stringify(job)));
        assert.deepStrictEqual(
            withSecrets.map(({ name, job }) => `${name} ${job.environment}`),
            [
                ".github/workflows/review.yml/preview review",
                ".github/workflows/review.yml/up review",
                ".github/workflows/review.yml/down review",
            ],
        );
    });

    it("the review zone holds no DigitalOcean token and no database admin: a pull request's stack runs its own PostgreSQL in its namespace", () => {
        const inReview = workflows.flatMap((w) =>
            Object.entries(w.doc.jobs)
                .filter(([, job]: [string, any]) => job.environment === "review")
                .map(([name, job]) => ({ name: `${w.file}/${name}`, job })),
        );
        assert.deepStrictEqual(
            inReview.map(({ name }) => name),
            [
                ".github/workflows/review.yml/preview",
                ".github/workflows/review.yml/up",
                ".github/workflows/review.yml/down",
                ".github/workflows/sweep.yml/sweep",
            ],
        );
        for (const { name, job } of inReview) assert.ok(!/DIGITALOCEAN_TOKEN/.test(JSON.stringify(job)), `${name} holds no cloud token`);
        assert.strictEqual((stackFileConfig("pr-42")["esteira:database"] as { mode?: string }).mode, "namespace");
    });

    it("pull requests push only to the review zone's own packages, never under a path the main line's stacks read", () => {
        const review = (stackFileConfig("pr-42")["esteira:images"] as { repository: string }).repository;
        for (const stack of ["dev", "homolog", "prod"]) {
            const main = (stackFileConfig(stack)["esteira:images"] as { repository: string }).repository;
            assert.ok(!review.startsWith(`${main}/`) && review !== main, `${review} is not inside ${stack}'s ${main}`);
        }
        // GHCR names a package by its whole path under the owner: <owner>/esteira-review/<service>.
        assert.match(review, /^ghcr\.io\/[^/]+\/[^/]+-review$/);
        assert.notStrictEqual(
            (stackFileConfig("pr-42")["esteira:registry"] as { username: string }).username,
            (stackFileConfig("dev")["esteira:registry"] as { username: string }).username,
            "a push identity of its own",
        );
    });

    it("a pull request's job grants, deploys and destroys with the review zone's credentials only, and the review base's job is the only one holding its state", () => {
        const review = workflows.find((w) => w.file.endsWith("/review.yml"))!;
        const text = JSON.stringify(review.doc);
        assert.match(text, /pr-stack\.sh grant/);
        assert.doesNotMatch(text, /review-base|DIGITALOCEAN_TOKEN|stack output tenantKubeconfig/);
        const base = workflows.find((w) => w.file.endsWith("/review-base.yml"))!;
        assert.strictEqual(base.doc.jobs.up.environment, "review-base");
        assert.ok(!/pull_request/.test(JSON.stringify(base.doc.on)), "the base is deployed from main, never on a pull request's event");
    });

    it("pull requests' stacks come up, go and are swept only through scripts/pr-stack.sh, the path the e2e suite proves", () => {
        const runs = (file: string, job: string) =>
            workflows
                .find((w) => w.file.endsWith(`/${file}`))!
                .doc.jobs[job].steps.map((step: any) => step.run ?? "")
                .join("\n");
        assert.match(runs("review.yml", "up"), /scripts\/pr-stack\.sh up "\$PR_NUMBER"/);
        assert.match(runs("review.yml", "down"), /scripts\/pr-stack\.sh destroy "\$PR_NUMBER"/);
        assert.match(runs("sweep.yml", "sweep"), /scripts\/pr-stack\.sh sweep/);
        for (const [file, job] of [
            ["review.yml", "up"],
            ["review.yml", "down"],
            ["sweep.yml", "sweep"],
        ]) {
            assert.doesNotMatch(
                runs(file, job),
                /\bpulumi\s+(up|destroy|stack\s+(rm|select|init))\b/,
                `${file} ${job} goes around pr-stack.sh`,
            );
        }
    });

    it("sweep.yml tells each pull request whose environment expired, from a job that holds no secret and only pull-requests: write", () => {
        const { sweep, tell } = workflows.find((w) => w.file.endsWith("/sweep.yml"))!.doc.jobs;
        assert.strictEqual(sweep.outputs.expired, "${{ steps.sweep.outputs.expired }}");
        assert.strictEqual(sweep.steps.find((step: any) => step.id === "sweep")?.name, "Sweep");
        assert.deepStrictEqual([tell.needs].flat(), ["sweep"]);
        assert.strictEqual(tell.environment, undefined);
        assert.deepStrictEqual(secretsOfJob(tell), [], "only the run's own token");
        assert.deepStrictEqual(tell.permissions, { "pull-requests": "write" });
        assert.match(String(tell.if), /always\(\)/, "also after a sweep that failed on another stack");
        assert.match(JSON.stringify(tell.steps), /issues\/\$number\/comments/);
    });

    it("deploy.yml deploys what the stack files say a push to main deploys, in their order, one at a time (npm run -s stacks -- --line)", () => {
        const jobs = workflows.find((w) => w.file.endsWith("/deploy.yml"))!.doc.jobs as Record<string, any>;
        const { plan, line, dispatch } = jobs;
        const planRun = plan.steps.map((step: any) => step.run ?? "").join("\n");
        assert.match(planRun, /line="\$\(npm run -s stacks -- --line "\$GITHUB_REF"\)"/, "the matrix is the stack files' line");
        assert.match(planRun, /target="\$\(npm run -s stacks -- --dispatch "\$TARGET"\)"/, "the dispatch target is checked against them");
        assert.strictEqual(plan.environment, undefined);
        assert.deepStrictEqual(secretsOfJob(plan), [], "the plan holds nothing");
        assert.deepStrictEqual(plan.outputs, {
            line: "${{ steps.plan.outputs.line }}",
            stack: "${{ steps.plan.outputs.stack }}",
            environment: "${{ steps.plan.outputs.environment }}",
        });
        assert.deepStrictEqual(line.strategy, {
            "max-parallel": 1,
            "fail-fast": true,
            matrix: { include: "${{ fromJSON(needs.plan.outputs.line) }}" },
        });
        assert.strictEqual(line.environment, "${{ matrix.environment }}");
        assert.strictEqual(dispatch.environment, "${{ needs.plan.outputs.environment }}");
        for (const job of [line, dispatch]) assert.deepStrictEqual([job.needs].flat(), ["plan"]);
        // No job is the line's but the matrix: a stack's own job would be a list kept by hand.
        const stackJobs = Object.keys(jobs).filter((name) => stackFiles().includes(String(jobs[name].environment)));
        assert.deepStrictEqual(stackJobs.sort(), ["prod"], "only prod, the release's, has a job of its own");
        assert.deepStrictEqual(
            deployLine(stacks, "refs/heads/main").map((entry) => entry.stack),
            ["dev", "homolog"],
        );
    });

    it("releases to prod from main: a credential-free check of the tag, prod-preview's plan, prod applying it pinned to the digests shown", () => {
        const deploy = workflows.find((w) => w.file.endsWith("/deploy.yml"))!.doc;
        assert.deepStrictEqual(Object.keys(deploy.on).sort(), ["push", "workflow_dispatch"]);
        assert.deepStrictEqual(deploy.on.push, { branches: ["main"] }, "a tag push starts nothing: it would run the tag's workflow");
        const { release, prod } = deploy.jobs;
        const preview = deploy.jobs["preview-prod"];
        assert.strictEqual(release.environment, undefined);
        assert.deepStrictEqual(secretsOfJob(release), [], "the check holds nothing");
        assert.match(JSON.stringify(release), /scripts\/release-check\.sh \\"\$RELEASE\\"/);
        assert.strictEqual(preview.environment, "prod-preview");
        assert.deepStrictEqual([preview.needs].flat(), ["release"]);
        assert.match(JSON.stringify(preview), /\.esteira-main\/scripts\/release-preview\.sh prod \\"\$RUNNER_TEMP\/release\\"/);
        assert.ok(!/DIGITALOCEAN_TOKEN/.test(JSON.stringify(preview)), "the preview holds no cloud token");
        assert.strictEqual(prod.environment, "prod");
        assert.deepStrictEqual([prod.needs].flat(), ["release", "preview-prod"]);
        assert.match(JSON.stringify(prod), /pin-images\.sh prod \\"\$RUNNER_TEMP\/release\/images\.json\\"/);
        assert.match(JSON.stringify(prod), /deploy\.sh --plan \\"\$RUNNER_TEMP\/release\/plan\.json\\" prod/);
        for (const job of [preview, prod])
            assert.strictEqual(job.steps[0].with.ref, "${{ needs.release.outputs.commit }}", "the release's program: the checked commit");
    });

    it("operations.yml recovers a pull request's stack in review.yml's concurrency group, esteira-pr-<number>, never beside its deploy; the stack comes from its plan", () => {
        const jobs = workflows.find((w) => w.file.endsWith("/operations.yml"))!.doc.jobs;
        const reviewGroup = workflows.find((w) => w.file.endsWith("/review.yml"))!.doc.concurrency.group;
        const pr = evaluateExpressions(reviewGroup, { "github.event.pull_request.number": "12" });
        assert.strictEqual(pr, "esteira-pr-12");
        const group = (stack: string) => evaluateExpressions(jobs.recover.concurrency.group, { "needs.plan.outputs.stack": stack });
        assert.strictEqual(group("pr-12"), pr);
        assert.strictEqual(group("review"), "esteira-review");
        assert.strictEqual(group("homolog"), "esteira-homolog");
        const planRun = jobs.plan.steps.map((step: any) => step.run ?? "").join("\n");
        assert.match(planRun, /target="\$\(npm run -s stacks -- --recover "\$TARGET"\)"/, "a stack file's environment, checked");
        assert.match(planRun, /\^pr-\[0-9\]\+\$/, "review takes a pr-<number> stack only");
        assert.deepStrictEqual(secretsOfJob(jobs.plan), [], "the plan holds nothing");
        assert.strictEqual(jobs.recover.environment, "${{ needs.plan.outputs.environment }}");
        assert.deepStrictEqual(
            operationsRunContexts(stacks).recover.map((c) => c["needs.plan.outputs.environment"]),
            ["dev", "homolog", "review-base", "review"],
        );
    });

    it("CODEOWNERS gives the platform team whatever runs with an environment's credentials, and the pull-request template exists with its security checklist", () => {
        const rules = fs
            .readFileSync(path.join(REPO_ROOT, ".github", "CODEOWNERS"), "utf8")
            .split("\n")
            .filter((line) => line.trim() && !line.startsWith("#"))
            .map((line) => line.trim().split(/\s+/))
            .map(([pattern, ...owners]) => ({ pattern, owners }));
        const glob = (pattern: string) =>
            new RegExp(
                `^${pattern
                    .replace(/^\//, "")
                    .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
                    .replace(/\*/g, "[^/]*")}${pattern.endsWith("/") ? "" : "$"}`,
            );
        /** The owners of a path: those of the last pattern that matches it, as GitHub reads the file. */
        const ownersOf = (file: string) => [...rules].reverse().find((r) => glob(r.pattern).test(file))?.owners ?? [];
        for (const file of [
            "index.ts",
            "config/schema.ts",
            "components/cluster.ts",
            "components/parts/labels.ts",
            "tools/stacks.ts",
            "package.json",
            "package-lock.json",
            "policy/package-lock.json",
            "app/package-lock.json",
            "app/Dockerfile",
            "tsconfig.json",
            ".github/workflows/deploy.yml",
            ".github/pull_request_template.md",
            "scripts/deploy.sh",
            "stacks/pr.template.yaml",
            "Pulumi.dev.yaml",
        ])
            assert.ok(ownersOf(file).includes("@esteira-dev/platform"), `${file} is the platform team's`);
        assert.deepStrictEqual(ownersOf("Pulumi.prod.yaml"), ["@esteira-dev/platform", "@esteira-dev/product-owners"]);
        const template = fs.readFileSync(path.join(REPO_ROOT, ".github", "pull_request_template.md"), "utf8");
        assert.match(template, /## Security checklist/);
        for (const item of [
            "No secret in the diff",
            "Credentials stay in their environment",
            "Workflows",
            "Public endpoints",
            "Dependencies",
        ])
            assert.match(template, new RegExp(`- \\[ \\] \\*\\*${item}`), `the checklist asks: ${item}`);
    });

    it("the setup action installs the policy pack the scripts pass; a release job installs main's, which its scripts use", () => {
        const setup = actions[0].doc.runs.steps.map((step: any) => step.run ?? "").join("\n");
        assert.match(setup, /npm --prefix policy ci .*--ignore-scripts/);
        const deploy = workflows.find((w) => w.file.endsWith("/deploy.yml"))!.doc.jobs;
        for (const job of ["preview-prod", "prod"])
            assert.match(JSON.stringify(deploy[job].steps), /npm --prefix \.esteira-main\/policy ci/, `${job}: main's policy pack`);
    });

    it("every script passes the policy pack to every pulumi preview and up (policy_args, scripts/delivery-lib.sh)", () => {
        const dir = path.join(REPO_ROOT, "scripts");
        const scripts = fs.readdirSync(dir).filter((f) => f.endsWith(".sh"));
        const problems = scripts.flatMap((f) => withoutPolicyPack(`scripts/${f}`, fs.readFileSync(path.join(dir, f), "utf8")));
        assert.deepStrictEqual(problems, []);
        assert.ok(
            scripts.filter((f) => /policy_args/.test(fs.readFileSync(path.join(dir, f), "utf8"))).length >= 4,
            "deploy, rollback, release-preview and pr-stack take their flags from policy_args",
        );
    });

    it("prod and prod-preview admit only main, each with reviewers of its own: two approvals by two people", () => {
        const prod = stackFileConfig("prod");
        const github = prod["esteira:github"] as any;
        const preview = (prod["esteira:repository"] as any).environments["prod-preview"];
        assert.deepStrictEqual(github.deployFrom, { branches: ["main"] }, "prod: main's workflow and scripts only");
        assert.deepStrictEqual(preview.deployFrom, { branches: ["main"] }, "prod-preview: main's workflow and scripts only");
        assert.strictEqual(github.deployOn, "release", "no push deploys prod; a release run does");
        const teams = (p: any) => [...(p.reviewers?.teams ?? []), ...(p.reviewers?.users ?? [])];
        assert.ok(teams(github).length > 0 && teams(preview).length > 0, "both environments have required reviewers");
        assert.deepStrictEqual(
            teams(github).filter((t) => teams(preview).includes(t)),
            [],
            "no reviewer approves both: GitHub's required reviewers means ANY ONE of them, so two people take two environments",
        );
        assert.strictEqual(github.canAdminsBypass, false);
        assert.strictEqual(preview.canAdminsBypass, false);
    });

    it("the environments below prod are managed by prod's stack: their own stacks hold no GitHub token", () => {
        const managed = prod_environments();
        for (const stack of ["dev", "homolog"]) {
            const github = stackFileConfig(stack)["esteira:github"] as any;
            assert.strictEqual(github.managedBy, "prod", `${stack}: esteira:github.managedBy`);
            assert.ok(managed.includes(github.environment ?? stack), `prod's esteira:repository.environments declares ${stack}`);
        }
    });

    describe("each rule catches its own violation", () => {
        it("a GitHub token or a prod-changing scope in a job below prod, a job in prod and below", () => {
            const wf = bad(`
        on:
          workflow_dispatch:
            inputs:
              environment: { type: choice, options: [dev, homolog, prod] }
        jobs:
          dev:
            environment: dev
            permissions:
              contents: write
            steps:
              - run: scripts/deploy.sh dev
                env:
                  GITHUB_TOKEN: \${{ secrets.ESTEIRA_GITHUB_TOKEN }}
          dispatch:
            environment: \${{ inputs.environment }}
            steps:
              - run: scripts/deploy.sh "$STACK"
                env:
                  GITHUB_TOKEN: \${{ secrets.ESTEIRA_GITHUB_TOKEN }}
          below:
            if: inputs.environment != 'prod'
            environment: \${{ inputs.environment }}
            steps:
              - run: scripts/deploy.sh "$STACK"
          prod:
            if: inputs.environment == 'prod'
            environment: \${{ inputs.environment }}
            steps:
              - run: scripts/deploy.sh prod
                env:
                  GITHUB_TOKEN: \${{ secrets.ESTEIRA_GITHUB_TOKEN }}
        `);
            assert.deepStrictEqual(prodCredentialsBelowProd(wf), [
                ".github/workflows/bad.yml: jobs.dev: runs in dev, below prod, and holds ESTEIRA_GITHUB_TOKEN, which can rewrite prod's environment (its secrets, variables, reviewers)",
                ".github/workflows/bad.yml: jobs.dev: runs in dev, below prod, with contents: write",
                ".github/workflows/bad.yml: jobs.dispatch: runs in dev, homolog, below prod, and holds ESTEIRA_GITHUB_TOKEN, which can rewrite prod's environment (its secrets, variables, reviewers)",
            ]);
        });

        it("an environment from a matrix or a plan's output: unchecked without the plan's contexts; with them, prod below prod, a stack outside its group", () => {
            const wf = bad(`
        jobs:
          line:
            environment: \${{ matrix.environment }}
            concurrency:
              group: esteira-\${{ matrix.environment }}
              cancel-in-progress: false
            steps:
              - run: scripts/deploy.sh --verify "$STACK"
                env:
                  GITHUB_TOKEN: \${{ secrets.ESTEIRA_GITHUB_TOKEN }}
          dispatch:
            environment: \${{ needs.plan.outputs.environment }}
            steps:
              - run: scripts/dispatch-deploy.sh "$STACK"
        `);
            assert.deepStrictEqual(environmentOfWrites(wf, environments), [
                '.github/workflows/bad.yml: jobs.line: environment "${{ matrix.environment }}" is protected by no stack (esteira:github or esteira:repository.environments); GitHub would create it unprotected',
                '.github/workflows/bad.yml: jobs.dispatch: environment "${{ needs.plan.outputs.environment }}" is protected by no stack (esteira:github or esteira:repository.environments); GitHub would create it unprotected',
            ]);
            const contexts = {
                line: [
                    { "matrix.stack": "dev", "matrix.environment": "dev" },
                    { "matrix.stack": "review", "matrix.environment": "review-base" },
                    { "matrix.stack": "prod", "matrix.environment": "prod" },
                ],
                dispatch: [{ "needs.plan.outputs.environment": "staging" }],
            };
            assert.deepStrictEqual(environmentOfWrites(wf, environments, contexts), [
                '.github/workflows/bad.yml: jobs.dispatch: environment "staging" is protected by no stack (esteira:github or esteira:repository.environments); GitHub would create it unprotected',
            ]);
            assert.deepStrictEqual(prodCredentialsBelowProd(wf, contexts), [
                ".github/workflows/bad.yml: jobs.line: runs in dev, review-base, below prod, and holds ESTEIRA_GITHUB_TOKEN, which can rewrite prod's environment (its secrets, variables, reviewers)",
            ]);
            assert.deepStrictEqual(prodPath(wf, contexts), [
                ".github/workflows/bad.yml: jobs.line: runs in prod and in dev, review-base; prod has jobs of its own",
                ".github/workflows/bad.yml: jobs.line: a prod-level job runs only when the run's ref is main (if: github.ref == 'refs/heads/main')",
                ".github/workflows/bad.yml: jobs.line: deploys prod without a prod-preview job before it (the first approval and the preview)",
            ]);
            assert.deepStrictEqual(stackConcurrency(wf, STACK_OF_ENVIRONMENT, contexts), [
                ".github/workflows/bad.yml: jobs.line: changes stack review outside its concurrency group (concurrency: {group: esteira-review, cancel-in-progress: false})",
            ]);
        });

        it("prod from a tag push, prod without main, without its preview, a preview without a check before it", () => {
            const wf = bad(`
        on:
          push:
            tags: ["v*"]
        jobs:
          check:
            environment: dev
            steps: []
          preview:
            needs: check
            environment: prod-preview
            steps:
              - run: .esteira-main/scripts/release-preview.sh prod homolog
          prod:
            environment: prod
            if: github.ref == 'refs/heads/main'
            steps:
              - run: .esteira-main/scripts/deploy.sh prod
        `);
            assert.deepStrictEqual(prodPath(wf), [
                ".github/workflows/bad.yml: jobs.preview: a prod-level job runs only when the run's ref is main (if: github.ref == 'refs/heads/main')",
                ".github/workflows/bad.yml: jobs.preview: no check without credentials before the preview (what is released is checked before anyone approves)",
                ".github/workflows/bad.yml: jobs.prod: deploys prod without a prod-preview job before it (the first approval and the preview)",
                ".github/workflows/bad.yml: a tag push runs the tag's own workflow; prod is reached from main's (workflow_dispatch on main)",
            ]);
        });

        it("a prod job that re-plans instead of applying the preview's plan", () => {
            const wf = bad(`
        jobs:
          preview:
            environment: prod-preview
            steps:
              - run: pulumi preview -s prod
          prod:
            needs: preview
            environment: prod
            steps:
              - run: .esteira-main/scripts/deploy.sh prod
        `);
            assert.deepStrictEqual(appliesThePlan(wf), [
                ".github/workflows/bad.yml: jobs.preview: the preview saves no update plan (pulumi preview --save-plan, scripts/release-preview.sh)",
                ".github/workflows/bad.yml: jobs.preview: uploads no plan for the prod job",
                ".github/workflows/bad.yml: jobs.prod: downloads no plan from preview",
                ".github/workflows/bad.yml: jobs.prod: does not apply the saved plan (--plan)",
            ]);
        });

        it("a prod-level job running the release's scripts, or scripts from no checkout", () => {
            const wf = bad(`
        jobs:
          preview:
            environment: prod-preview
            steps:
              - uses: actions/checkout@${SHA} # v7.0.1
                with:
                  ref: \${{ needs.release.outputs.commit }}
              - run: scripts/release-preview.sh prod homolog
          prod:
            environment: prod
            steps:
              - uses: actions/checkout@${SHA} # v7.0.1
                with:
                  path: .esteira-main
              - run: .esteira-main/scripts/deploy.sh prod
              - run: scripts/smoke-test.sh prod
              - run: scripts/recover.sh prod cancel
                working-directory: .esteira-main
        `);
            assert.deepStrictEqual(prodScriptsFromMain(wf), [
                ".github/workflows/bad.yml: jobs.preview: runs scripts/release-preview.sh from the checkout of ${{ needs.release.outputs.commit }}; a prod-level job runs main's scripts (the run's own commit)",
                ".github/workflows/bad.yml: jobs.prod: runs scripts/smoke-test.sh from no checkout (.)",
            ]);
        });

        it("a pulumi preview or up without the policy pack; a message that names one is no command", () => {
            const text = [
                "pulumi up --yes -s dev",
                "if pulumi preview -s prod; then :; fi",
                'pulumi up --yes -s dev "${POLICY_ARGS[@]}"',
                "pulumi preview --policy-pack policy/analyzer -s pr-1",
                'log "check with: pulumi preview --diff -s dev"',
                "# pulumi up in a comment",
            ].join("\n");
            assert.deepStrictEqual(withoutPolicyPack("scripts/bad.sh", text), [
                'scripts/bad.sh:1: "pulumi up --yes -s dev" runs without the policy pack (pass "${POLICY_ARGS[@]}" after policy_args)',
                'scripts/bad.sh:2: "if pulumi preview -s prod; then :; fi" runs without the policy pack (pass "${POLICY_ARGS[@]}" after policy_args)',
            ]);
        });

        it("an action pinned to a tag, a SHA without its version, a short SHA", () => {
            const wf = bad(`
        jobs:
          a:
            steps:
              - uses: actions/checkout@v4.2.2
              - uses: actions/checkout@${SHA}
              - uses: actions/checkout@3d3c42e # v7.0.1
              - uses: actions/checkout@${SHA} # v7.0.1
              - uses: ./.github/actions/setup
              - uses: docker://alpine:3.20
        `);
            assert.deepStrictEqual(unpinnedUses(wf), [
                `.github/workflows/bad.yml:5: "uses: actions/checkout@v4.2.2" must be pinned to a full commit SHA with its version in a comment (owner/repo@<40 hex> # vX.Y.Z)`,
                `.github/workflows/bad.yml:6: "uses: actions/checkout@${SHA}" must be pinned to a full commit SHA with its version in a comment (owner/repo@<40 hex> # vX.Y.Z)`,
                `.github/workflows/bad.yml:7: "uses: actions/checkout@3d3c42e" must be pinned to a full commit SHA with its version in a comment (owner/repo@<40 hex> # vX.Y.Z)`,
                `.github/workflows/bad.yml:10: "uses: docker://alpine:3.20" must be pinned to a full commit SHA with its version in a comment (owner/repo@<40 hex> # vX.Y.Z)`,
            ]);
        });

        it("a pull request's job holding prod's credentials, outside the review environment, with a credential variable", () => {
            const wf = bad(`
        on: pull_request
        jobs:
          preview:
            environment: prod
            steps:
              - run: pulumi preview
                env:
                  PULUMI_CONFIG_PASSPHRASE: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
                  GITHUB_TOKEN: \${{ secrets.ESTEIRA_GITHUB_TOKEN }}
                  KUBECONFIG: \${{ vars.PROD_KUBECONFIG }}
          call:
            uses: ./.github/workflows/other.yml
            secrets: inherit
        `);
            assert.deepStrictEqual(pullRequestSecrets(wf), [
                ".github/workflows/bad.yml: jobs.preview: a job a pull request reaches must not hold ESTEIRA_GITHUB_TOKEN (allowed: the review zone's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE, REGISTRY_TOKEN, REVIEW_REGISTRY_PUSH_TOKEN, TENANT_ISSUER_KUBECONFIG)",
                ".github/workflows/bad.yml: jobs.preview: holds ESTEIRA_GITHUB_TOKEN, PULUMI_CONFIG_PASSPHRASE on a pull request's event outside the review environment",
                ".github/workflows/bad.yml: jobs.preview: vars.PROD_KUBECONFIG looks like a credential; a pull request's job must not get one (keep credentials in an environment's secrets)",
                '.github/workflows/bad.yml: jobs.call: "secrets: inherit" hands every secret to the called workflow',
            ]);
        });

        it("a pull request's job holding a cloud token, even in the review environment", () => {
            const wf = bad(`
        on: pull_request
        jobs:
          up:
            environment: review
            steps:
              - run: pulumi up
                env:
                  DIGITALOCEAN_TOKEN: \${{ secrets.DIGITALOCEAN_TOKEN }}
        `);
            assert.deepStrictEqual(pullRequestSecrets(wf), [
                ".github/workflows/bad.yml: jobs.up: a job a pull request reaches must not hold DIGITALOCEAN_TOKEN (allowed: the review zone's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE, REGISTRY_TOKEN, REVIEW_REGISTRY_PUSH_TOKEN, TENANT_ISSUER_KUBECONFIG)",
            ]);
        });

        it("a pull request's job regaining the review base's state or main's registry: a base secret, packages: write", () => {
            const wf = bad(`
        on: pull_request
        jobs:
          up:
            environment: review
            permissions:
              contents: read
              packages: write
            steps:
              - run: pulumi up
                env:
                  REVIEW_BASE_PASSPHRASE: \${{ secrets.REVIEW_BASE_PASSPHRASE }}
                  DIGITALOCEAN_TOKEN: \${{ secrets.DIGITALOCEAN_TOKEN }}
                  REGISTRY_PUSH_TOKEN: \${{ secrets.REGISTRY_PUSH_TOKEN }}
        `);
            assert.deepStrictEqual(pullRequestSecrets(wf), [
                ".github/workflows/bad.yml: jobs.up: a job a pull request reaches must not hold DIGITALOCEAN_TOKEN, REGISTRY_PUSH_TOKEN, REVIEW_BASE_PASSPHRASE (allowed: the review zone's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, PULUMI_ACCESS_TOKEN, PULUMI_CONFIG_PASSPHRASE, REGISTRY_TOKEN, REVIEW_REGISTRY_PUSH_TOKEN, TENANT_ISSUER_KUBECONFIG)",
            ]);
            assert.deepStrictEqual(pullRequestPackages(wf), [
                ".github/workflows/bad.yml: jobs.up: a job a pull request reaches must not hold packages: write (its GITHUB_TOKEN could write main's packages); push with the review zone's REVIEW_REGISTRY_PUSH_TOKEN",
            ]);
            const all = bad(`
        on: pull_request
        permissions: write-all
        jobs:
          up:
            steps:
              - run: echo
        `);
            assert.strictEqual(pullRequestPackages(all).length, 1, "write-all includes packages");
        });

        it("pull_request_target at all", () => {
            const wf = bad(`
        on:
          pull_request_target:
        jobs:
          a:
            steps:
              - run: echo
        `);
            assert.deepStrictEqual(pullRequestSecrets(wf), [
                ".github/workflows/bad.yml: pull_request_target runs with the base repository's secrets on a pull request's event; use pull_request",
            ]);
        });

        it("a deploy without an environment, an unprotected environment, a free-text environment input, a preview that writes", () => {
            const wf = bad(`
        on:
          workflow_dispatch:
            inputs:
              target: { type: string }
              where: { type: choice, options: [dev, staging] }
        jobs:
          a:
            steps:
              - run: pulumi up --yes -s dev
          b:
            environment: production
            steps:
              - run: echo
                env:
                  T: \${{ secrets.DIGITALOCEAN_TOKEN }}
          c:
            environment: \${{ inputs.target }}
            steps:
              - run: scripts/deploy.sh "$STACK"
          d:
            environment: \${{ inputs.where }}
            steps:
              - run: scripts/recover.sh dev cancel
          e:
            environment: prod-preview
            steps:
              - run: scripts/deploy.sh prod
        `);
            assert.deepStrictEqual(environmentOfWrites(wf, environments), [
                ".github/workflows/bad.yml: jobs.a: changes a stack but names no environment: its credentials must come from the environment it may change",
                '.github/workflows/bad.yml: jobs.b: environment "production" is protected by no stack (esteira:github or esteira:repository.environments); GitHub would create it unprotected',
                '.github/workflows/bad.yml: jobs.c: environment "${{ inputs.target }}" is protected by no stack (esteira:github or esteira:repository.environments); GitHub would create it unprotected',
                '.github/workflows/bad.yml: jobs.d: environment "staging" is protected by no stack (esteira:github or esteira:repository.environments); GitHub would create it unprotected',
                ".github/workflows/bad.yml: jobs.e: the prod-preview environment only previews; this job changes a stack",
            ]);
        });

        it("default permissions, write-all, a write scope not listed, an OIDC token", () => {
            const wf = bad(`
        permissions:
          contents: read
        jobs:
          a:
            steps: []
          b:
            permissions: write-all
          c:
            permissions:
              contents: write
              id-token: write
        `);
            assert.deepStrictEqual(leastPrivilege(wf), [
                '.github/workflows/bad.yml: top-level permissions must be {} (each job declares what it needs); received {"contents":"read"}',
                ".github/workflows/bad.yml: jobs.a: declares no permissions",
                '.github/workflows/bad.yml: jobs.b: permissions "write-all"; list the scopes it needs',
                ".github/workflows/bad.yml: jobs.c: contents: write is not in its allowed write scopes (none)",
                ".github/workflows/bad.yml: jobs.c: id-token: write is not in its allowed write scopes (none)",
                ".github/workflows/bad.yml: jobs.c: id-token: write; no job mints OIDC tokens",
            ]);
        });

        it("an expression inside run:", () => {
            const wf = bad(`
        jobs:
          a:
            steps:
              - run: echo "\${{ github.event.pull_request.title }}"
        `);
            assert.deepStrictEqual(expressionsInRun(wf), [
                ".github/workflows/bad.yml: jobs.a.steps[0]: a ${{ }} expression inside run: is script injection waiting to happen; pass it through env:",
            ]);
        });

        it("a checkout that keeps its token in .git/config", () => {
            const wf = bad(`
        jobs:
          a:
            steps:
              - uses: actions/checkout@${SHA} # v7.0.1
        `);
            assert.deepStrictEqual(persistedCredentials(wf), [
                ".github/workflows/bad.yml: jobs.a.steps[0]: actions/checkout must set persist-credentials: false",
            ]);
        });

        it("the program run before the setup action", () => {
            const wf = bad(`
        jobs:
          a:
            steps:
              - run: pulumi preview -s dev
              - uses: ./.github/actions/setup
        `);
            assert.deepStrictEqual(setupBeforePulumi(wf), [
                ".github/workflows/bad.yml: jobs.a: runs the program before ./.github/actions/setup (which sets the build context's modes)",
            ]);
        });

        it("an input the local action does not declare, an action that is not there", () => {
            const wf = bad(`
        jobs:
          a:
            steps:
              - uses: ./.github/actions/setup
                with:
                  buildxx: "true"
              - uses: ./.github/actions/missing
        `);
            assert.deepStrictEqual(localActionInputs(wf, actions), [
                '.github/workflows/bad.yml: jobs.a.steps[0]: ./.github/actions/setup has no input "buildxx" (it has: buildx, cosign, syft, grype)',
                ".github/workflows/bad.yml: jobs.a.steps[1]: no action at ./.github/actions/missing",
            ]);
        });

        it("a stack changed outside its concurrency group, or cancellable midway", () => {
            const wf = bad(`
        jobs:
          a:
            environment: prod
            steps:
              - run: scripts/deploy.sh prod
          b:
            environment: dev
            concurrency:
              group: esteira-dev
              cancel-in-progress: true
            steps:
              - run: scripts/deploy.sh dev
        `);
            assert.deepStrictEqual(stackConcurrency(wf, STACK_OF_ENVIRONMENT), [
                ".github/workflows/bad.yml: jobs.a: changes stack prod outside its concurrency group (concurrency: {group: esteira-prod, cancel-in-progress: false})",
                ".github/workflows/bad.yml: jobs.b: changes stack dev outside its concurrency group (concurrency: {group: esteira-dev, cancel-in-progress: false})",
            ]);
        });

        it("a gate that misses a job, is skipped with them, or passes whatever they did", () => {
            const wf = bad(`
        jobs:
          test:
            steps: []
          audit:
            steps: []
          gate:
            name: checks
            needs: [test]
            steps:
              - run: echo ok
        `);
            assert.deepStrictEqual(aggregateGate(wf, "gate"), [
                ".github/workflows/bad.yml: jobs.gate: does not need audit",
                ".github/workflows/bad.yml: jobs.gate: must run always() (a skipped gate reports success)",
                '.github/workflows/bad.yml: jobs.gate: its name, the status check\'s, must be "gate"',
                '.github/workflows/bad.yml: jobs.gate: must fail unless every needed job\'s result is "success"',
            ]);
        });
    });
});
