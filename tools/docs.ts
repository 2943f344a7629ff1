/**
 * `npm run docs`: regenerates what is derived from the program — docs/configuration.md, generated
 * whole from the schema and tools/configuration.template.md; the environment diagrams in
 * docs/environments.md; the table of accepted linter findings (lint/ignores.yaml) in
 * docs/hardening.md; and the stack files' JSON Schema (stacks/stack.schema.json).
 * `npm test` (test/docs.test.ts) fails while any of them is stale.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { evaluated, stackCases, REPO_ROOT, PR_STACK } from "../lib/mocks";
import { environmentDiagram } from "./diagram";
import { referenceSections, stackFileSchema } from "./reference";

export const README = path.join(REPO_ROOT, "README.md");
export const DOCS_DIR = path.join(REPO_ROOT, "docs");
export const CONFIGURATION = path.join(DOCS_DIR, "configuration.md");
export const CONFIGURATION_TEMPLATE = path.join(REPO_ROOT, "tools", "configuration.template.md");
export const ENVIRONMENTS = path.join(DOCS_DIR, "environments.md");
export const HARDENING = path.join(DOCS_DIR, "hardening.md");
export const PERFORMANCE = path.join(DOCS_DIR, "performance.md");

export const USAGE = `usage: npm run -s docs [-- --diagram <stack> | --help]

  (no argument)       regenerate docs/configuration.md, the blocks in docs/environments.md and
                      docs/hardening.md, and stacks/stack.schema.json
  --diagram <stack>   print Pulumi.<stack>.yaml's diagram (Mermaid), writing nothing
  -h, --help          print this and write nothing`;
export const STACK_FILE_SCHEMA = path.join(REPO_ROOT, "stacks", "stack.schema.json");
export const LINT_IGNORES = path.join(REPO_ROOT, "lint", "ignores.yaml");

/** A block's opening marker names the command that writes it (`npm run docs`, or e.g. a benchmark). */
const begin = (name: string, command: string) => `<!-- generated:${name} (${command}) -->`;
const end = (name: string) => `<!-- end:${name} -->`;

/** The text between a block's markers in a document, or undefined when the markers are missing. */
export function readBlock(text: string, name: string, command = "npm run docs"): string | undefined {
    const start = text.indexOf(begin(name, command));
    const stop = text.indexOf(end(name));
    if (start < 0 || stop < start) return undefined;
    return text.slice(start + begin(name, command).length, stop).trim();
}

/** A document with each block's text replaced; every block's markers must already be there. */
export function writeBlocks(text: string, blocks: Record<string, string>, command = "npm run docs", file = "the document"): string {
    for (const [name, body] of Object.entries(blocks)) {
        if (readBlock(text, name, command) === undefined) throw new Error(`${file} has no ${begin(name, command)} … ${end(name)} markers`);
        const start = text.indexOf(begin(name, command)) + begin(name, command).length;
        text = `${text.slice(0, start)}\n${body}\n${text.slice(text.indexOf(end(name)))}`;
    }
    return text;
}

/** A stack file's environment as a Mermaid block, e.g. for a pull request's preview comment. */
export async function diagramOf(stack: string): Promise<string> {
    const { recorder } = await evaluated(stack);
    return `\`\`\`mermaid\n${environmentDiagram(recorder.resources, recorder.reads)}\n\`\`\``;
}

/** One diagram per environment, each drawn from an evaluation of its stack file under mocks. */
export async function diagrams(): Promise<string> {
    const parts: string[] = [];
    for (const { stack, file } of stackCases()) {
        const title = stack === PR_STACK ? `pr-<number> (\`${file}\`, drawn as ${PR_STACK})` : `${stack} (\`${file}\`)`;
        parts.push(`**${title}**\n\n${await diagramOf(stack)}`);
    }
    return parts.join("\n\n");
}

/** The findings scripts/lint-manifests.sh accepts, one row each, with the stacks and the reason. */
export function lintIgnores(): string {
    const ignores = parseYaml(fs.readFileSync(LINT_IGNORES, "utf8")) ?? {};
    const rows = (["kube-score", "kubeconform"] as const).flatMap((tool) =>
        (ignores[tool] ?? []).map(
            (entry: { test?: string; kind?: string; stacks?: string[]; reason: string }) =>
                `| ${tool} | \`${entry.test ?? entry.kind}\` | ${entry.stacks ? entry.stacks.map((s) => `\`${s}\``).join(", ") : "all"} | ${entry.reason.trim().replace(/\|/g, "\\|")} |`,
        ),
    );
    return ["| linter | check | stacks | why it is accepted |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The line docs/configuration.md starts with: it is generated whole, never edited. */
export const GENERATED_NOTE =
    "<!-- Generated whole by `npm run docs` from vocabulary/schema.ts and tools/configuration.template.md: edit those, never this file. -->";

/**
 * docs/configuration.md: the template's prose with each `<!-- reference:<key> -->` line replaced by
 * that key's tables. A placeholder with no section, or a section with no placeholder, is an error,
 * so a key added to the schema cannot go undocumented.
 */
export function configurationDoc(template = fs.readFileSync(CONFIGURATION_TEMPLATE, "utf8")): string {
    const sections = referenceSections();
    const placed = new Set<string>();
    const body = template.replace(/^<!-- reference:(\w+) -->$/gm, (_line, key: string) => {
        if (!(key in sections))
            throw new Error(`tools/configuration.template.md: <!-- reference:${key} --> names no section of the schema`);
        placed.add(key);
        return sections[key];
    });
    const missing = Object.keys(sections).filter((key) => !placed.has(key));
    if (missing.length > 0)
        throw new Error(`tools/configuration.template.md places no ${missing.map((key) => `<!-- reference:${key} -->`).join(", ")}`);
    return `${GENERATED_NOTE}\n\n${body.trimEnd()}\n`;
}

/** The generated blocks inside hand-written documents, by file, then by block name. */
export async function documentBlocks(): Promise<Map<string, Record<string, string>>> {
    return new Map<string, Record<string, string>>([
        [ENVIRONMENTS, { diagrams: await diagrams() }],
        [HARDENING, { "lint-ignores": lintIgnores() }],
    ]);
}

export function schemaText(): string {
    return `${JSON.stringify(stackFileSchema(), null, 2)}\n`;
}

async function main(): Promise<void> {
    const written = [CONFIGURATION, STACK_FILE_SCHEMA];
    fs.writeFileSync(CONFIGURATION, configurationDoc());
    for (const [file, blocks] of await documentBlocks()) {
        fs.writeFileSync(file, writeBlocks(fs.readFileSync(file, "utf8"), blocks, "npm run docs", path.relative(REPO_ROOT, file)));
        written.push(file);
    }
    fs.writeFileSync(STACK_FILE_SCHEMA, schemaText());
    console.log(`wrote ${written.map((file) => path.relative(REPO_ROOT, file)).join(", ")}`);
}

/** What the command line asks for; anything it does not know is a usage error, never a write. */
export function parseArgs(
    argv: string[],
): { action: "help" } | { action: "diagram"; stack: string } | { action: "write" } | { action: "error"; message: string } {
    if (argv.length === 0) return { action: "write" };
    if (argv.includes("--help") || argv.includes("-h")) return { action: "help" };
    if (argv[0] === "--diagram" && argv.length === 2) return { action: "diagram", stack: argv[1] };
    return { action: "error", message: `npm run docs: unexpected arguments: ${argv.join(" ")}` };
}

if (require.main === module) {
    const args = parseArgs(process.argv.slice(2));
    if (args.action === "help") {
        console.log(USAGE);
    } else if (args.action === "error") {
        console.error(`${args.message}\n${USAGE}`);
        process.exitCode = 2;
    } else {
        const run = args.action === "diagram" ? diagramOf(args.stack).then((block) => console.log(block)) : main();
        run.catch((err) => {
            console.error(err);
            process.exit(1);
        });
    }
}
