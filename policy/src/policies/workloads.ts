/** Policies on every container of every pod template: probes, resources, hardening, image pinning. */
import { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { Known, UNKNOWN, read, readArray } from "../known";
import { ContainerRef, PodSpec, containersOf, podSpecOf } from "../pod-spec";
import { resourcePolicy } from "../resource-policy";

type ContainerCheck = (
    ref: ContainerRef,
    pod: PodSpec & { spec: Record<string, any> },
    args: ResourceValidationArgs,
    report: ReportViolation,
) => void;

/** A policy that runs `check` on each container (init containers included) of any pod template. */
function containerPolicy(
    policy: Omit<ResourceValidationPolicy, "validateResource"> & { longRunningOnly?: boolean; check: ContainerCheck },
): ResourceValidationPolicy {
    const { longRunningOnly, check, ...rest } = policy;
    return {
        ...rest,
        validateResource: (args, report) => {
            const pod = podSpecOf(args.type, args.props);
            if (pod === undefined) return args.notApplicable("carries no pod template");
            if (longRunningOnly && !pod.longRunning) return args.notApplicable(`a ${pod.kind} runs to completion`);
            const spec = pod.spec;
            if (spec === UNKNOWN) return;
            for (const ref of containersOf(spec)) check(ref, { ...pod, spec }, args, report);
        },
    };
}

const isSet = (value: Known<unknown>) => value === UNKNOWN || (value !== undefined && value !== null && value !== "");

export const workloadProbes = containerPolicy({
    name: "workload-probes",
    description:
        "Every long-running container has a readiness and a liveness probe: without them a pod that cannot serve still gets traffic, a hung one is never restarted, and a bad rollout looks healthy.",
    enforcementLevel: "mandatory",
    // Jobs and CronJobs run to completion; Kubernetes allows no readiness or liveness probe on a plain
    // init container either, only on a sidecar (restartPolicy: Always) that runs for the pod's life.
    longRunningOnly: true,
    check: (ref, _pod, _args, report) => {
        if (ref.init && !ref.sidecar) return;
        for (const probe of ["readinessProbe", "livenessProbe"]) {
            if (!isSet(read(() => ref.container[probe]))) report(`${ref.label} has no ${probe}`);
        }
    },
});

/** Requests and limits of the given resource names, one violation per container listing what is missing. */
function resourcesCheck(names: string[]): ContainerCheck {
    return (ref, _pod, _args, report) => {
        const missing: string[] = [];
        for (const kind of ["requests", "limits"]) {
            for (const name of names) {
                if (!isSet(read(() => ref.container.resources?.[kind]?.[name]))) missing.push(`resources.${kind}.${name}`);
            }
        }
        if (missing.length > 0) report(`${ref.label} sets no ${missing.join(", ")}`);
    };
}

export const workloadResources = containerPolicy({
    name: "workload-resources",
    description:
        "Every container requests and limits CPU and memory: the scheduler places pods by their requests, and a container without limits can starve its neighbours on the node or be the first one evicted.",
    enforcementLevel: "mandatory",
    check: resourcesCheck(["cpu", "memory"]),
});

export const workloadEphemeralStorage = containerPolicy({
    name: "workload-ephemeral-storage",
    description:
        "Every container requests and limits ephemeral-storage, so a runaway log or /tmp cannot fill the node's disk and take its neighbours' pods with it.",
    // Mandatory since esteira sets both on every container it creates (defaults, overridable per service).
    enforcementLevel: "mandatory",
    check: resourcesCheck(["ephemeral-storage"]),
});

export const workloadNonRoot = containerPolicy({
    name: "workload-non-root",
    description:
        "Every container runs as a non-root user (runAsNonRoot: true, runAsUser not 0): a process that breaks out of a root container is root on the node.",
    enforcementLevel: "mandatory",
    check: (ref, pod, _args, report) => {
        // A container's securityContext overrides the pod's, field by field.
        const effective = (field: string) => {
            const own = read(() => ref.container.securityContext?.[field]);
            return own !== undefined && own !== null ? own : read(() => pod.spec.securityContext?.[field]);
        };
        const nonRoot = effective("runAsNonRoot");
        if (nonRoot !== UNKNOWN && nonRoot !== true) {
            report(`${ref.label} may run as root: runAsNonRoot is not true in its securityContext or the pod's`);
        }
        if (effective("runAsUser") === 0) report(`${ref.label} runs as root: runAsUser is 0`);
    },
});

export const workloadReadOnlyRootFilesystem = containerPolicy({
    name: "workload-read-only-root-filesystem",
    description:
        "Every container has a read-only root filesystem (mount an emptyDir where it must write): an intruder cannot drop tools or alter the image's binaries.",
    enforcementLevel: "mandatory",
    check: (ref, _pod, _args, report) => {
        const readOnly = read(() => ref.container.securityContext?.readOnlyRootFilesystem);
        if (readOnly !== UNKNOWN && readOnly !== true) {
            report(`${ref.label} has a writable root filesystem: securityContext.readOnlyRootFilesystem is not true`);
        }
    },
});

export const workloadNoAddedCapabilities = containerPolicy({
    name: "workload-no-added-capabilities",
    description:
        "No container is privileged or adds Linux capabilities beyond those configured as allowed: each added capability is kernel attack surface a web service does not need.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedCapabilities: {
                type: "array",
                items: { type: "string" },
                default: [],
                description: "Capabilities a reviewer accepted, e.g. NET_BIND_SERVICE.",
            },
        },
    },
    check: (ref, _pod, args, report) => {
        const allowed = new Set(args.getConfig<{ allowedCapabilities?: string[] }>().allowedCapabilities ?? []);
        if (read(() => ref.container.securityContext?.privileged) === true) report(`${ref.label} is privileged`);
        const added = readArray(() => ref.container.securityContext?.capabilities?.add);
        if (added === UNKNOWN) return;
        const extra = added.filter((capability) => !allowed.has(String(capability).replace(/^CAP_/, "")));
        if (extra.length > 0) report(`${ref.label} adds capabilities ${extra.join(", ")}`);
    },
});

// <repository>@sha256:<digest>, optionally with a tag before the digest (which the runtime ignores).
const DIGEST_PINNED = /^[^\s@]+@sha256:[0-9a-f]{64}$/;

export const imagePinnedByDigest = containerPolicy({
    name: "image-pinned-by-digest",
    description:
        "Every container image is pinned by digest (<repository>@sha256:<digest>): a tag can be moved to other bytes, so what runs would no longer be what was built, tested and promoted.",
    enforcementLevel: "mandatory",
    check: (ref, _pod, _args, report) => {
        const image = read(() => ref.container.image);
        // An image built in this update has no digest before `up`; the check runs again there.
        if (image === UNKNOWN) return;
        if (typeof image !== "string" || !DIGEST_PINNED.test(image)) {
            report(`${ref.label} image ${JSON.stringify(image ?? null)} is not pinned by digest (<repository>@sha256:<digest>)`);
        }
    },
});

function isZero(value: unknown): boolean {
    return value === 0 || value === "0" || value === "0%";
}

export const deploymentMaxUnavailableZero = resourcePolicy({
    name: "deployment-max-unavailable-zero",
    description:
        "Deployments roll out with maxUnavailable: 0, so a new version whose pods never become ready leaves every old pod serving instead of taking capacity away.",
    enforcementLevel: "mandatory",
    appliesTo: /^kubernetes:(?:apps|extensions)\/[^:]+:Deployment$/,
    otherwise: "not a Deployment",
    validate: (args, report) => {
        const strategyType = read(() => args.props.spec?.strategy?.type);
        // A single-instance database whose data lives in its pod (a pull request's own PostgreSQL)
        // must stop before its replacement starts: two at once would be two databases.
        const singleDatabase =
            read(() => args.props.metadata?.labels?.["app.kubernetes.io/component"]) === "database" &&
            read(() => args.props.spec?.replicas) === 1;
        if (strategyType === "Recreate" && singleDatabase) return;
        if (strategyType === "Recreate") {
            report("strategy.type is Recreate: every old pod stops before a new one is ready");
            return;
        }
        const maxUnavailable = read(() => args.props.spec?.strategy?.rollingUpdate?.maxUnavailable);
        if (maxUnavailable === UNKNOWN || isZero(maxUnavailable)) return;
        report(
            maxUnavailable === undefined || maxUnavailable === null
                ? "strategy.rollingUpdate.maxUnavailable is not set (Kubernetes defaults it to 25%); set it to 0"
                : `strategy.rollingUpdate.maxUnavailable is ${JSON.stringify(maxUnavailable)}; set it to 0`,
        );
    },
});
