/**
 * The Deployment a long-running workload (service or worker) runs as, with the autoscaler and the
 * disruption budget its replica settings call for.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { autoscaler } from "./autoscaler";
import { disruptionBudget } from "./disruption-budget";

/** Defaults of the replica and rollout keys services and workers share; each component's defaults object includes them. */
export const DEPLOYMENT_DEFAULTS = {
    replicas: 1,
    revisionHistoryLimit: 5,
    rolloutTimeoutSeconds: 600,
    autoscaling: { cpuUtilizationPercent: 70 },
} as const;

export interface RollingDeploymentArgs {
    metadata: { name: string; namespace: pulumi.Input<string>; labels: Record<string, pulumi.Input<string>> };
    selector: Record<string, pulumi.Input<string>>;
    podAnnotations?: Record<string, pulumi.Input<string>>;
    pod: k8s.types.input.core.v1.PodSpec;
    /** Fixed replicas; not with `autoscaling`. */
    replicas: number | undefined;
    autoscaling?: { minReplicas: number; maxReplicas: number; cpuUtilizationPercent: number; memoryUtilizationPercent?: number };
    revisionHistoryLimit: number;
    rolloutTimeoutSeconds: number;
    /**
     * Stop the old pod before the new one starts: the only way a ReadWriteOnce volume moves
     * between pods that may land on different nodes. Default: a rolling update that never removes a serving pod.
     */
    recreate?: boolean;
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
    const { metadata, autoscaling } = args;
    const rolloutTimeout = `${args.rolloutTimeoutSeconds}s`;
    const deployment = new k8s.apps.v1.Deployment(
        `${name}-deployment`,
        {
            metadata,
            spec: {
                // With an HPA the replica count is the autoscaler's: leaving it unset keeps
                // server-side apply from resetting it on every `pulumi up`.
                replicas: autoscaling ? undefined : args.replicas,
                revisionHistoryLimit: args.revisionHistoryLimit,
                selector: { matchLabels: args.selector },
                // maxUnavailable 0: a rollout whose new pods never become ready leaves the old ones serving.
                strategy: args.recreate
                    ? { type: "Recreate" }
                    : { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                template: { metadata: { labels: metadata.labels, annotations: args.podAnnotations }, spec: args.pod },
            },
        },
        {
            ...childOpts,
            dependsOn: args.dependsOn ?? [],
            // Fixed object names: a replacement must delete the old object before creating the new one.
            deleteBeforeReplace: true,
            customTimeouts: { create: rolloutTimeout, update: rolloutTimeout },
        },
    );
    const named = { ...childOpts, deleteBeforeReplace: true };
    const hpa =
        autoscaling && autoscaler(owner, `${name}-hpa`, { ...autoscaling, metadata, deploymentName: deployment.metadata.name }, named);
    const minReplicas = autoscaling?.minReplicas ?? args.replicas ?? 0;
    const pdb =
        minReplicas > 1 ? disruptionBudget(owner, `${name}-pdb`, { metadata, selector: args.selector, minReplicas }, named) : undefined;
    return { deployment, autoscaler: hpa || undefined, disruptionBudget: pdb };
}
