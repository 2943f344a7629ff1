/** What `npm run docs` generates from the program must match what is committed. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { CONFIGURATION, configurationDoc, documentBlocks, readBlock, schemaText, STACK_FILE_SCHEMA } from "../tools/docs";
import { REPO_ROOT } from "./mocks";
import { anchors, fenceProblems, headingProblems, quotedNpmScripts, quotedScripts, relativeLinks } from "./support/markdown";

const STALE = "stale: run `npm run docs` and commit the result";

describe("generated documentation", () => {
    it("docs/configuration.md is generated whole from the schema and its template", () => {
        assert.strictEqual(fs.readFileSync(CONFIGURATION, "utf8"), configurationDoc(), `docs/configuration.md is ${STALE}`);
    });

    it("the generated blocks in hand-written docs (environment diagrams, accepted linter findings) are current", async () => {
        for (const [file, blocks] of await documentBlocks()) {
            const text = fs.readFileSync(file, "utf8");
            for (const [name, body] of Object.entries(blocks)) {
                assert.strictEqual(readBlock(text, name), body, `${path.relative(REPO_ROOT, file)} block ${name} is ${STALE}`);
            }
        }
    });

    it("stacks/stack.schema.json is the schema's", () => {
        assert.strictEqual(fs.readFileSync(STACK_FILE_SCHEMA, "utf8"), schemaText(), `stacks/stack.schema.json is ${STALE}`);
    });
});

/** The hand-written and generated docs a reader reaches from the README. */
const DOCS_DIR = path.join(REPO_ROOT, "docs");
const README_BUDGET_BYTES = 15 * 1024;
const docFiles = () => [
    path.join(REPO_ROOT, "README.md"),
    ...fs
        .readdirSync(DOCS_DIR)
        .filter((name) => name.endsWith(".md"))
        .map((name) => path.join(DOCS_DIR, name)),
];
const rel = (file: string) => path.relative(REPO_ROOT, file);

describe("documentation that cannot drift", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const packageScripts = Object.keys(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).scripts);

    it(`the README stays a front page: at most ${README_BUDGET_BYTES} bytes`, () => {
        const size = Buffer.byteLength(readme);
        assert.ok(size <= README_BUDGET_BYTES, `README.md is ${size} bytes, over its ${README_BUDGET_BYTES}: move the detail into docs/`);
    });

    it("the README links every file in docs/", () => {
        const linked = new Set(relativeLinks(readme).map(({ target }) => target.split("#")[0]));
        const unlinked = fs.readdirSync(DOCS_DIR).filter((name) => !linked.has(`docs/${name}`));
        assert.deepStrictEqual(
            unlinked,
            [],
            `docs/ files the README does not link (add them to its Documentation table): ${unlinked.join(", ")}`,
        );
    });

    it("every fence is closed and every heading well formed", () => {
        const problems = docFiles().flatMap((file) => {
            const text = fs.readFileSync(file, "utf8");
            return [...fenceProblems(text), ...headingProblems(text)].map((problem) => `${rel(file)}: ${problem}`);
        });
        assert.deepStrictEqual(problems, []);
    });

    it("every relative link reaches a file, and its #anchor a heading there", () => {
        const problems = docFiles().flatMap((file) =>
            relativeLinks(fs.readFileSync(file, "utf8")).flatMap(({ target, number }) => {
                const [where, anchor] = target.split("#");
                const resolved = where === "" ? file : path.resolve(path.dirname(file), where);
                if (!fs.existsSync(resolved)) return [`${rel(file)}:${number}: ${target}: no such file`];
                if (anchor && resolved.endsWith(".md") && !anchors(fs.readFileSync(resolved, "utf8")).has(anchor))
                    return [`${rel(file)}:${number}: ${target}: ${rel(resolved)} has no heading with that anchor`];
                return [];
            }),
        );
        assert.deepStrictEqual(problems, []);
    });

    it("every `npm run <script>` a doc quotes is in package.json", () => {
        const problems = docFiles().flatMap((file) =>
            quotedNpmScripts(fs.readFileSync(file, "utf8"))
                .filter(({ script }) => !packageScripts.includes(script))
                .map(({ script, number }) => `${rel(file)}:${number}: npm run ${script}: package.json has no such script`),
        );
        assert.deepStrictEqual(problems, []);
    });

    it("every `scripts/<name>.sh` a doc quotes exists and takes the flags quoted with it", () => {
        const problems = docFiles().flatMap((file) =>
            quotedScripts(fs.readFileSync(file, "utf8")).flatMap(({ script, flags, number }) => {
                const source = path.join(REPO_ROOT, "scripts", script);
                if (!fs.existsSync(source)) return [`${rel(file)}:${number}: scripts/${script}: no such script`];
                const text = fs.readFileSync(source, "utf8");
                return flags
                    .filter((flag) => !new RegExp(`(^|[^\\w-])${flag}([^\\w-]|$)`, "m").test(text))
                    .map((flag) => `${rel(file)}:${number}: scripts/${script} ${flag}: the script never mentions ${flag}`);
            }),
        );
        assert.deepStrictEqual(problems, []);
    });
});

/** The checks above, each shown to fail on the mistake it is for. */
describe("the doc checks catch what they are for", () => {
    it("an unclosed fence, and a fence opened inside another", () => {
        assert.deepStrictEqual(fenceProblems("# t\n\n```yaml\na: 1\n"), ["line 3: the fence opened here (```) is never closed"]);
        assert.deepStrictEqual(fenceProblems("# t\n```yaml\na: 1\n\n## next\n```yaml\nb: 2\n```\n"), [
            "line 6: a fence opens (```yaml) inside the block opened at line 2: close that one first",
        ]);
        assert.deepStrictEqual(fenceProblems("# t\n```sh\nls\n```\n"), []);
    });

    it("a heading without its space, a skipped level, a second title; a # inside a fence is no heading", () => {
        assert.deepStrictEqual(headingProblems("# t\n\n##Setup\n\n#### deep\n\n# again\n\n```yaml\n# comment\n```\n"), [
            'line 3: "##Setup" is not a heading: put a space after the #',
            'line 5: "deep" skips from level 1 to 4',
            'line 7: a second title (#) "again": one per document',
        ]);
    });

    it("anchors as GitHub makes them", () => {
        assert.deepStrictEqual(
            [...anchors("# A\n## Build secrets (`esteira:buildSecrets`)\n## A\n")],
            ["a", "build-secrets-esteirabuildsecrets", "a-1"],
        );
    });

    it("the commands a doc quotes, with their flags", () => {
        const doc =
            "# t\n\nRun `npm run -s docs` then:\n\n```sh\nbash scripts/local-up.sh --yes --destroy   # note --not-this\nbash scripts/pr-stack.sh up 42 [--template x] [-- --diff]\n```\n";
        assert.deepStrictEqual(quotedNpmScripts(doc), [{ script: "docs", number: 3 }]);
        assert.deepStrictEqual(quotedScripts(doc), [
            { script: "local-up.sh", flags: ["--yes", "--destroy"], number: 6 },
            { script: "pr-stack.sh", flags: ["--template"], number: 7 },
        ]);
    });
});
