/**
 * The Deployment a long-running workload (service or worker) runs as, with the autoscaler and the
 * disruption budget its replica settings call for.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { invariant, replicasProblem, singlePodProblem } from "../../vocabulary/rules";
import { autoscaler } from "./autoscaler";
import { disruptionBudget } from "./disruption-budget";
import { spreadAcrossNodes } from "./pod-spec";
import { DEPLOYMENT_DEFAULTS } from "../../vocabulary/defaults";
import { hasPersistentPath, type WritablePaths } from "../../vocabulary/writable-paths";

/** A long-running workload's stack-file keys that shape its Deployment. */
export interface DeploymentSettings {
    /** Fixed replicas; not with `autoscaling`. Default: 1. */
    replicas?: number;
    /** Default: none; when set, cpuUtilizationPercent 70. */
    autoscaling?: { minReplicas: number; maxReplicas: number; cpuUtilizationPercent?: number; memoryUtilizationPercent?: number };
    /** Default: 5. */
    revisionHistoryLimit?: number;
    /** Default: 600. */
    rolloutTimeoutSeconds?: number;
    /**
     * A persistent path means one pod, replaced Recreate: the old pod stops before the new one starts,
     * the only way a ReadWriteOnce volume moves between pods that may land on different nodes.
     * Default: none, and a rolling update that never removes a serving pod.
     */
    writablePaths?: WritablePaths;
}

export interface RollingDeploymentArgs {
    metadata: {
        name: string;
        namespace: pulumi.Input<string>;
        labels: Record<string, pulumi.Input<string>>;
        annotations?: Record<string, string>;
    };
    selector: Record<string, pulumi.Input<string>>;
    podAnnotations?: Record<string, pulumi.Input<string>>;
    pod: k8s.types.input.core.v1.PodSpec;
    settings: DeploymentSettings;
    /** What must be done before the Deployment changes (migration and seed Jobs). */
    dependsOn?: pulumi.Resource[];
}

/** Names the children `<name>-deployment`, `<name>-hpa` and `<name>-pdb`. */
export function rollingDeployment(
    owner: pulumi.Resource,
    name: string,
    args: RollingDeploymentArgs,
    childOpts: pulumi.CustomResourceOptions,
) {
    const d = DEPLOYMENT_DEFAULTS;
    const { metadata, settings } = args;
    const { autoscaling } = settings;
    invariant(owner, name, "replicas", replicasProblem(settings.replicas, autoscaling));
    const recreate = hasPersistentPath(settings.writablePaths);
    if (recreate) invariant(owner, name, "writablePaths", singlePodProblem(settings.replicas, autoscaling));
    const replicas = settings.replicas ?? d.replicas;
    // A workload that can run more than one replica is spread across nodes and gets a disruption budget.
    const maxReplicas = autoscaling?.maxReplicas ?? replicas;
    const rolloutTimeout = `${settings.rolloutTimeoutSeconds ?? d.rolloutTimeoutSeconds}s`;
    const deployment = new k8s.apps.v1.Deployment(
        `${name}-deployment`,
        {
            metadata,
            spec: {
                // With an HPA the replica count is the autoscaler's: leaving it unset keeps
                // server-side apply from resetting it on every `pulumi up`.
                replicas: autoscaling ? undefined : replicas,
                revisionHistoryLimit: settings.revisionHistoryLimit ?? d.revisionHistoryLimit,
                selector: { matchLabels: args.selector },
                // maxUnavailable 0: a rollout whose new pods never become ready leaves the old ones serving.
                strategy: recreate ? { type: "Recreate" } : { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                template: {
                    metadata: { labels: metadata.labels, annotations: args.podAnnotations },
                    spec: { ...args.pod, affinity: maxReplicas > 1 ? spreadAcrossNodes(args.selector) : undefined },
                },
            },
        },
        {
            ...childOpts,
            dependsOn: args.dependsOn ?? [],
            // No deleteBeforeReplace on any part: the Kubernetes provider deletes first by itself
            // when a replacement keeps the name and namespace, and otherwise (a new namespace)
            // brings the new objects up before the old ones go, so the workload stays up.
            customTimeouts: { create: rolloutTimeout, update: rolloutTimeout },
        },
    );
    const hpa =
        autoscaling &&
        autoscaler(
            owner,
            `${name}-hpa`,
            {
                ...autoscaling,
                metadata,
                deploymentName: deployment.metadata.name,
                cpuUtilizationPercent: autoscaling.cpuUtilizationPercent ?? d.autoscaling.cpuUtilizationPercent,
            },
            childOpts,
        );
    const pdb =
        maxReplicas > 1 ? disruptionBudget(owner, `${name}-pdb`, { metadata, selector: args.selector, maxReplicas }, childOpts) : undefined;
    return { deployment, autoscaler: hpa || undefined, disruptionBudget: pdb };
}
