/** The repository's real stack files, read as the tests use them (never copies). */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "..");

/** The stacks that have a file in the repository (Pulumi.<stack>.yaml). */
export function stackFiles(): string[] {
    return fs
        .readdirSync(REPO_ROOT)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((stack): stack is string => stack !== undefined)
        .sort();
}

/** The stack the PR template is evaluated as, standing for every `pr-<number>` stack. */
export const PR_STACK = "pr-42";
export const PR_TEMPLATE = path.join("stacks", "pr.template.yaml");
/** The local PR template (over the `local` base), evaluated as this stack. */
export const LOCAL_PR_STACK = "pr-7";
export const LOCAL_PR_TEMPLATE = path.join("stacks", "pr.local.template.yaml");
const TEMPLATES: Record<string, string> = { [PR_STACK]: PR_TEMPLATE, [LOCAL_PR_STACK]: LOCAL_PR_TEMPLATE };

/** Each stack file, and each PR template as the stack it stands for: what `npm test` evaluates. */
export function stackCases(): { stack: string; file: string }[] {
    return [
        ...stackFiles().map((stack) => ({ stack, file: `Pulumi.${stack}.yaml` })),
        ...Object.entries(TEMPLATES).map(([stack, file]) => ({ stack, file })),
    ];
}

export interface ProjectConfigKey {
    type: string;
    secret?: boolean;
    description?: string;
    default?: unknown;
}

/**
 * A Pulumi YAML file as the CLI reads it: merge keys (`<<: *anchor`) included, which YAML 1.2
 * dropped but the CLI's parser still expands.
 */
export function parseStackFile(text: string): any {
    return parseYaml(text, { merge: true });
}

export function projectFile(): { name: string; config: Record<string, ProjectConfigKey> } {
    return parseStackFile(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8"));
}

/** The `config:` map of a stack's file (a PR template for the stack it stands for), keys as written (`esteira:services`, …). */
export function stackFileConfig(stack: string): Record<string, unknown> {
    const file = TEMPLATES[stack] ?? `Pulumi.${stack}.yaml`;
    return parseStackFile(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"))?.config ?? {};
}
