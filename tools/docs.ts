/**
 * `npm run docs`: regenerates what is derived from the program — the README's configuration
 * reference and environment diagrams, and the stack files' JSON Schema (stacks/stack.schema.json) —
 * and the README's table of accepted linter findings (lint/ignores.yaml).
 * `npm test` (test/docs.test.ts) fails while any of them is stale.
 *
 *   npm run -s docs                       regenerate
 *   npm run -s docs -- --diagram <stack>  print Pulumi.<stack>.yaml's diagram (Mermaid), writing nothing
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { evaluated, stackCases, REPO_ROOT, PR_STACK } from "../lib/mocks";
import { environmentDiagram } from "./diagram";
import { referenceSections, stackFileSchema } from "./reference";

export const README = path.join(REPO_ROOT, "README.md");
export const STACK_FILE_SCHEMA = path.join(REPO_ROOT, "stacks", "stack.schema.json");
export const LINT_IGNORES = path.join(REPO_ROOT, "lint", "ignores.yaml");

/** A block's opening marker names the command that writes it (`npm run docs`, or e.g. a benchmark). */
const begin = (name: string, command: string) => `<!-- generated:${name} (${command}) -->`;
const end = (name: string) => `<!-- end:${name} -->`;

/** The text between a block's markers in the README, or undefined when the markers are missing. */
export function readBlock(text: string, name: string, command = "npm run docs"): string | undefined {
    const start = text.indexOf(begin(name, command));
    const stop = text.indexOf(end(name));
    if (start < 0 || stop < start) return undefined;
    return text.slice(start + begin(name, command).length, stop).trim();
}

/** The README with each block's text replaced; every block's markers must already be there. */
export function writeBlocks(text: string, blocks: Record<string, string>, command = "npm run docs"): string {
    for (const [name, body] of Object.entries(blocks)) {
        if (readBlock(text, name, command) === undefined)
            throw new Error(`README.md has no ${begin(name, command)} … ${end(name)} markers`);
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

/** Every generated README block, by name. */
export async function readmeBlocks(): Promise<Record<string, string>> {
    const blocks: Record<string, string> = {};
    for (const [key, body] of Object.entries(referenceSections())) blocks[`reference:${key}`] = body;
    blocks.diagrams = await diagrams();
    blocks["lint-ignores"] = lintIgnores();
    return blocks;
}

export function schemaText(): string {
    return `${JSON.stringify(stackFileSchema(), null, 2)}\n`;
}

async function main(): Promise<void> {
    fs.writeFileSync(README, writeBlocks(fs.readFileSync(README, "utf8"), await readmeBlocks()));
    fs.writeFileSync(STACK_FILE_SCHEMA, schemaText());
    console.log(`wrote ${path.relative(REPO_ROOT, README)} and ${path.relative(REPO_ROOT, STACK_FILE_SCHEMA)}`);
}

if (require.main === module) {
    // `--diagram <stack>` prints that stack file's diagram instead of writing anything.
    const [flag, stack] = process.argv.slice(2);
    const run = flag === "--diagram" && stack ? diagramOf(stack).then((block) => console.log(block)) : main();
    run.catch((err) => {
        console.error(err);
        process.exit(1);
    });
}
