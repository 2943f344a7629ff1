/**
 * The runtimes and SDKs are decisions written in one place each, and these tests keep them agreeing:
 * a Dependabot bump of an SDK that the local toolchain does not move with fails here, naming what
 * else to move (scripts/env.sh and the wrapper module under scripts/go/).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { REPO_ROOT } from "./mocks";

const read = (...parts: string[]) => fs.readFileSync(path.join(REPO_ROOT, ...parts), "utf8");
const json = (...parts: string[]) => JSON.parse(read(...parts));

/** `export NAME=value` lines of scripts/env.sh, the one source of the local line's versions. */
function envVersion(name: string): string {
    const match = new RegExp(`^export ${name}=(\\S+)$`, "m").exec(read("scripts", "env.sh"));
    assert.ok(match, `scripts/env.sh exports no ${name}`);
    return match[1];
}

const major = (version: string) => Number(/(\d+)/.exec(version)![1]);
const compare = (a: string, b: string) => {
    const [x, y] = [a, b].map((v) => v.split(".").map(Number));
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
};

const program = json("package.json");
const policy = json("policy", "package.json");
const sample = json("app", "package.json");

describe("versions: the SDKs agree with the local toolchain", () => {
    const sdk = program.dependencies["@pulumi/pulumi"];
    const cli = envVersion("ESTEIRA_PULUMI_VERSION");

    it("the program and the policy pack pin the same @pulumi/pulumi, exactly", () => {
        assert.match(sdk, /^\d+\.\d+\.\d+$/, `package.json: @pulumi/pulumi is "${sdk}"; pin an exact version`);
        assert.strictEqual(policy.dependencies["@pulumi/pulumi"], sdk, "policy/package.json: @pulumi/pulumi must equal the program's");
    });

    it("the Pulumi CLI the line builds is at least the SDK's release", () => {
        assert.ok(
            compare(cli, sdk) >= 0,
            `@pulumi/pulumi ${sdk} is newer than the CLI ${cli} (scripts/env.sh ESTEIRA_PULUMI_VERSION): ` +
                `move the CLI with it (scripts/env.sh and scripts/go/pulumi: go get github.com/pulumi/pulumi/pkg/v3@v${sdk} ` +
                `github.com/pulumi/pulumi/sdk/v3@v${sdk} && go mod tidy)`,
        );
    });

    it("the CLI wrapper module builds the CLI version scripts/env.sh names", () => {
        const mod = read("scripts", "go", "pulumi", "go.mod");
        assert.match(mod, new RegExp(`github\\.com/pulumi/pulumi/pkg/v3 v${cli.replace(/\./g, "\\.")}\\b`));
        assert.match(mod, new RegExp(`github\\.com/pulumi/pulumi/sdk/v3 v${cli.replace(/\./g, "\\.")}\\b`));
    });

    for (const [pkg, variable] of [
        ["@pulumi/kubernetes", "ESTEIRA_PROVIDER_KUBERNETES_VERSION"],
        ["@pulumi/docker-build", "ESTEIRA_PROVIDER_DOCKER_BUILD_VERSION"],
    ]) {
        it(`${pkg} asks for the provider plugin the line builds (${variable})`, () => {
            // The SDK names its plugin's version: a newer SDK would ask the engine for a plugin the line never built.
            assert.strictEqual(
                program.dependencies[pkg],
                envVersion(variable),
                `package.json: ${pkg} ${program.dependencies[pkg]} but scripts/env.sh ${variable}=${envVersion(variable)}; ` +
                    `move both, and the wrapper under scripts/go/, together`,
            );
        });
    }
});

describe("versions: Node.js 24 everywhere", () => {
    const node = envVersion("ESTEIRA_NODE_VERSION");

    it("the local line's Node.js is the 24 LTS line", () => {
        assert.strictEqual(major(node), 24);
    });

    it("every engines field asks for what @pulumi/pulumi requires (>= 22)", () => {
        const required = major(json("node_modules", "@pulumi", "pulumi", "package.json").engines.node);
        for (const [file, pkg] of [
            ["package.json", program],
            ["policy/package.json", policy],
            ["app/package.json", sample],
        ]) {
            assert.match(pkg.engines.node, /^>=\d+$/, `${file}: engines.node is "${pkg.engines.node}"`);
            assert.ok(
                major(pkg.engines.node) >= required,
                `${file}: engines.node ${pkg.engines.node} is below @pulumi/pulumi's >=${required}`,
            );
            assert.ok(
                major(pkg.engines.node) <= major(node),
                `${file}: engines.node ${pkg.engines.node} excludes the Node.js ${node} the line runs`,
            );
        }
    });

    it("@types/node follows the runtime's major", () => {
        for (const [file, pkg] of [
            ["package.json", program],
            ["policy/package.json", policy],
            ["app/package.json", sample],
        ]) {
            assert.strictEqual(major(pkg.devDependencies["@types/node"]), major(node), `${file}: @types/node`);
        }
    });

    it("every workflow and the setup action run Node.js 24", () => {
        const files = [
            ...fs.readdirSync(path.join(REPO_ROOT, ".github", "workflows")).map((f) => path.join(".github", "workflows", f)),
            path.join(".github", "actions", "setup", "action.yml"),
        ];
        let seen = 0;
        for (const file of files) {
            for (const match of read(file).matchAll(/node-version:\s*(\S+)/g)) {
                seen++;
                assert.strictEqual(major(match[1]), major(node), `${file}: node-version ${match[1]}`);
            }
        }
        assert.ok(seen > 0, "no node-version found in the workflows");
    });

    it("the setup action installs the CLI that scripts/env.sh pins", () => {
        const action = YAML.parse(read(".github", "actions", "setup", "action.yml"));
        const step = action.runs.steps.find((s: { id?: string }) => s.id === "pulumi");
        assert.ok(step, "the setup action has no step with id pulumi");
        assert.match(step.run, /ESTEIRA_PULUMI_VERSION/);
        assert.match(step.run, /scripts\/env\.sh/);
    });

    it("CI's syft and cosign are the releases the local line builds and proves (scripts/env.sh, scripts/go/<tool>)", () => {
        const action = YAML.parse(read(".github", "actions", "setup", "action.yml"));
        const input = (uses: RegExp, key: string) => action.runs.steps.find((s: { uses?: string }) => uses.test(s.uses ?? ""))?.with?.[key];
        for (const [tool, uses, key, module] of [
            ["SYFT", /download-syft@/, "syft-version", "github.com/anchore/syft"],
            ["COSIGN", /cosign-installer@/, "cosign-release", "github.com/sigstore/cosign/v2"],
        ] as const) {
            const version = envVersion(`ESTEIRA_${tool}_VERSION`);
            assert.strictEqual(input(uses, key), `v${version}`, `.github/actions/setup/action.yml: ${key}`);
            const wrapper = read("scripts", "go", tool.toLowerCase(), "go.mod");
            assert.match(
                wrapper,
                new RegExp(`${module.replace(/\./g, "\\.")} v${version.replace(/\./g, "\\.")}\\b`),
                `scripts/go/${tool.toLowerCase()}/go.mod`,
            );
        }
    });

    it("the sample's image defaults to the same Node.js major, pinned by digest where Dependabot's docker ecosystem reads it", () => {
        const dockerfile = read("app", "Dockerfile");
        const pinned = /^FROM node:(\d+)-[a-z-]+@sha256:[0-9a-f]{64} AS (\S+)$/m.exec(dockerfile);
        assert.ok(pinned, "app/Dockerfile: no `FROM node:<major>-…@sha256:<digest> AS <stage>` line (Dependabot reads FROM lines only)");
        assert.strictEqual(Number(pinned[1]), major(node));
        assert.match(
            dockerfile,
            new RegExp(`^ARG BASE_IMAGE=${pinned[2]}$`, "m"),
            "app/Dockerfile: BASE_IMAGE defaults to the pinned stage",
        );
        const dependabot = YAML.parse(read(".github", "dependabot.yml"));
        const docker = dependabot.updates.find((u: { "package-ecosystem": string }) => u["package-ecosystem"] === "docker");
        assert.ok(docker, ".github/dependabot.yml: no docker ecosystem");
        assert.deepStrictEqual([docker.directory ?? docker.directories].flat(), ["/app", "/images/backup"]);
    });

    it("the backups' image is pinned by digest where Dependabot's docker ecosystem reads it, and BASE_IMAGE defaults to that stage", () => {
        const dockerfile = read("images", "backup", "Dockerfile");
        const pinned = /^FROM debian:[a-z]+-slim@sha256:[0-9a-f]{64} AS (\S+)$/m.exec(dockerfile);
        assert.ok(pinned, "images/backup/Dockerfile: no `FROM debian:<suite>-slim@sha256:<digest> AS <stage>` line");
        assert.match(dockerfile, new RegExp(`^ARG BASE_IMAGE=${pinned[1]}$`, "m"));
    });
});
