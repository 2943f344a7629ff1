import * as assert from "assert";
import { volumeName, writablePathsProblems } from "../../../vocabulary/writable-paths";

describe("writable paths (part)", () => {
    it("names each volume after its path, as a DNS label", () => {
        assert.strictEqual(volumeName("/var/cache/nginx"), "var-cache-nginx");
        assert.strictEqual(volumeName("/tmp"), "tmp");
        assert.strictEqual(volumeName("/Models_v2"), "models-v2");
        assert.strictEqual(volumeName(`/${"a".repeat(70)}`).length, 63);
    });

    it("accepts absolute, normalised paths and names each problem once", () => {
        assert.deepStrictEqual(writablePathsProblems({ "/data": { sizeMiB: 1 }, "/var/lib/app": { sizeMiB: 1 } } as any), []);
        assert.deepStrictEqual(writablePathsProblems({ "/": {}, "/a/../b": {}, data: {}, "/x/": {} } as any), [
            `"/" must be an absolute path such as /var/cache/nginx (no trailing '/', '.' or '..')`,
            `"/a/../b" must be an absolute path such as /var/cache/nginx (no trailing '/', '.' or '..')`,
            `"data" must be an absolute path such as /var/cache/nginx (no trailing '/', '.' or '..')`,
            `"/x/" must be an absolute path such as /var/cache/nginx (no trailing '/', '.' or '..')`,
        ]);
        assert.deepStrictEqual(writablePathsProblems({ "/a/b": {}, "/a-b": {} } as any), [
            `"/a/b" and "/a-b" would share the volume name a-b; rename one`,
        ]);
    });
});
