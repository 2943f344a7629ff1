/** A PodDisruptionBudget that lets node drains take one pod at a time. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { invariant } from "../../config/rules";

export interface DisruptionBudgetArgs {
    metadata: k8s.types.input.meta.v1.ObjectMeta;
    selector: Record<string, pulumi.Input<string>>;
    /** The fewest replicas that run; a budget for a single replica would block every drain. */
    minReplicas: number;
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
        "minReplicas",
        args.minReplicas > 1 ? undefined : `a disruption budget needs more than one replica; received ${args.minReplicas}`,
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
