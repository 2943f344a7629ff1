/** The hardening every workload's pod gets, asserted the same way for services, workers, jobs and release Jobs. */
import * as assert from "assert";

/** Asserts a pod spec and one of its containers are hardened, running as `user` (UID and GID unless `group` is given). */
export function assertHardened(pod: any, container: any, user = 10001, group = user): void {
    assert.deepStrictEqual(pod.securityContext, {
        runAsNonRoot: true,
        runAsUser: user,
        runAsGroup: group,
        fsGroup: group,
        seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepStrictEqual(container.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
    });
    assert.strictEqual(pod.automountServiceAccountToken, false);
    // A failed container reports the end of its log, which a failed `pulumi up` prints.
    assert.strictEqual(container.terminationMessagePolicy, "FallbackToLogsOnError");
}
