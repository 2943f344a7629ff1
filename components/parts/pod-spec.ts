/**
 * The pod every workload runs in, hardened the same way: non-root, read-only root filesystem with
 * a size-limited writable /tmp, all capabilities dropped, seccomp RuntimeDefault, no
 * service-account token, images pulled only when the node lacks them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type Compute, invariant, requestProblems } from "../../vocabulary/rules";

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/** A reference to one key of a Kubernetes Secret in the same namespace. */
export interface SecretKeyRef {
    secretName: pulumi.Input<string>;
    key: pulumi.Input<string>;
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

/** How often and how patiently a probe checks, whatever it checks. */
export interface ProbeTiming {
    initialDelaySeconds?: number;
    periodSeconds?: number;
    timeoutSeconds?: number;
    failureThreshold?: number;
}

function timing(probe: ProbeTiming | undefined, defaults: Required<ProbeTiming>): Required<ProbeTiming> {
    return {
        initialDelaySeconds: probe?.initialDelaySeconds ?? defaults.initialDelaySeconds,
        periodSeconds: probe?.periodSeconds ?? defaults.periodSeconds,
        timeoutSeconds: probe?.timeoutSeconds ?? defaults.timeoutSeconds,
        failureThreshold: probe?.failureThreshold ?? defaults.failureThreshold,
    };
}

export interface ProbeSettings extends ProbeTiming {
    path?: string;
    port?: number;
}

/** An HTTP GET probe: each unset field takes the default given, the port the container's. */
export function httpProbe(
    probe: ProbeSettings | undefined,
    defaults: Required<ProbeTiming> & { path?: string },
    containerPort: number,
): k8s.types.input.core.v1.Probe {
    return { httpGet: { path: probe?.path ?? defaults.path, port: probe?.port ?? containerPort }, ...timing(probe, defaults) };
}

/** A probe that runs a command in the container, or opens a TCP connection to one of its ports. */
export interface CommandProbeSettings extends ProbeTiming {
    exec?: string[];
    tcpPort?: number;
}

/** A command (exec) or TCP probe: exactly one of the two; each unset timing takes the default given. */
export function commandProbe(
    owner: pulumi.Resource,
    component: string,
    key: string,
    probe: CommandProbeSettings,
    defaults: Required<ProbeTiming>,
): k8s.types.input.core.v1.Probe {
    const set = (["exec", "tcpPort"] as const).filter((field) => probe[field] !== undefined);
    invariant(
        owner,
        component,
        key,
        set.length === 1 ? undefined : `set exactly one of exec or tcpPort; received ${set.length === 0 ? "none" : set.join(" and ")}`,
    );
    const check = probe.exec !== undefined ? { exec: { command: probe.exec } } : { tcpSocket: { port: probe.tcpPort! } };
    return { ...check, ...timing(probe, defaults) };
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

/** The writable /tmp every container gets, since the root filesystem is read-only; bounded, so it cannot fill the node's disk. */
export function tmpVolume(sizeMiB: number): Volume {
    return { name: "tmp", emptyDir: { sizeLimit: `${sizeMiB}Mi` } };
}
export const TMP_MOUNT: VolumeMount = { name: "tmp", mountPath: "/tmp" };

/** A container with the hardening every workload gets, and its writable paths (default: /tmp). */
export function hardenedContainer(container: Container, mounts: VolumeMount[] = [TMP_MOUNT]): Container {
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
        volumeMounts: mounts,
    };
}

/**
 * A `preStop` sleep (Kubernetes' own sleep action: the image needs no `sleep` binary), or none for
 * 0 seconds. It counts toward the pod's termination grace period (30 s).
 */
export function preStopSleep(seconds: number): k8s.types.input.core.v1.Lifecycle | undefined {
    return seconds > 0 ? { preStop: { sleep: { seconds } } } : undefined;
}

/** Who the pod runs as and what it pulls with and mounts, around its hardened containers. */
export interface PodSettings {
    /** UID of every container. */
    runAsUser: number;
    /** GID of every container, and the group that owns its volumes. Default: runAsUser. */
    runAsGroup?: number;
    imagePullSecrets?: pulumi.Input<string>[];
    /** Its volumes: /tmp (see {@link tmpVolume}) and the writable paths. */
    volumes: Volume[];
}

/** The pod around hardened containers, running as `runAsUser`/`runAsGroup`, pulling with the given secrets. */
export function hardenedPod(pod: PodSettings, spec: Omit<PodSpec, "securityContext" | "volumes" | "imagePullSecrets">): PodSpec {
    const group = pod.runAsGroup ?? pod.runAsUser;
    return {
        imagePullSecrets: pod.imagePullSecrets?.map((name) => ({ name })),
        automountServiceAccountToken: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: pod.runAsUser,
            runAsGroup: group,
            fsGroup: group,
            seccompProfile: { type: "RuntimeDefault" },
        },
        volumes: pod.volumes,
        ...spec,
    };
}
