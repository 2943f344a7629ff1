/**
 * Annotations of the Kubernetes objects this program owns entirely.
 *
 * `pulumi.com/patchForce: "true"` makes the provider's server-side apply take back any field
 * another manager changed: after an emergency `kubectl rollout undo` (field manager
 * kubectl-rollout) or a `kubectl edit`, the next `pulumi up` converges the object to the program
 * instead of failing on a field conflict. Only for objects nothing else is meant to manage;
 * fields the program leaves unset (a Deployment's replicas under an autoscaler, a token Secret's
 * data) are never claimed, so their owners keep them.
 */
export const OWNED_BY_PULUMI = { "pulumi.com/patchForce": "true" } as const;
