/**
 * The stack as the parser reads it (RawConfig), and the few ways of walking it and naming its
 * parts that both the parse (parse.ts) and the cross-key rules (cross-key-rules.ts) use.
 */
import * as pulumi from "@pulumi/pulumi";
import { JobSettings, SECRET_MAPS, SecretMapName, SecretName, ServiceSettings, StackSettings, WorkerSettings } from "../vocabulary/schema";

type Secret = pulumi.Output<string>;

/** A secret map as the loader reads it: its shape with each value a Pulumi secret (a non-string is `null`). */
export interface RawSecretMap {
    /** The stack file holds the values in plain text (not set with `--secret`). */
    readonly plain: boolean;
    readonly values: unknown;
}

/** What the parser needs from the stack: plain values and which secret keys are set. */
export interface RawConfig {
    readonly stack: string;
    readonly project: string;
    /** Plain `esteira:` values, already parsed from their YAML/JSON form. */
    readonly values: Readonly<Record<string, unknown>>;
    /** Secret values that are set, by name. */
    readonly secrets: Readonly<Partial<Record<SecretName, Secret>>>;
    /**
     * Secret maps that are set, by name: their shape with each value a Pulumi secret (a non-string
     * value is `null`), and whether the stack file holds them in plain text.
     */
    readonly secretMaps?: Partial<Record<SecretMapName, RawSecretMap>>;
    /**
     * The full config keys Pulumi holds as secrets (set with `--secret`): a plain key among them is
     * refused, and so is a secret key missing from them (set in plain text).
     */
    readonly secretKeys: readonly string[];
    /** The commit being deployed, when known; tags built images. */
    readonly commitSha?: string;
    /** The organization the stack belongs to (`pulumi.getOrganization()`), for full stack names. */
    readonly organization?: string;
    /** `github:owner` (or GITHUB_OWNER), which owns `esteira:github.repository`. */
    readonly githubOwner?: string;
    /**
     * The names of what holds data (namespaces, database cluster, database, user, GitHub environment)
     * as this stack exported them last time (its `statefulNames` output); none on a first deployment.
     */
    readonly previousStatefulNames?: Readonly<Record<string, string>>;
    /**
     * How a workload's `env` value is written in the stack file's text (`Pulumi.<stack>.yaml`), when
     * the program can read it: the CLI hands over parsed values (YAML's `1.0` arrives as 1, `0123` as
     * 83), and only the text shows a number that changed on the way.
     */
    readonly envWrittenAs?: (kind: string, name: string, variable: string) => string | undefined;
    /** Whether a path (relative to the project) exists; given, build contexts and Dockerfiles are checked. */
    readonly pathExists?: (path: string) => boolean;
}

/** The three kinds of workload, by their key in the stack file. */
export const WORKLOAD_KINDS = ["services", "workers", "jobs"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export type AnyWorkloadSettings = ServiceSettings | WorkerSettings | JobSettings;

/** Every workload of a stack as `[kind, name, settings]`, services first. */
export function workloadsOf(plain: StackSettings): [WorkloadKind, string, AnyWorkloadSettings][] {
    return WORKLOAD_KINDS.flatMap((kind) =>
        Object.entries<AnyWorkloadSettings>(plain[kind] ?? {}).map(([name, settings]): [WorkloadKind, string, AnyWorkloadSettings] => [
            kind,
            name,
            settings,
        ]),
    );
}

/** How a message names one workload of each kind. */
export const KIND_NOUN: Record<WorkloadKind, string> = { services: "service", workers: "worker", jobs: "job" };

/** Where a message points a user to set one value of a secret map. */
export function setSecretValue(stack: string, name: SecretMapName, path: string): string {
    return `\`pulumi config set --secret --path '${SECRET_MAPS[name].key}.${path}' <value> -s ${stack}\``;
}

/** Namespaces every cluster has from the start: no stack ever creates them. */
export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
