/** A HorizontalPodAutoscaler (autoscaling/v2) on CPU, and on memory when asked. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { invariant, rangeProblem } from "../../vocabulary/rules";

export interface AutoscalerArgs {
    metadata: k8s.types.input.meta.v1.ObjectMeta;
    /** The Deployment to scale. */
    deploymentName: pulumi.Input<string>;
    minReplicas: number;
    maxReplicas: number;
    cpuUtilizationPercent: number;
    /** Default: CPU only. */
    memoryUtilizationPercent?: number;
}

export function autoscaler(
    owner: pulumi.Resource,
    name: string,
    args: AutoscalerArgs,
    opts: pulumi.CustomResourceOptions,
): k8s.autoscaling.v2.HorizontalPodAutoscaler {
    invariant(owner, name, "autoscaling", rangeProblem("minReplicas", args.minReplicas, "maxReplicas", args.maxReplicas));
    const target = (resource: "cpu" | "memory", averageUtilization: number): k8s.types.input.autoscaling.v2.MetricSpec => ({
        type: "Resource",
        resource: { name: resource, target: { type: "Utilization", averageUtilization } },
    });
    return new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        name,
        {
            metadata: args.metadata,
            spec: {
                scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: args.deploymentName },
                minReplicas: args.minReplicas,
                maxReplicas: args.maxReplicas,
                metrics: [
                    target("cpu", args.cpuUtilizationPercent),
                    ...(args.memoryUtilizationPercent !== undefined ? [target("memory", args.memoryUtilizationPercent)] : []),
                ],
            },
        },
        opts,
    );
}
