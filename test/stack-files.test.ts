/**
 * The stack files as data: each names its JSON Schema for editors, passes it, and holds only what
 * differs from the defaults the program applies.
 */
import * as assert from "assert";
import Ajv2020 from "ajv/dist/2020";
import * as fs from "fs";
import * as path from "path";
import { restatedDefaults } from "../tools/reference";
import { parseStackFile, REPO_ROOT, stackCases, stackFileConfig } from "./mocks";

/** The `esteira:` values of a stack file, keyed as the schema knows them (`services`, not `esteira:services`). */
function esteiraValues(stack: string): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(stackFileConfig(stack))
            .filter(([key]) => key.startsWith("esteira:"))
            .map(([key, value]) => [key.slice("esteira:".length), value]),
    );
}

describe("stack files as data", () => {
    const schemaFile = path.join(REPO_ROOT, "stacks", "stack.schema.json");
    const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
    // The schema's formats (dns-1123-label, stack, cidrv4, …) name a key's kind for editors and the
    // reference; the `pattern` beside each one is the rule. So Ajv reads them as annotations, which
    // holds only while every format comes with its pattern (checked below).
    const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(schema);

    it("every format in the JSON Schema comes with the pattern that checks it", () => {
        const unchecked: string[] = [];
        const walk = (node: unknown, at: string): void => {
            if (Array.isArray(node)) return node.forEach((child, i) => walk(child, `${at}/${i}`));
            if (node === null || typeof node !== "object") return;
            const record = node as Record<string, unknown>;
            if (typeof record.format === "string" && typeof record.pattern !== "string") unchecked.push(`${at}: format ${record.format}`);
            for (const [key, child] of Object.entries(record)) walk(child, `${at}/${key}`);
        };
        walk(schema, "#");
        assert.deepStrictEqual(
            unchecked,
            [],
            "a format with no pattern would check nothing: give its rule a pattern in vocabulary/rules.ts",
        );
    });

    for (const { stack, file } of stackCases()) {
        describe(file, () => {
            const text = fs.readFileSync(path.join(REPO_ROOT, file), "utf8");

            it("names the JSON Schema on its first line, for editors", () => {
                const relative = path.relative(path.dirname(path.join(REPO_ROOT, file)), schemaFile);
                assert.strictEqual(text.split("\n")[0], `# yaml-language-server: $schema=./${relative}`);
            });

            it("passes the JSON Schema", () => {
                assert.ok(validate(parseStackFile(text)), `${file}: ${JSON.stringify(validate.errors, null, 2)}`);
            });

            it("restates no default", () => {
                assert.deepStrictEqual(restatedDefaults(esteiraValues(stack)), [], `${file} restates defaults; remove these keys`);
            });

            it("commits no pin: pins are a deploy's runtime choice (a rollback, an approved release)", () => {
                assert.strictEqual(esteiraValues(stack).pins, undefined, `${file} must not commit esteira:pins`);
            });

            it("commits no DigitalOcean token next to cluster.tokenFromEnvironment", () => {
                const config = stackFileConfig(stack);
                const cluster = config["esteira:cluster"] as { tokenFromEnvironment?: boolean } | undefined;
                if (cluster?.tokenFromEnvironment) assert.strictEqual(config["digitalocean:token"], undefined);
            });
        });
    }

    it("stack files may share blocks through YAML merge keys, which the CLI expands", () => {
        const text = [
            "config:",
            "  esteira:services:",
            "    api: &api",
            "      image: ghcr.io/acme/api:1",
            "      env: { LOG_LEVEL: INFO }",
            "    worker:",
            "      <<: *api",
            "      port: 9000",
        ].join("\n");
        assert.deepStrictEqual(parseStackFile(text).config["esteira:services"].worker, {
            image: "ghcr.io/acme/api:1",
            env: { LOG_LEVEL: "INFO" },
            port: 9000,
        });
    });

    it("the JSON Schema refuses a misspelt esteira: key and a wrong type, and leaves other providers' keys alone", () => {
        const minimal = {
            "esteira:protect": false,
            "esteira:registry": { server: "r", username: "u" },
            "esteira:services": { api: { image: "x" } },
        };
        assert.ok(validate({ config: { ...minimal, "github:owner": "acme" } }), JSON.stringify(validate.errors));
        assert.ok(!validate({ config: { ...minimal, "esteira:servces": {} } }), "a misspelt key");
        assert.ok(!validate({ config: { ...minimal, "esteira:protect": "no" } }), "a wrong type");
    });

    it("restatedDefaults names a restated default by its key path, in services, modes and unions alike", () => {
        const values = {
            cluster: { mode: "digitalocean", ha: false, region: "nyc1" },
            database: { mode: "server", secretName: "db-credentials" },
            github: { repository: "shop", deployFrom: "all" },
            services: { api: { image: "x", port: 8000, service: { type: "ClusterIP", port: 8080 }, metrics: { path: "/metrics" } } },
        };
        assert.deepStrictEqual(restatedDefaults(values), [
            "cluster.ha = false",
            'database.secretName = "db-credentials"',
            'github.deployFrom = "all"',
            "services.api.port = 8000",
            'services.api.service.type = "ClusterIP"',
            'services.api.metrics.path = "/metrics"',
        ]);
    });
});
