/**
 * The house has one direction (issue 22): the vocabulary (vocabulary/: schemas, defaults, naming
 * rules) on the ground floor; components/ on it; config/ reads the stack and hands components their
 * Args; index.ts wires. Product code (the program, lib/, tools/, bench/, the policy pack) never
 * imports test/. The module graph is madge's, type-only imports included: a type import is a dependency too.
 */
import * as assert from "assert";
import * as fs from "fs";
import madge from "madge";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
/** Program sources: the Pulumi program, its tools and benchmarks, the policy pack. */
const PROGRAM = ["index.ts", "vocabulary", "components", "config", "lib", "tools", "bench", "policy/index.ts", "policy/src"];

/** Which folders each floor may import from (a file's floor is its top folder; `index.ts` is the roof). */
const MAY_IMPORT: Record<string, string[]> = {
    vocabulary: ["vocabulary"],
    components: ["components", "vocabulary"],
    config: ["config", "components", "vocabulary"],
};

const floor = (file: string) => file.split("/")[0];

describe("architecture: the direction of imports", function () {
    // madge parses every program source with the TypeScript compiler: a few seconds.
    this.timeout(60_000);
    let graph: Record<string, string[]>;
    let cycles: string[][];

    before(async () => {
        const result = await madge(
            PROGRAM.map((p) => path.join(ROOT, p)),
            {
                baseDir: ROOT,
                fileExtensions: ["ts"],
                tsConfig: path.join(ROOT, "tsconfig.json"),
                detectiveOptions: { ts: { skipTypeImports: false } },
                excludeRegExp: [/node_modules/],
            },
        );
        graph = result.obj();
        cycles = result.circular();
    });

    it("reads every floor (a wrong path here would make the rules below vacuous)", () => {
        for (const folder of ["index.ts", ...Object.keys(MAY_IMPORT), "lib", "tools", "bench", "policy"]) {
            assert.ok(
                Object.keys(graph).some((file) => floor(file) === folder),
                `madge found no module under ${folder}`,
            );
        }
    });

    it("has no import cycle among program sources", () => {
        assert.deepStrictEqual(
            cycles.map((cycle) => cycle.join(" -> ")),
            [],
            "each cycle above must be broken: move what both sides need one floor down (vocabulary/)",
        );
    });

    for (const [from, allowed] of Object.entries(MAY_IMPORT)) {
        it(`${from}/ imports only from ${allowed.map((a) => `${a}/`).join(", ")}`, () => {
            const wrong = Object.entries(graph)
                .filter(([file]) => floor(file) === from)
                .flatMap(([file, deps]) => deps.filter((dep) => !allowed.includes(floor(dep))).map((dep) => `${file} -> ${dep}`));
            assert.deepStrictEqual(wrong, [], `${from}/ stands on ${allowed.join(", ")} only`);
        });
    }

    it("no program source imports test/", () => {
        const wrong = Object.entries(graph).flatMap(([file, deps]) =>
            deps.filter((dep) => floor(dep) === "test").map((dep) => `${file} -> ${dep}`),
        );
        assert.deepStrictEqual(wrong, [], "what product code needs from the mocks belongs outside test/ (lib/)");
    });

    it("every folder the program imports is copied into the local line's working copy (scripts/local-workdir.sh)", () => {
        // The local stack and the e2e suite run a copy of the program: a folder it imports but the
        // copy lacks fails every `pulumi up` there with "Cannot find module".
        const reached = new Set<string>();
        const visit = (file: string) => {
            if (reached.has(file)) return;
            reached.add(file);
            for (const dep of graph[file] ?? []) visit(dep);
        };
        visit("index.ts");
        const folders = [...new Set([...reached].filter((f) => f.includes("/")).map(floor))].sort();
        const script = fs.readFileSync(path.join(ROOT, "scripts", "local-workdir.sh"), "utf8");
        const copied = /^for sub in ([^;]+); do$/m.exec(script)?.[1].split(/\s+/) ?? [];
        assert.deepStrictEqual(
            folders.filter((folder) => !copied.includes(folder)),
            [],
            `add them to the "for sub in …" list of scripts/local-workdir.sh (it copies: ${copied.join(" ")})`,
        );
    });
});
