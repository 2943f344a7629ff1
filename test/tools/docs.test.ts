/** `npm run docs`'s command line: help and mistakes write nothing; only no argument regenerates. */
import * as assert from "assert";
import { parseArgs } from "../../tools/docs";

describe("npm run docs: its arguments", () => {
    it("no argument regenerates the docs", () => {
        assert.deepStrictEqual(parseArgs([]), { action: "write" });
    });

    it("--help and -h print the usage and write nothing, wherever they are", () => {
        for (const argv of [["--help"], ["-h"], ["--diagram", "dev", "--help"]])
            assert.deepStrictEqual(parseArgs(argv), { action: "help" });
    });

    it("--diagram <stack> prints one diagram and writes nothing", () => {
        assert.deepStrictEqual(parseArgs(["--diagram", "dev"]), { action: "diagram", stack: "dev" });
    });

    it("anything else is a usage error, never a write", () => {
        assert.deepStrictEqual(parseArgs(["--diagram"]), { action: "error", message: "npm run docs: unexpected arguments: --diagram" });
        assert.deepStrictEqual(parseArgs(["readme"]), { action: "error", message: "npm run docs: unexpected arguments: readme" });
    });
});
