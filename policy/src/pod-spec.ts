/**
 * Every pod template a resource carries, whatever the workload kind, so the container policies
 * hold for Deployments and migration Jobs today and for CronJobs, StatefulSets or DaemonSets added
 * later without touching the policies.
 */
import { Known, UNKNOWN, read, readArray, readObject } from "./known";

interface Carrier {
    /** Where the pod spec sits in the resource's properties. */
    podSpecPath: string[];
    /** Runs until replaced (probes apply), as opposed to running to completion (Job, CronJob). */
    longRunning: boolean;
}

const TEMPLATE = ["spec", "template", "spec"];
const CARRIERS: Record<string, Carrier> = {
    Pod: { podSpecPath: ["spec"], longRunning: true },
    ReplicationController: { podSpecPath: TEMPLATE, longRunning: true },
    ReplicaSet: { podSpecPath: TEMPLATE, longRunning: true },
    Deployment: { podSpecPath: TEMPLATE, longRunning: true },
    StatefulSet: { podSpecPath: TEMPLATE, longRunning: true },
    DaemonSet: { podSpecPath: TEMPLATE, longRunning: true },
    Job: { podSpecPath: TEMPLATE, longRunning: false },
    CronJob: { podSpecPath: ["spec", "jobTemplate", "spec", "template", "spec"], longRunning: false },
};

// Any API version of the built-in workload kinds, e.g. kubernetes:apps/v1:Deployment, kubernetes:batch/v1:CronJob.
const WORKLOAD_TYPE = /^kubernetes:(?:core|apps|extensions|batch)\/[^:]+:([A-Za-z]+)$/;

/** The Kubernetes kind of a workload resource type, or undefined for any other type. */
export function workloadKind(type: string): string | undefined {
    const kind = WORKLOAD_TYPE.exec(type)?.[1];
    return kind !== undefined && kind in CARRIERS ? kind : undefined;
}

export interface PodSpec {
    kind: string;
    longRunning: boolean;
    /** The pod spec, UNKNOWN when it is not known yet. */
    spec: Known<Record<string, any>>;
}

/** The pod spec a resource carries, or undefined when the type carries none. */
export function podSpecOf(type: string, props: Record<string, any>): PodSpec | undefined {
    const kind = workloadKind(type);
    if (kind === undefined) return undefined;
    const carrier = CARRIERS[kind];
    const spec = readObject(() => carrier.podSpecPath.reduce<any>((node, key) => node?.[key], props));
    return { kind, longRunning: carrier.longRunning, spec };
}

export interface ContainerRef {
    /** `container "web"` or `init container "wait-db"`, for messages. */
    label: string;
    container: Record<string, any>;
    init: boolean;
    /** An init container with `restartPolicy: Always` runs beside the app for the pod's life. */
    sidecar: boolean;
}

/** Init containers first, then containers; a list not known yet is left out (it is checked at `up`). */
export function containersOf(spec: Known<Record<string, any>>): ContainerRef[] {
    if (spec === UNKNOWN) return [];
    const refs: ContainerRef[] = [];
    for (const field of ["initContainers", "containers"] as const) {
        const list = readArray(() => spec[field]);
        if (list === UNKNOWN) continue;
        list.forEach((container, index) => {
            const name = read(() => container?.name);
            const init = field === "initContainers";
            const shown = typeof name === "string" ? JSON.stringify(name) : `#${index}`;
            refs.push({
                label: `${init ? "init container" : "container"} ${shown}`,
                container: container ?? {},
                init,
                sidecar: init && read(() => container?.restartPolicy) === "Always",
            });
        });
    }
    return refs;
}
