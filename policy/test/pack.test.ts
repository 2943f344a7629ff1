import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ENVIRONMENT_KINDS } from "../src/environment";
import { policies } from "../src/policies";

const root = path.join(__dirname, "..");

describe("the pack", () => {
    it("names each policy once and sets its enforcement level and reason explicitly", () => {
        assert.strictEqual(new Set(policies.map((p) => p.name)).size, policies.length);
        for (const policy of policies) {
            assert.ok(policy.enforcementLevel === "mandatory" || policy.enforcementLevel === "advisory", policy.name);
            assert.match(policy.description, /^[A-Z].*\.$/, policy.name);
        }
    });

    // The CLI ignores config for a policy name it does not know, so a typo would silently drop a
    // prod check: every file must set exactly the policies that take environmentKind.
    for (const kind of ENVIRONMENT_KINDS) {
        it(`config/${kind}.json sets environmentKind "${kind}" on every policy that takes it, and nothing else`, () => {
            const config = JSON.parse(fs.readFileSync(path.join(root, "config", `${kind}.json`), "utf8"));
            const takingKind = policies.filter((p) => p.configSchema?.required?.includes("environmentKind")).map((p) => p.name);
            assert.deepStrictEqual(Object.keys(config).sort(), [...takingKind].sort());
            for (const name of takingKind) assert.deepStrictEqual(config[name], { environmentKind: kind }, name);
        });
    }

    it("README.md has a row for every policy with its enforcement level", () => {
        const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
        for (const policy of policies) {
            assert.match(readme, new RegExp(`^\\| \`${policy.name}\` \\| ${policy.enforcementLevel} \\|`, "m"), policy.name);
        }
    });
});
