/**
 * The pod every workload runs in, hardened the same way: non-root, read-only root filesystem with
 * a size-limited writable /tmp, all capabilities dropped, seccomp RuntimeDefault, no
 * service-account token, images pulled only when the node lacks them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { invariant, requestProblems } from "../../config/rules";

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;

/** A reference to one key of a Kubernetes Secret in the same namespace. */
export interface SecretKeyRef {
    secretName: pulumi.Input<string>;
    key: pulumi.Input<string>;
}

export interface Compute {
    cpuMillicores: number;
    memoryMiB: number;
    ephemeralStorageMiB: number;
}

/** Plain variables first, then each Secret reference, in the order given. */
export function envVars(
    plain: Record<string, pulumi.Input<string>>,
    secret: Record<string, SecretKeyRef>,
): k8s.types.input.core.v1.EnvVar[] {
    return [
        ...Object.entries(plain).map(([name, value]) => ({ name, value })),
        ...Object.entries(secret).map(([name, ref]) => ({ name, valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } })),
    ];
}

/** Requests and limits as Kubernetes quantities; a request above its limit is refused. */
export function computeResources(owner: pulumi.Resource, component: string, requests: Compute, limits: Compute) {
    invariant(owner, component, "resources", requestProblems(requests, limits)[0]);
    const quantities = (c: Compute) => ({
        cpu: `${c.cpuMillicores}m`,
        memory: `${c.memoryMiB}Mi`,
        "ephemeral-storage": `${c.ephemeralStorageMiB}Mi`,
    });
    return { requests: quantities(requests), limits: quantities(limits) };
}

export interface ProbeSettings {
    path?: string;
    port?: number;
    initialDelaySeconds?: number;
    periodSeconds?: number;
    timeoutSeconds?: number;
    failureThreshold?: number;
}

/** An HTTP GET probe: each unset field takes the default given, the port the container's. */
export function httpProbe(
    probe: ProbeSettings | undefined,
    defaults: Omit<Required<ProbeSettings>, "port" | "path"> & { path?: string },
    containerPort: number,
): k8s.types.input.core.v1.Probe {
    return {
        httpGet: { path: probe?.path ?? defaults.path, port: probe?.port ?? containerPort },
        initialDelaySeconds: probe?.initialDelaySeconds ?? defaults.initialDelaySeconds,
        periodSeconds: probe?.periodSeconds ?? defaults.periodSeconds,
        timeoutSeconds: probe?.timeoutSeconds ?? defaults.timeoutSeconds,
        failureThreshold: probe?.failureThreshold ?? defaults.failureThreshold,
    };
}

/**
 * Replicas of one workload placed on different nodes where the scheduler can: a node's loss or
 * drain takes one of them, not all. Preferred, not required, so a rollout's surge pod or a
 * one-node pool still schedules.
 */
export function spreadAcrossNodes(selector: Record<string, pulumi.Input<string>>): k8s.types.input.core.v1.Affinity {
    return {
        podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selector } } },
            ],
        },
    };
}

/** A container with the hardening every workload gets, and the writable /tmp it needs. */
export function hardenedContainer(container: Container): Container {
    return {
        // Digest-pinned or immutable tags make pulling on every start unnecessary and stale `:latest` impossible.
        imagePullPolicy: "IfNotPresent",
        // A container that fails reports the end of its log as its termination message, which the
        // Kubernetes provider prints in the error of a failed `pulumi up` (a migration, a crash loop).
        terminationMessagePolicy: "FallbackToLogsOnError",
        ...container,
        securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ["ALL"] },
        },
        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    };
}

/**
 * A `preStop` sleep (Kubernetes' own sleep action: the image needs no `sleep` binary), or none for
 * 0 seconds. It counts toward the pod's termination grace period (30 s).
 */
export function preStopSleep(seconds: number): k8s.types.input.core.v1.Lifecycle | undefined {
    return seconds > 0 ? { preStop: { sleep: { seconds } } } : undefined;
}

/**
 * The pod around hardened containers, running as `runAsUser` (UID and GID), pulling with the given
 * secrets; /tmp holds at most `tmpSizeMiB` (the containers' ephemeral-storage limit counts it too).
 */
export function hardenedPod(
    pod: { runAsUser: number; imagePullSecrets?: pulumi.Input<string>[]; tmpSizeMiB: number },
    spec: Omit<PodSpec, "securityContext" | "volumes" | "imagePullSecrets">,
): PodSpec {
    return {
        imagePullSecrets: pod.imagePullSecrets?.map((name) => ({ name })),
        automountServiceAccountToken: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: pod.runAsUser,
            runAsGroup: pod.runAsUser,
            fsGroup: pod.runAsUser,
            seccompProfile: { type: "RuntimeDefault" },
        },
        // A writable /tmp, since the root filesystem is read-only; bounded, so it cannot fill the node's disk.
        volumes: [{ name: "tmp", emptyDir: { sizeLimit: `${pod.tmpSizeMiB}Mi` } }],
        ...spec,
    };
}
