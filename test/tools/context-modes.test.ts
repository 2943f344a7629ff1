import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { normalizeContextModes } from "../../tools/context-modes";

describe("normalizeContextModes (tools/context-modes.ts)", () => {
    it("sets files to 0644/0755 by their executable bit and directories to 0755, skipping node_modules", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-context-"));
        try {
            fs.mkdirSync(path.join(dir, "src"), { mode: 0o775 });
            fs.mkdirSync(path.join(dir, "node_modules"), { mode: 0o775 });
            fs.writeFileSync(path.join(dir, "src", "index.ts"), "", { mode: 0o664 });
            fs.writeFileSync(path.join(dir, "run.sh"), "", { mode: 0o775 });
            fs.writeFileSync(path.join(dir, "node_modules", "x.js"), "", { mode: 0o666 });
            fs.chmodSync(path.join(dir, "src", "index.ts"), 0o664);
            fs.chmodSync(path.join(dir, "run.sh"), 0o775);
            fs.chmodSync(path.join(dir, "node_modules", "x.js"), 0o666);
            normalizeContextModes(dir);
            const mode = (p: string) => fs.statSync(path.join(dir, p)).mode & 0o777;
            assert.strictEqual(mode("src"), 0o755);
            assert.strictEqual(mode("src/index.ts"), 0o644);
            assert.strictEqual(mode("run.sh"), 0o755);
            assert.strictEqual(mode("node_modules/x.js"), 0o666, "node_modules is never sent as context and is left alone");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
