/** A migration run as a Job with the new image before a workload rolls out. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface MigrationJobArgs {
    namespace: pulumi.Input<string>;
    /** The workload's labels; the Job's own name and component labels replace its selector's. */
    labels: Record<string, pulumi.Input<string>>;
    /** Name of the workload the Job migrates for (its pods are labelled `<workload>-migrate`). */
    workload: string;
    /** The pod spec, hardened as the workload's, with the migrate container. */
    pod: k8s.types.input.core.v1.PodSpec;
    /** Pod-template annotations, e.g. the checksum of the Secret the migration reads. Default: none. */
    annotations?: Record<string, pulumi.Input<string>>;
    timeoutSeconds: number;
    backoffLimit: number;
}

export function migrationJob(name: string, args: MigrationJobArgs, opts: pulumi.CustomResourceOptions): k8s.batch.v1.Job {
    // Own labels: the Service's selector must never match a migration pod.
    const labels = { ...args.labels, "app.kubernetes.io/name": `${args.workload}-migrate`, "app.kubernetes.io/component": "migration" };
    return new k8s.batch.v1.Job(
        name,
        {
            // No fixed name: each new image gets a new Job (its template is immutable), created before the old one goes.
            metadata: {
                namespace: args.namespace,
                labels,
                // A Job that failed (a bad migration, an image it could not pull) stays failed: the
                // next `pulumi up` replaces it, so fixing the cause is enough to run it again.
                annotations: { "pulumi.com/replaceUnready": "true" },
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
            // `pulumi up` waits for the Job; a failed migration fails the update before the workload changes.
            customTimeouts: { create: `${args.timeoutSeconds}s`, update: `${args.timeoutSeconds}s` },
        },
    );
}
