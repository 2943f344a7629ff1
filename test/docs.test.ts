/** What `npm run docs` generates from the program must match what is committed. */
import * as assert from "assert";
import * as fs from "fs";
import { diagrams, lintIgnores, readBlock, README, readmeBlocks, schemaText, STACK_FILE_SCHEMA } from "../tools/docs";

const STALE = "stale: run `npm run docs` and commit the result";

describe("generated documentation", () => {
    const readme = fs.readFileSync(README, "utf8");

    it("the README's configuration reference is the schema's", async () => {
        const blocks = await readmeBlocks();
        for (const [name, body] of Object.entries(blocks).filter(([name]) => name.startsWith("reference:"))) {
            assert.strictEqual(readBlock(readme, name), body, `README.md block ${name} is ${STALE}`);
        }
    });

    it("the README's environment diagrams are drawn from the current program and stack files", async () => {
        assert.strictEqual(readBlock(readme, "diagrams"), await diagrams(), `README.md diagrams are ${STALE}`);
    });

    it("the README lists every linter finding lint/ignores.yaml accepts, with its reason", () => {
        assert.strictEqual(readBlock(readme, "lint-ignores"), lintIgnores(), `README.md lint-ignores block is ${STALE}`);
    });

    it("stacks/stack.schema.json is the schema's", () => {
        assert.strictEqual(fs.readFileSync(STACK_FILE_SCHEMA, "utf8"), schemaText(), `stacks/stack.schema.json is ${STALE}`);
    });
});
