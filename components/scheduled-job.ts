import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { JobSettings } from "../vocabulary/schema";
import { invariant } from "../vocabulary/rules";
import { envVars, type SecretKeyRef } from "./parts/pod-spec";
import { WorkloadArgs, workloadParts } from "./parts/workload";
import { SCHEDULED_JOB_DEFAULTS } from "../vocabulary/defaults";
import { hasPersistentPath } from "../vocabulary/writable-paths";

/**
 * A scheduled job's stack-file keys (`esteira:jobs.<name>`, see vocabulary/schema.ts), and what the
 * program wires in: namespace, image, pull secrets, database secret.
 */
export type ScheduledJobArgs = Omit<JobSettings, keyof WorkloadArgs> &
    WorkloadArgs & {
        /** Kubernetes object name of the CronJob (at most 52 characters). Default: the component name. */
        jobName?: string;
        /**
         * Steps that run first, one after the other, each to completion (init containers), in the same
         * hardened pod; a step that fails fails the run. Default: none.
         */
        steps?: JobStep[];
    };

/** A step of a scheduled job before its own command: on its own image (default the job's), with its own env. */
export interface JobStep {
    name: string;
    image?: pulumi.Input<string>;
    command: string[];
    env?: Record<string, pulumi.Input<string>>;
    secretEnv?: Record<string, SecretKeyRef>;
}

/**
 * A command run to completion on a schedule (a backup, a cleanup, a report): a CronJob whose runs
 * get the same hardened pod, image, secrets and pull secrets as the services, with a bounded run
 * time, no overlapping runs by default, and the last runs kept for their logs.
 */
export class ScheduledJob extends pulumi.ComponentResource {
    public readonly cronJob: k8s.batch.v1.CronJob;

    constructor(name: string, args: ScheduledJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:ScheduledJob", name, {}, opts);
        const d = SCHEDULED_JOB_DEFAULTS;
        const concurrencyPolicy = args.concurrencyPolicy ?? d.concurrencyPolicy;
        invariant(
            this,
            name,
            "concurrencyPolicy",
            hasPersistentPath(args.writablePaths) && concurrencyPolicy === "Allow"
                ? "Allow can run two pods at once, which a persistent writable path (ReadWriteOnce) cannot serve on two nodes; use Forbid or Replace"
                : undefined,
        );
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };

        const jobName = args.jobName ?? name;
        const parts = workloadParts(this, name, jobName, args, childOpts, "scheduled-job");
        const container = parts.container({
            name: jobName,
            command: args.command,
            args: args.args,
            env: parts.env("DATABASE_URL"),
        });

        this.cronJob = new k8s.batch.v1.CronJob(
            `${name}-cronjob`,
            {
                metadata: parts.metadata,
                spec: {
                    schedule: args.schedule,
                    timeZone: args.timeZone,
                    concurrencyPolicy,
                    startingDeadlineSeconds: args.startingDeadlineSeconds ?? d.startingDeadlineSeconds,
                    successfulJobsHistoryLimit: args.successfulJobsHistoryLimit ?? d.successfulJobsHistoryLimit,
                    failedJobsHistoryLimit: args.failedJobsHistoryLimit ?? d.failedJobsHistoryLimit,
                    suspend: args.suspend ?? d.suspend,
                    jobTemplate: {
                        metadata: { labels: parts.labels },
                        spec: {
                            backoffLimit: args.backoffLimit ?? d.backoffLimit,
                            // The run is stopped (and fails) past its deadline, so a hung run never blocks the next ones.
                            activeDeadlineSeconds: args.timeoutSeconds ?? d.timeoutSeconds,
                            template: {
                                // The checksums of the Secrets it reads: each run reads them afresh, and a
                                // preview shows the CronJob change with them.
                                metadata: { labels: parts.labels, annotations: parts.podAnnotations },
                                spec: {
                                    ...parts.pod({
                                        initContainers: args.steps?.map((step) =>
                                            parts.container({
                                                name: step.name,
                                                image: step.image,
                                                command: step.command,
                                                env: envVars(step.env ?? {}, step.secretEnv ?? {}),
                                            }),
                                        ),
                                        containers: [container],
                                    }),
                                    restartPolicy: "Never",
                                },
                            },
                        },
                    },
                },
            },
            // No deleteBeforeReplace, as for every workload part: see rollingDeployment.
            childOpts,
        );

        this.registerOutputs({ cronJob: this.cronJob });
    }
}
