/** What `npm run docs` generates from the program must match what is committed. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { CONFIGURATION, configurationDoc, documentBlocks, readBlock, schemaText, STACK_FILE_SCHEMA } from "../tools/docs";
import { REPO_ROOT } from "./mocks";

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
