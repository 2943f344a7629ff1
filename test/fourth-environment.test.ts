/**
 * A fourth environment is one stack file (team B's dev, homolog, preprod, prod): in a scratch copy
 * of the repository, add `Pulumi.preprod.yaml` (homolog's verified digests, QA approves) and its
 * entry in prod's `esteira:repository.environments`, as docs/environments.md shows them, touch
 * nothing else, and check that the whole
 * line picks it up: the deploy workflow's plan and its trust rules, the promotion chain, the
 * program (prod writes preprod's environment), and "Run workflow" (scripts/dispatch-deploy.sh).
 */
import * as assert from "assert";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument } from "yaml";
import { evaluateStack } from "../lib/evaluate";
import { TEST_COMMIT } from "../lib/fakes";
import { parseStackFile } from "../lib/stack-files";
import { workflowStacks } from "../tools/stacks";
import { watchSettingsOf } from "../vocabulary/defaults";
import { REPO_ROOT } from "./mocks";
import {
    deployRunContexts,
    environmentOfWrites,
    operationsRunContexts,
    prodCredentialsBelowProd,
    prodPath,
    protectedEnvironments,
    stackConcurrency,
    stackOfEnvironment,
    workflowOf,
} from "./support/workflow-rules";

/** The two blocks docs/environments.md ("Adding an environment") shows: the stack file, and prod's entry for it. */
function documentedPreprod(): { stackFile: string; prodEntry: Record<string, unknown> } {
    const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "environments.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Adding an environment"));
    const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
    const stackFile = blocks.find((block) => /^# preprod:/m.test(block));
    const prodEntry = blocks.map((block) => parseStackFile(block)).find((value) => value?.preprod !== undefined);
    assert.ok(stackFile && prodEntry, "docs/environments.md shows Pulumi.preprod.yaml and prod's preprod entry");
    return { stackFile, prodEntry: prodEntry.preprod };
}

const COPIED_DIRS = ["app", "components", "config", "lib", "policy", "scripts", "stacks", "tools", "vocabulary", ".github"];
const SKIP = new Set(["node_modules", ".git", "dist"]);

/** A scratch copy of the repository (its code, scripts, workflows and stack files), sharing node_modules. */
function scratchCopy(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-fourth-"));
    for (const entry of fs.readdirSync(REPO_ROOT)) {
        const from = path.join(REPO_ROOT, entry);
        // Never .git: in a worktree it is a file naming the repository's git directory, and a
        // commit in the copy would land on the real branch.
        if (!SKIP.has(entry) && fs.statSync(from).isFile()) fs.copyFileSync(from, path.join(dir, entry));
    }
    for (const sub of COPIED_DIRS)
        fs.cpSync(path.join(REPO_ROOT, sub), path.join(dir, sub), { recursive: true, filter: (src) => !SKIP.has(path.basename(src)) });
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

/** The one change besides the stack file: preprod's protection in prod's esteira:repository.environments. */
function addPreprod(dir: string): void {
    const { stackFile, prodEntry } = documentedPreprod();
    fs.writeFileSync(path.join(dir, "Pulumi.preprod.yaml"), stackFile);
    const file = path.join(dir, "Pulumi.prod.yaml");
    const doc = parseDocument(fs.readFileSync(file, "utf8"));
    doc.setIn(["config", "esteira:repository", "environments", "preprod"], prodEntry);
    fs.writeFileSync(file, doc.toString());
}

const configOf = (dir: string, stack: string): Record<string, any> =>
    parseStackFile(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")).config;

/** `pulumi` as dispatch-deploy.sh calls it: config from the scratch stack files, pins kept, `up` recorded. */
const PULUMI = `#!/usr/bin/env node
const fs = require("fs"), path = require("path");
const args = process.argv.slice(2), stub = process.env.STUB, scratch = process.env.SCRATCH;
fs.appendFileSync(path.join(stub, "calls"), "pulumi " + args.join(" ") + "\\n");
const stack = args[args.indexOf("-s") + 1];
const pinsFile = path.join(stub, "pins-" + stack + ".json");
const pins = fs.existsSync(pinsFile) ? JSON.parse(fs.readFileSync(pinsFile, "utf8")) : {};
const [a, b] = args;
if (a === "config" && b === "get") {
  const { parse } = require(path.join(scratch, "node_modules", "yaml"));
  const config = parse(fs.readFileSync(path.join(scratch, "Pulumi." + stack + ".yaml"), "utf8"), { merge: true }).config;
  const key = args[2];
  if (key === "esteira:registryToken") { process.stdout.write("registry-token"); process.exit(0); }
  if (!(key in config)) process.exit(1);
  const value = config[key];
  process.stdout.write(typeof value === "string" ? value : JSON.stringify(value));
} else if (a === "config" && b === "set") {
  pins[args[3].replace("esteira:pins.", "")] = args[4];
  fs.writeFileSync(pinsFile, JSON.stringify(pins));
} else if (a === "stack" && b === "export") {
  process.stdout.write(JSON.stringify({ deployment: { resources: [] } }));
} else if (a === "stack" && b === "output") {
  if (!fs.existsSync(path.join(stub, "up-" + stack))) { console.error("error: current stack does not have outputs"); process.exit(255); }
  // watch: as the program exports it (written by the test); anything else: the images, pinned.
  if (args[2] === "watch") process.stdout.write(fs.readFileSync(path.join(stub, "watch-" + stack + ".json"), "utf8"));
  else process.stdout.write(JSON.stringify(pins));
} else if (a === "up") {
  fs.writeFileSync(path.join(stub, "up-" + stack), "");
}
`;

/** `docker` as the registry side sees it: every verified tag resolves to one digest; tags are recorded. */
const DOCKER = `#!/usr/bin/env bash
echo "docker $*" >>"$STUB/calls"
case "$1 $2 $3" in
  "login "*) cat >/dev/null ;;
  "buildx imagetools inspect") echo '{"digest":"sha256:${"c".repeat(64)}"}' ;;
  "buildx imagetools create") ;;
  *) exit 1 ;;
esac
`;

describe("a fourth environment is one stack file (preprod, in a scratch copy)", function () {
    this.timeout(120_000);
    let dir: string;

    before(() => {
        dir = scratchCopy();
        addPreprod(dir);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const stacksIn = (root: string) =>
        workflowStacks(
            Object.fromEntries(
                fs
                    .readdirSync(root)
                    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
                    .filter((stack): stack is string => stack !== undefined)
                    .map((stack) => [stack, configOf(root, stack)]),
            ),
        );
    const tool = (...args: string[]): SpawnSyncReturns<string> =>
        spawnSync(path.join(dir, "node_modules", ".bin", "ts-node"), ["--transpile-only", "tools/stacks.ts", ...args], {
            cwd: dir,
            encoding: "utf8",
        });

    it("the deploy workflow's plan runs preprod after homolog on a push to main, signing what it promoted", () => {
        const line = tool("--line", "refs/heads/main");
        assert.strictEqual(line.status, 0, line.stderr);
        assert.deepStrictEqual(JSON.parse(line.stdout), [
            { stack: "dev", environment: "dev", evidence: "provenance" },
            { stack: "homolog", environment: "homolog", evidence: "verified" },
            { stack: "preprod", environment: "preprod", evidence: "verified" },
        ]);
    });

    it("the promotion chain: preprod promotes homolog's verification, and Run workflow may deploy it", () => {
        const target = tool("--dispatch", "preprod");
        assert.strictEqual(target.status, 0, target.stderr);
        assert.deepStrictEqual(JSON.parse(target.stdout), { stack: "preprod", environment: "preprod", stage: "homolog" });
    });

    it("the workflows are unchanged and hold their trust rules with preprod in the line and in recovery: its own environment, group and credentials, none of prod's", () => {
        const stacks = stacksIn(dir);
        const configs = Object.fromEntries(stacks.map((s) => [s.stack, configOf(dir, s.stack)]));
        assert.ok(protectedEnvironments(configs).includes("preprod"), "prod's stack protects preprod's environment");
        for (const [file, contexts, job, key] of [
            [".github/workflows/deploy.yml", deployRunContexts(stacks), "line", "matrix.environment"],
            [".github/workflows/operations.yml", operationsRunContexts(stacks), "recover", "needs.plan.outputs.environment"],
        ] as const) {
            const text = fs.readFileSync(path.join(dir, file), "utf8");
            assert.strictEqual(text, fs.readFileSync(path.join(REPO_ROOT, file), "utf8"), `${file} is the repository's`);
            assert.ok(
                contexts[job].some((c) => c[key] === "preprod"),
                `${file}: ${job} runs in preprod: ${JSON.stringify(contexts[job])}`,
            );
            const wf = workflowOf(file, text);
            assert.deepStrictEqual(environmentOfWrites(wf, protectedEnvironments(configs), contexts), []);
            assert.deepStrictEqual(prodCredentialsBelowProd(wf, contexts), []);
            assert.deepStrictEqual(prodPath(wf, contexts), []);
            assert.deepStrictEqual(stackConcurrency(wf, stackOfEnvironment(stacks), contexts), []);
        }
        assert.deepStrictEqual(
            deployRunContexts(stacks).line.map((c) => c["matrix.environment"]),
            ["dev", "homolog", "preprod"],
        );
        const recover = tool("--recover", "preprod");
        assert.strictEqual(recover.status, 0, recover.stderr);
        assert.deepStrictEqual(JSON.parse(recover.stdout), { stack: "preprod", environment: "preprod" });
    });

    it("the program: preprod deploys homolog's digest, and prod's stack writes preprod's environment, QA approving, main only", async () => {
        const preprod = await evaluateStack("preprod", {}, configOf(dir, "preprod"));
        assert.ok(preprod.recorder.get("kubernetes:apps/v1:Deployment", "sample-deployment"), "preprod runs the sample service");
        const lookups = preprod.recorder.resources.filter((r) => /^verified-/.test(String(r.inputs?.tag ?? "")));
        assert.deepStrictEqual(
            lookups.map((r) => `${r.inputs.domain}/${r.inputs.repository}:${r.inputs.tag}`),
            [`ghcr.io/esteira-dev/esteira/sample:verified-homolog-${TEST_COMMIT.slice(0, 12)}`],
            "the digest homolog verified for the commit",
        );
        assert.deepStrictEqual(
            preprod.recorder.resources.filter((r) => r.type.startsWith("github:")).map((r) => r.name),
            [],
            "preprod's jobs need no GitHub token (managedBy: prod)",
        );
        const prod = await evaluateStack("prod", {}, configOf(dir, "prod"));
        const environment = prod.recorder.get("github:index/repositoryEnvironment:RepositoryEnvironment", "preprod-environment");
        assert.strictEqual(environment.inputs.environment, "preprod");
        assert.strictEqual(environment.inputs.reviewers[0].teams.length, 1, "QA approves");
        const policies = prod.recorder
            .all("github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy")
            .filter((p) => p.name.startsWith("preprod-policy"))
            .map((p) => p.inputs.branchPattern);
        assert.deepStrictEqual(policies, ["main"]);
    });

    it("Run workflow: dispatch-deploy.sh preprod deploys the digests homolog verified for the commit, then marks them verified in preprod", () => {
        const stub = path.join(dir, "stub");
        const bin = path.join(stub, "bin");
        const pack = path.join(stub, "policy");
        fs.mkdirSync(bin, { recursive: true });
        fs.mkdirSync(path.join(pack, "node_modules"), { recursive: true });
        fs.writeFileSync(path.join(pack, "analyzer"), "#!/bin/sh\n", { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "pulumi"), PULUMI, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "docker"), DOCKER, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "kubectl"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
        // The watch settings preprod's stack file gives, defaults applied: the stack's `watch` output.
        fs.writeFileSync(path.join(stub, "watch-preprod.json"), JSON.stringify(watchSettingsOf(configOf(dir, "preprod")["esteira:watch"])));
        // The smoke test is the local line's to prove (e2e/delivery.e2e.ts); here it passes and says so.
        fs.writeFileSync(path.join(dir, "scripts", "smoke-test.sh"), '#!/bin/sh\necho "smoke-test $*" >>"$STUB/calls"\n', { mode: 0o755 });
        assert.ok(!fs.existsSync(path.join(dir, ".git")), "the copy is no checkout of the real repository");
        // A repository of the copy's own, whatever git finds around it.
        const gitEnv = { ...process.env, GIT_DIR: path.join(dir, ".git"), GIT_WORK_TREE: dir, GIT_CEILING_DIRECTORIES: path.dirname(dir) };
        const git = (...args: string[]) => {
            const result = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
                cwd: dir,
                encoding: "utf8",
                env: gitEnv,
            });
            assert.strictEqual(result.status, 0, `git ${args.join(" ")}: ${result.stdout}${result.stderr}`);
            return result.stdout.trim();
        };
        git("init", "-q");
        git("add", "-A", "--", ".", ":!stub");
        git("commit", "-qm", "the line with preprod");
        git("update-ref", "refs/remotes/origin/main", "HEAD");
        const commit = git("rev-parse", "HEAD");
        const result = spawnSync("bash", ["scripts/dispatch-deploy.sh", "preprod", commit], {
            cwd: dir,
            encoding: "utf8",
            env: {
                ...gitEnv,
                STUB: stub,
                SCRATCH: dir,
                PATH: `${bin}:${process.env.PATH}`,
                ESTEIRA_POLICY_PACK: pack,
                ROLLBACK_STATE_DIR: stub,
                RUNNER_TEMP: stub,
                GITHUB_STEP_SUMMARY: "",
                EVIDENCE_SIGNING_KEY: "",
            },
        });
        assert.strictEqual(result.status, 0, result.stderr);
        const calls = fs.readFileSync(path.join(stub, "calls"), "utf8").trim().split("\n");
        const repository = "ghcr.io/esteira-dev/esteira/sample";
        const digest = `sha256:${"c".repeat(64)}`;
        assert.ok(
            calls.includes(
                `docker buildx imagetools inspect ${repository}:verified-homolog-${commit.slice(0, 12)} --format {{json .Manifest}}`,
            ),
            `looks up homolog's verification of the commit: ${calls.join(" | ")}`,
        );
        assert.ok(calls.includes(`pulumi config set --path esteira:pins.sample ${repository}@${digest} -s preprod`), "pins it in preprod");
        assert.ok(
            calls.some((c) => c.startsWith("pulumi up") && c.includes("-s preprod")),
            "deploys preprod",
        );
        assert.ok(calls.includes("smoke-test preprod"));
        assert.ok(
            calls.some((c) =>
                c.includes(`imagetools create --prefer-index=false --tag ${repository}:verified-preprod-${commit.slice(0, 12)}`),
            ),
            "marks what preprod ran verified, for the stage after it",
        );
    });
});
