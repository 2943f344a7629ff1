/** A release step run as a Job with the new image before a workload rolls out: its migration, then its seed. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { OWNED_BY_PULUMI } from "./ownership";

/** Each step's pod name suffix and `app.kubernetes.io/component` label. */
const STEPS = {
    migrate: { suffix: "migrate", component: "migration" },
    seed: { suffix: "seed", component: "seed" },
} as const;

export interface MigrationJobArgs {
    namespace: pulumi.Input<string>;
    /** The workload's labels; the Job's own name and component labels replace its selector's. */
    labels: Record<string, pulumi.Input<string>>;
    /** Name of the workload the Job runs for (its pods are labelled `<workload>-migrate` or `<workload>-seed`). */
    workload: string;
    /** The pod spec, hardened as the workload's, with the step's container. */
    pod: k8s.types.input.core.v1.PodSpec;
    /** Pod-template annotations, e.g. the checksum of the Secret the migration reads. Default: none. */
    annotations?: Record<string, pulumi.Input<string>>;
    timeoutSeconds: number;
    backoffLimit: number;
    /** Which step. Default: migrate. */
    step?: keyof typeof STEPS;
}

export function migrationJob(name: string, args: MigrationJobArgs, opts: pulumi.CustomResourceOptions): k8s.batch.v1.Job {
    const step = STEPS[args.step ?? "migrate"];
    // Own labels: the Service's selector must never match a release pod.
    const labels = {
        ...args.labels,
        "app.kubernetes.io/name": `${args.workload}-${step.suffix}`,
        "app.kubernetes.io/component": step.component,
    };
    return new k8s.batch.v1.Job(
        name,
        {
            // No fixed name: each new image gets a new Job (its template is immutable), created before the old one goes.
            metadata: {
                namespace: args.namespace,
                labels,
                // Owned entirely (patchForce); and a Job that failed (a bad migration, an image it could
                // not pull) stays failed: the next `pulumi up` replaces it, so fixing the cause is enough
                // to run it again.
                annotations: { ...OWNED_BY_PULUMI, "pulumi.com/replaceUnready": "true" },
            },
            spec: {
                backoffLimit: args.backoffLimit,
                activeDeadlineSeconds: args.timeoutSeconds,
                template: { metadata: { labels, annotations: args.annotations }, spec: { ...args.pod, restartPolicy: "Never" } },
            },
        },
        {
            ...opts,
            replaceOnChanges: ["spec"],
            // `pulumi up` waits for the Job; a failed step fails the update before the workload changes.
            customTimeouts: { create: `${args.timeoutSeconds}s`, update: `${args.timeoutSeconds}s` },
        },
    );
}
