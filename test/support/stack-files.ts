/** The repository's real stack files, read as the tests use them (never copies). */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

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

/** Each stack file, and the PR template as {@link PR_STACK}: what `npm test` evaluates. */
export function stackCases(): { stack: string; file: string }[] {
    return [...stackFiles().map((stack) => ({ stack, file: `Pulumi.${stack}.yaml` })), { stack: PR_STACK, file: PR_TEMPLATE }];
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

/** The `config:` map of a stack's file (the PR template for {@link PR_STACK}), keys as written (`esteira:services`, …). */
export function stackFileConfig(stack: string): Record<string, unknown> {
    const file = stack === PR_STACK ? PR_TEMPLATE : `Pulumi.${stack}.yaml`;
    return parseStackFile(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"))?.config ?? {};
}
