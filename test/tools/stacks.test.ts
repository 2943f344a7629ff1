import * as assert from "assert";
import {
    deployLine,
    deployOrder,
    deploysOn,
    dispatchTarget,
    promotionStage,
    repositoryStacks,
    run,
    workflowStacks,
} from "../../tools/stacks";

describe("the workflows' stacks (tools/stacks.ts, npm run -s stacks)", () => {
    it("follow the repository's stack files: every one with esteira:github, and what each ref deploys, in order", () => {
        const stacks = repositoryStacks();
        assert.deepStrictEqual(deployOrder(stacks), ["dev", "homolog", "prod"], "previews: prod after homolog, which it promotes from");
        assert.deepStrictEqual(deployOrder(stacks, "refs/heads/main"), ["dev", "homolog"], "a push to main: dev, then homolog");
        assert.deepStrictEqual(
            deployOrder(stacks, "refs/tags/v1.4.0"),
            [],
            "a release tag deploys nothing by itself: prod is deployOn release",
        );
        assert.deepStrictEqual(deployOrder(stacks, "refs/heads/feature/x"), []);
    });

    it("a new environment is one stack file: preprod joins the line where its file says", () => {
        const line = workflowStacks({
            dev: { "esteira:github": { repository: "shop", deployFrom: { branches: ["main"] } } },
            homolog: { "esteira:github": { repository: "shop", deployFrom: { branches: ["main"] }, deployAfter: ["dev"] } },
            preprod: {
                "esteira:github": { repository: "shop", deployFrom: { branches: ["main"] } },
                "esteira:services": { api: { image: { promoteFrom: "homolog" } } },
            },
            prod: {
                "esteira:github": { repository: "shop", deployFrom: { tags: ["v*"] } },
                "esteira:services": { api: { image: { promoteFrom: "organization/shop/preprod" } } },
            },
            local: { "esteira:services": { api: { image: "x" } } },
        });
        assert.deepStrictEqual(deployOrder(line), ["dev", "homolog", "preprod", "prod"]);
        assert.deepStrictEqual(deployOrder(line, "refs/heads/main"), ["dev", "homolog", "preprod"]);
        assert.deepStrictEqual(deployOrder(line, "refs/tags/v2.0.0"), ["prod"]);
    });

    it("a stack deployed by release runs only (deployOn: release) joins no push, though main may deploy it", () => {
        const line = workflowStacks({
            dev: { "esteira:github": { repository: "shop", deployFrom: { branches: ["main"] } } },
            prod: { "esteira:github": { repository: "shop", deployFrom: { branches: ["main"] }, deployOn: "release" } },
        });
        assert.deepStrictEqual(deployOrder(line, "refs/heads/main"), ["dev"]);
        assert.deepStrictEqual(deployOrder(line), ["dev", "prod"], "previews list it");
    });

    it("a stack that promotes what a stage verified deploys after that stage (image.verifiedIn, any workload kind)", () => {
        const line = workflowStacks({
            qa: { "esteira:github": { repository: "shop" }, "esteira:workers": { mailer: { image: { verifiedIn: "staging" } } } },
            staging: { "esteira:github": { repository: "shop" } },
        });
        assert.deepStrictEqual(deployOrder(line), ["staging", "qa"]);
    });

    it("a database server or a cluster of another stack's orders nothing: no stack reads one from another", () => {
        const line = workflowStacks({
            qa: { "esteira:github": { repository: "shop" }, "esteira:database": { mode: "server" } },
            staging: { "esteira:github": { repository: "shop" } },
        });
        assert.deepStrictEqual(
            line.map((s) => [s.stack, s.after]),
            [
                ["qa", []],
                ["staging", []],
            ],
        );
    });

    it("match refs the way deployFrom means them", () => {
        assert.ok(deploysOn("all", "refs/tags/anything"));
        assert.ok(deploysOn("protected", "refs/heads/main") && !deploysOn("protected", "refs/tags/v1"));
        const patterns = { branches: ["main", "release/*"], tags: ["v*"] };
        assert.ok(deploysOn(patterns, "refs/heads/release/1.2"));
        assert.ok(!deploysOn(patterns, "refs/heads/release/1.2/hotfix"), "* stays within one segment");
        assert.ok(deploysOn({ branches: ["release/**"] }, "refs/heads/release/1.2/hotfix"));
        assert.ok(deploysOn(patterns, "refs/tags/v1.2.0") && !deploysOn(patterns, "refs/tags/1.2.0"));
        assert.ok(!deploysOn(patterns, "refs/heads/mainline"));
    });

    it("refuses an order that names an unknown stack or runs in a circle", () => {
        const github = (deployAfter: string[]) => ({ "esteira:github": { repository: "shop", deployAfter } });
        assert.throws(() => deployOrder(workflowStacks({ homolog: github(["qa"]) })), {
            message:
                'Pulumi.homolog.yaml: deploys after "qa", which is no stack the workflows manage (a Pulumi.<stack>.yaml with esteira:github)',
        });
        assert.throws(() => deployOrder(workflowStacks({ a: github(["b"]), b: github(["a"]) })), {
            message: "the stacks deploy after each other in a circle: a → b → a",
        });
    });
    it("deploy.yml's matrix (--line): the stacks a push deploys, in order, each with its environment and the evidence it leaves", () => {
        assert.deepStrictEqual(deployLine(repositoryStacks(), "refs/heads/main"), [
            { stack: "dev", environment: "dev", evidence: "provenance" },
            { stack: "homolog", environment: "homolog", evidence: "verified" },
        ]);
        const renamed = workflowStacks({
            staging: {
                "esteira:github": { repository: "shop", environment: "stage" },
                "esteira:services": { api: { image: { build: { context: "app" } } } },
            },
        });
        assert.deepStrictEqual(deployLine(renamed, "refs/heads/main"), [
            { stack: "staging", environment: "stage", evidence: "provenance" },
        ]);
    });

    it("a production stack never joins a push: it is deployed by release runs only", () => {
        const line = workflowStacks({
            prod: { "esteira:production": true, "esteira:github": { repository: "shop", deployFrom: { branches: ["main"] } } },
        });
        assert.throws(() => deployLine(line, "refs/heads/main"), {
            message:
                "Pulumi.prod.yaml: a production stack (esteira:production) is deployed by release runs only, through prod-preview's and its own approval; set esteira:github.deployOn: release",
        });
    });

    it("the promotion chain is the stack files': a stack that builds redeploys its own verification, one that promotes the stage it names", () => {
        const stacks = repositoryStacks();
        assert.deepStrictEqual(
            stacks.map((s) => `${s.stack} <- ${promotionStage(s)}`),
            ["dev <- dev", "homolog <- dev", "prod <- homolog"],
        );
        const mixed = workflowStacks({
            qa: {
                "esteira:github": { repository: "shop" },
                "esteira:services": { api: { image: { verifiedIn: "dev" } }, web: { image: { verifiedIn: "homolog" } } },
            },
        });
        assert.throws(() => promotionStage(mixed[0]), {
            message:
                "Pulumi.qa.yaml: its workloads come from dev and homolog; a deploy of verified digests needs exactly one: build every image here, or set the same image.verifiedIn on each",
        });
    });

    it('"Run workflow" (--dispatch) deploys a stack file\'s environment below prod, from the stage it promotes, and refuses anything else', () => {
        const stacks = repositoryStacks();
        assert.deepStrictEqual(dispatchTarget(stacks, "homolog"), { stack: "homolog", environment: "homolog", stage: "dev" });
        assert.deepStrictEqual(dispatchTarget(stacks, "dev"), { stack: "dev", environment: "dev", stage: "dev" });
        assert.throws(() => dispatchTarget(stacks, "prod"), {
            message: "prod is deployed by a release run: give a release tag (release: v1.2.3) instead",
        });
        assert.throws(() => dispatchTarget(stacks, "staging"), {
            message:
                'no stack file deploys to environment "staging" (a Pulumi.<stack>.yaml with esteira:github); choose one of: dev, homolog',
        });
    });

    it("the command line: no argument, --ref, --line, --dispatch; anything else is a usage error", () => {
        const stacks = repositoryStacks;
        assert.deepStrictEqual(run([], stacks), ["dev", "homolog", "prod"]);
        assert.deepStrictEqual(run(["--ref", "refs/heads/main"], stacks), ["dev", "homolog"]);
        assert.strictEqual((run(["--line", "refs/heads/main"], stacks) as unknown[]).length, 2);
        assert.deepStrictEqual(run(["--dispatch", "homolog"], stacks), { stack: "homolog", environment: "homolog", stage: "dev" });
        assert.deepStrictEqual(run(["--recover", "dev"], stacks), { stack: "dev", environment: "dev" });
        assert.throws(() => run(["--recover", "prod"], stacks), {
            message: "prod is deployed by a release run: operations.yml recovers it through its own two approvals (environment prod)",
        });
        assert.throws(() => run(["--line"], stacks), { message: "unexpected arguments: --line" });
        assert.throws(() => run(["--matrix", "x"], stacks), { message: "unexpected arguments: --matrix x" });
    });
});
