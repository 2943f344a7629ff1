/**
 * Naming rules and invariants, written once: the config schema reports them per key, and the
 * components enforce the invariants themselves, so a component is safe outside this program too.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseFamiliarName } from "@swimlane/docker-reference";
import { z } from "zod";

// Kubernetes naming rules, written out so messages can say what is allowed.
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Another stack: a bare stack name, or <organization>/<project>/<stack>.
export const STACK_REFERENCE = /^([A-Za-z0-9._-]+\/){0,2}[A-Za-z0-9._-]+$/;

export const dns1123Label = (what: string) =>
    z
        .string()
        .max(63, { error: `${what} must be at most 63 characters` })
        .regex(DNS1123_LABEL, {
            error: `${what} must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`,
        })
        .meta({ format: "dns-1123-label" });

export const dns1035Label = (what: string) =>
    z
        .string()
        .max(63, { error: `${what} must be at most 63 characters` })
        .regex(DNS1035_LABEL, {
            error: `${what} must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter`,
        })
        .meta({ format: "dns-1035-label" });

/** A string that must not be empty (messages say "must not be empty"). */
export const nonEmpty = () => z.string().min(1);

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
export const portNumber = int(1, 65535);
export const percent = int(1, 100);

export const stackName = (error = "must be a stack name or <organization>/<project>/<stack>") =>
    z.string().regex(STACK_REFERENCE, { error }).meta({ format: "stack" });

// DigitalOcean slugs, written out so a value that cannot be right (`latest`, `1.33`, `new-york-1`)
// fails here rather than at the API.
export const REGION_SLUG = /^[a-z]{3}[0-9]$/;
export const DOKS_VERSION_SLUG = /^[0-9]+\.[0-9]+\.[0-9]+-do\.[0-9]+$/;
export const SIZE_SLUG = /^[a-z][a-z0-9_]*(-[a-z0-9_]+)+$/;
export const POSTGRES_MAJOR = /^[0-9]+$/;

export const regionSlug = (what = "region") =>
    z.string().regex(REGION_SLUG, {
        error: `${what} must be a DigitalOcean region slug such as nyc1, ams3 or sgp1 (\`doctl compute region list\`)`,
    });

export const sizeSlug = (example: string, list: string) =>
    z.string().regex(SIZE_SLUG, { error: `size must be a DigitalOcean size slug such as ${example} (\`${list}\`)` });

/** What is wrong with an image reference, or nothing: the grammar Docker and Kubernetes parse. */
export function imageReferenceProblem(ref: string): string | undefined {
    try {
        parseFamiliarName(ref);
        return undefined;
    } catch (err) {
        return `is not an image reference (${(err as Error).message}): write <registry>/<repository>[:<tag>][@sha256:<digest>] in lower case, e.g. ghcr.io/acme/api:1.4.2`;
    }
}

/** The registry host of an image reference or repository (`nginx` is Docker Hub's `docker.io`). */
export function imageHost(ref: string): string | undefined {
    try {
        return parseFamiliarName(ref).domain;
    } catch {
        return undefined;
    }
}

/** A registry server as a host: no scheme or path, Docker Hub's aliases as `docker.io`. */
export function registryHost(server: string): string {
    const host = server.replace(/^[a-z]+:\/\//, "").split("/")[0];
    return ["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"].includes(host) ? "docker.io" : host;
}

/** `<organization>/<project>/<stack>` of a stack as config names it (a bare name is this project's). */
export function fullStackName(stack: string, here: { organization?: string; project: string }): string {
    const parts = stack.split("/");
    const [organization, project, name] =
        parts.length === 3 ? parts : parts.length === 2 ? [here.organization, ...parts] : [here.organization, here.project, stack];
    return `${organization ?? "<organization>"}/${project}/${name}`;
}

/** `<min> (<n>) must be <= <max> (<m>)`, or nothing when the range holds. */
export function rangeProblem(minName: string, min: number, maxName: string, max: number): string | undefined {
    return min > max ? `${minName} (${min}) must be <= ${maxName} (${max})` : undefined;
}

/** A fixed replica count and an autoscaler cannot both own the Deployment's replicas. */
export function replicasProblem(replicas: number | undefined, autoscaling: unknown): string | undefined {
    return replicas !== undefined && autoscaling
        ? `replicas (${replicas}) cannot be set together with autoscaling: the HorizontalPodAutoscaler owns the replica count; remove replicas or autoscaling`
        : undefined;
}

/** A persistent writable path (a ReadWriteOnce volume) serves one pod at a time: one replica, no autoscaler. */
export function singlePodProblem(replicas: number | undefined, autoscaling: unknown): string | undefined {
    if (autoscaling) {
        return "a persistent writable path (ReadWriteOnce) serves one pod at a time, so it cannot be autoscaled: remove autoscaling, or make the path an emptyDir (persistent: false)";
    }
    return replicas !== undefined && replicas > 1
        ? `a persistent writable path (ReadWriteOnce) serves one pod at a time; received replicas ${replicas}: set replicas to 1, or make the path an emptyDir (persistent: false)`
        : undefined;
}

const CRON_MACRO = /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/;
const CRON_FIELD = /^[0-9A-Za-z*?/,-]+$/;

/** A CronJob schedule: five fields (minute hour day-of-month month day-of-week) or a macro such as @daily. */
export function isCronSchedule(schedule: string): boolean {
    const fields = schedule.trim().split(/\s+/);
    return CRON_MACRO.test(schedule.trim()) || (fields.length === 5 && fields.every((field) => CRON_FIELD.test(field)));
}

/** A container's compute quantities, in the units the stack files give them. */
export interface Compute {
    cpuMillicores: number;
    memoryMiB: number;
    ephemeralStorageMiB: number;
}

/**
 * One message per quantity whose request exceeds its limit: the limit set, or when `defaults` are
 * given and no limit is set, the default limit the component applies.
 */
export function requestProblems(
    requests: Partial<Compute> | undefined,
    limits: Partial<Compute> | undefined,
    defaults?: Compute,
): string[] {
    return (["cpuMillicores", "memoryMiB", "ephemeralStorageMiB"] as const).flatMap((field) => {
        const request = requests?.[field];
        const limit = limits?.[field];
        if (request !== undefined && limit !== undefined && request > limit) {
            return [`requests.${field} (${request}) must be <= limits.${field} (${limit})`];
        }
        if (request !== undefined && limit === undefined && defaults && request > defaults[field]) {
            return [`requests.${field} (${request}) must be <= limits.${field} (${defaults[field]}, the default); set limits.${field} too`];
        }
        return [];
    });
}

/** Throws when a component is given arguments that break an invariant, naming the component and the key. */
export function invariant(owner: pulumi.Resource, component: string, key: string, problem: string | undefined): void {
    if (problem) throw new pulumi.ResourceError(`${component}: ${key}: ${problem}`, owner);
}
