import * as assert from "assert";
import { deployOrder, deploysOn, repositoryStacks, workflowStacks } from "../../tools/stacks";

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
});
