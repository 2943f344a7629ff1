/**
 * A PodDisruptionBudget that lets node drains take one pod at a time. With `maxUnavailable: 1` a
 * workload running a single replica at the moment can still be drained (as without a budget);
 * once scaled out, a drain never takes more than one of its pods.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { invariant } from "../../vocabulary/rules";

export interface DisruptionBudgetArgs {
    metadata: k8s.types.input.meta.v1.ObjectMeta;
    selector: Record<string, pulumi.Input<string>>;
    /** The most replicas the workload can run (fixed, or the autoscaler's maximum); a budget matters only above 1. */
    maxReplicas: number;
}

export function disruptionBudget(
    owner: pulumi.Resource,
    name: string,
    args: DisruptionBudgetArgs,
    opts: pulumi.CustomResourceOptions,
): k8s.policy.v1.PodDisruptionBudget {
    invariant(
        owner,
        name,
        "maxReplicas",
        args.maxReplicas > 1 ? undefined : `a disruption budget needs more than one replica; received ${args.maxReplicas}`,
    );
    return new k8s.policy.v1.PodDisruptionBudget(
        name,
        {
            metadata: args.metadata,
            spec: {
                maxUnavailable: 1,
                selector: { matchLabels: args.selector },
                // Pods that never became ready must not block a node drain.
                unhealthyPodEvictionPolicy: "AlwaysAllow",
            },
        },
        opts,
    );
}
