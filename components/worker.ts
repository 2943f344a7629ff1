import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { WorkerSettings } from "../vocabulary/schema";
import { rollingDeployment } from "./parts/deployment";
import { commandProbe } from "./parts/pod-spec";
import { WorkloadArgs, workloadParts } from "./parts/workload";
import { WORKER_DEFAULTS } from "../vocabulary/defaults";

/**
 * A worker's stack-file keys (`esteira:workers.<name>`, see vocabulary/schema.ts), and what the
 * program wires in: namespace, image, pull secrets, database secret.
 */
export type WorkerArgs = Omit<WorkerSettings, keyof WorkloadArgs> &
    WorkloadArgs & {
        /** Kubernetes object name of the Deployment, HPA and PDB. Default: the component name. */
        workerName?: string;
    };

/**
 * A long-running process that serves no HTTP (a queue consumer, a scheduler): a hardened
 * Deployment with no Service, probed by a command or a TCP port where given; an autoscaler and a
 * disruption budget when its settings call for them.
 */
export class Worker extends pulumi.ComponentResource {
    public readonly deployment: k8s.apps.v1.Deployment;
    /** Present when autoscaling is configured. */
    public readonly autoscaler?: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    /** Present when the minimum replica count is above 1. */
    public readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;

    constructor(name: string, args: WorkerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:kubernetes:Worker", name, {}, opts);
        const childOpts = { parent: this, deletedWith: opts?.deletedWith };

        const d = WORKER_DEFAULTS;
        const workerName = args.workerName ?? name;
        const parts = workloadParts(this, name, workerName, args, childOpts, "worker");
        const probe = (kind: keyof typeof d.probes) => {
            const settings = args.probes?.[kind];
            return settings && commandProbe(this, name, `probes.${kind}`, settings, d.probes[kind]);
        };
        const container = parts.container({
            name: workerName,
            command: args.command,
            args: args.args,
            env: parts.env("DATABASE_URL"),
            readinessProbe: probe("readiness"),
            livenessProbe: probe("liveness"),
            startupProbe: probe("startup"),
        });

        const rollout = rollingDeployment(
            this,
            name,
            {
                metadata: parts.metadata,
                selector: parts.selector,
                podAnnotations: parts.podAnnotations,
                pod: parts.pod({ containers: [container] }),
                settings: args,
            },
            childOpts,
        );
        this.deployment = rollout.deployment;
        this.autoscaler = rollout.autoscaler;
        this.disruptionBudget = rollout.disruptionBudget;

        this.registerOutputs({ deployment: this.deployment, autoscaler: this.autoscaler, disruptionBudget: this.disruptionBudget });
    }
}
