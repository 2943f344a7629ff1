/**
 * What keeps previews and deploys fast, checked without the engine: the program runs transpiled
 * without type-checking (Pulumi.yaml → tsconfig.pulumi.json), while type errors still fail
 * `npm run typecheck` over tsconfig.json.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { create } from "ts-node";
import * as ts from "typescript";
import { parse as parseYaml } from "yaml";
import { RESULTS_BLOCK, BENCH_COMMAND, RESULTS } from "../bench/engine";
import { PERFORMANCE, readBlock } from "../tools/docs";
import { hostConfig, REPO_ROOT, stackConfig, TEST_COMMIT } from "./mocks";

const PULUMI_TSCONFIG = "tsconfig.pulumi.json";

/** A tsconfig file's own compilerOptions (comments allowed, `extends` not followed). */
function compilerOptions(file: string): Record<string, unknown> {
    const full = path.join(REPO_ROOT, file);
    const { config, error } = ts.parseConfigFileTextToJson(full, fs.readFileSync(full, "utf8"));
    assert.ok(!error, `${file} does not parse: ${error && ts.flattenDiagnosticMessageText(error.messageText, "\n")}`);
    return config.compilerOptions ?? {};
}

describe("type-checking at deploy time", () => {
    it(`Pulumi.yaml runs the program with ${PULUMI_TSCONFIG}`, () => {
        const project = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8"));
        assert.strictEqual(project.runtime?.options?.typescript, true);
        assert.strictEqual(project.runtime?.options?.tsconfig, PULUMI_TSCONFIG, "previews and deploys would type-check the program again");
    });

    it(`the Pulumi SDK reads noCheck from ${PULUMI_TSCONFIG}, so it transpiles without type-checking`, () => {
        // The SDK's own reader (cmd/run decides transpile-only from its result): it ignores errors
        // and follows no `extends`, so only what this file says itself counts.
        const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils");
        assert.strictEqual(loadTypeScriptCompilerOptions(path.join(REPO_ROOT, PULUMI_TSCONFIG)).noCheck, true);
    });

    it(`${PULUMI_TSCONFIG} compiles the program as tsconfig.json does, type-checking aside`, () => {
        const { noCheck, ...deploy } = compilerOptions(PULUMI_TSCONFIG);
        assert.strictEqual(noCheck, true);
        assert.deepStrictEqual(deploy, compilerOptions("tsconfig.json"), `${PULUMI_TSCONFIG} has drifted from tsconfig.json`);
    });

    it(`ts-node transpiles the program with SWC under ${PULUMI_TSCONFIG}, as the SDK registers it`, () => {
        // What the SDK's cmd/run does with the file: a missing @swc/wasm would fail every preview.
        const service = create({ project: path.join(REPO_ROOT, PULUMI_TSCONFIG), transpileOnly: true });
        assert.strictEqual(service.options.swc, true);
        const js = service.compile("export const port: number = 8000;\n", path.join(REPO_ROOT, "probe.ts"));
        assert.match(js, /const port = 8000;/);
    });

    it("type errors still fail `npm run typecheck`, which runs tsc over tsconfig.json with checks on", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).scripts;
        assert.strictEqual(scripts.typecheck, "tsc --noEmit");
        assert.strictEqual(compilerOptions("tsconfig.json").noCheck, undefined, "tsconfig.json must type-check");
    });
});

describe("the engine benchmark's results", () => {
    it(`docs/performance.md quotes ${path.relative(REPO_ROOT, RESULTS)} as \`${BENCH_COMMAND}\` last wrote it`, () => {
        const results = fs
            .readFileSync(RESULTS, "utf8")
            .replace(/^# .*\n/, "")
            .trim();
        const quoted = readBlock(fs.readFileSync(PERFORMANCE, "utf8"), RESULTS_BLOCK, BENCH_COMMAND);
        assert.strictEqual(
            quoted,
            results,
            `docs/performance.md's ${RESULTS_BLOCK} block is stale: run \`${BENCH_COMMAND}\` (or copy the file's tables)`,
        );
    });
});

/**
 * The modules a stack's run has loaded once the program has registered everything, under the mocks,
 * in a process of its own: mocha's workers share one module cache between test files. Nothing in
 * that process reads the stack file; its config comes as the language host hands it over.
 */
function loadedBy(stack: string): string[] {
    const { plain, secrets } = stackConfig(stack);
    const { config, secretKeys } = hostConfig(plain, secrets);
    const script = `(async () => {
        const recorder = new (require("./lib/recorder").Recorder)();
        await recorder.install(${JSON.stringify(stack)}, true);
        await require("./index.ts");
        await recorder.settle();
        process.stdout.write(JSON.stringify(Object.keys(require.cache)));
        process.exit(0);
    })().catch((err) => { console.error(err); process.exit(1); });`;
    const child = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
        cwd: REPO_ROOT,
        env: {
            ...process.env,
            PULUMI_CONFIG: JSON.stringify(config),
            PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys),
            GITHUB_SHA: TEST_COMMIT,
            ESTEIRA_COMMIT: "",
        },
        encoding: "utf8",
    });
    assert.strictEqual(child.status, 0, child.stderr);
    return JSON.parse(child.stdout);
}

describe("start-up: a stack loads no parser it does not use", () => {
    const any = (files: string[], pattern: RegExp) => files.filter((file) => pattern.test(file.split(path.sep).join("/")));

    it("dev (its own cluster, no number in an env) never loads yaml", () => {
        const files = loadedBy("dev");
        assert.ok(any(files, /\/node_modules\/@pulumi\/kubernetes\//).length > 0, "the probe saw no Kubernetes resources");
        assert.deepStrictEqual(any(files, /\/node_modules\/yaml\//), []);
    });
});
