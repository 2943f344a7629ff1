/** Policies that look at several resources together: a replicated workload and its disruption budget. */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { Known, UNKNOWN, read, readObject } from "../known";

const REPLICATED = /^kubernetes:apps\/[^:]+:(Deployment|StatefulSet)$/;
const AUTOSCALER = /^kubernetes:autoscaling\/[^:]+:HorizontalPodAutoscaler$/;
const DISRUPTION_BUDGET = /^kubernetes:policy\/[^:]+:PodDisruptionBudget$/;

function namespaceOf(resource: PolicyResource): Known<string> {
    const namespace = read(() => resource.props.metadata?.namespace);
    return namespace === UNKNOWN ? UNKNOWN : (namespace ?? "default");
}

/** Two namespaces match unless both are known and differ. */
function sameNamespace(a: Known<string>, b: Known<string>): boolean {
    return a === UNKNOWN || b === UNKNOWN || a === b;
}

/** Kubernetes label-selector semantics; a selector not known yet counts as matching (no false alarm). */
export function selectorMatches(selector: Known<any>, labels: Record<string, string>): boolean {
    if (selector === UNKNOWN) return true;
    // policy/v1: a null selector selects no pod, an empty one every pod of the namespace.
    if (selector === undefined || selector === null) return false;
    const matchLabels = readObject(() => selector.matchLabels);
    if (matchLabels === UNKNOWN) return true;
    if (!Object.entries(matchLabels).every(([key, value]) => labels[key] === value)) return false;
    const expressions = read(() => selector.matchExpressions);
    if (expressions === UNKNOWN) return true;
    return (Array.isArray(expressions) ? expressions : []).every((expression: any) => {
        const values: string[] = expression.values ?? [];
        const has = expression.key in labels;
        switch (expression.operator) {
            case "In":
                return has && values.includes(labels[expression.key]);
            case "NotIn":
                return !has || !values.includes(labels[expression.key]);
            case "Exists":
                return has;
            case "DoesNotExist":
                return !has;
            default:
                return false;
        }
    });
}

export const multiReplicaPodDisruptionBudget: StackValidationPolicy = {
    name: "multi-replica-pod-disruption-budget",
    description:
        "A Deployment or StatefulSet that can run more than one replica has a PodDisruptionBudget selecting its pods, so a node drain or cluster upgrade cannot evict them all at once, however far it has scaled out; advisory, because a reviewer may accept a short outage of a service.",
    enforcementLevel: "advisory",
    validateStack: (args, report) => {
        const autoscalers = args.resources.filter((r) => AUTOSCALER.test(r.type));
        const budgets = args.resources.filter((r) => DISRUPTION_BUDGET.test(r.type));
        for (const workload of args.resources.filter((r) => REPLICATED.test(r.type))) {
            const kind = REPLICATED.exec(workload.type)![1];
            const name = read(() => workload.props.metadata?.name);
            const namespace = namespaceOf(workload);
            // With an autoscaler the most replicas is its maxReplicas (the Deployment's replicas is then
            // unset): a service autoscaling from 1 runs several pods once scaled out, and needs the budget then.
            const autoscaler = autoscalers.find(
                (hpa) =>
                    sameNamespace(namespaceOf(hpa), namespace) &&
                    read(() => hpa.props.spec?.scaleTargetRef?.kind) === kind &&
                    read(() => hpa.props.spec?.scaleTargetRef?.name) === name,
            );
            const replicas = autoscaler ? read(() => autoscaler.props.spec?.maxReplicas) : read(() => workload.props.spec?.replicas);
            if (replicas === UNKNOWN) continue;
            const most = typeof replicas === "number" ? replicas : 1;
            if (most <= 1) continue;
            const labels = readObject(() => workload.props.spec?.template?.metadata?.labels);
            if (labels === UNKNOWN) continue;
            const covered = budgets.some(
                (pdb) =>
                    sameNamespace(namespaceOf(pdb), namespace) &&
                    selectorMatches(
                        read(() => pdb.props.spec?.selector),
                        labels,
                    ),
            );
            if (!covered) {
                const shown = name === UNKNOWN ? "(name not known yet)" : JSON.stringify(name);
                report(`${kind} ${shown} can run ${most} replicas but no PodDisruptionBudget selects its pods`, workload.urn);
            }
        }
    },
};
