/**
 * Where a workload may write, besides /tmp: an emptyDir with a size limit per path, or a
 * PersistentVolumeClaim where the data must outlive the pod (a model cache, a backup).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { invariant } from "../../vocabulary/rules";
import { OWNED_BY_PULUMI } from "./ownership";
import { TMP_MOUNT, tmpVolume } from "./pod-spec";

/** One writable path: its size, and whether it outlives the pod. */
export interface WritablePath {
    /** The emptyDir's size limit, or the claim's requested size. */
    sizeMiB: number;
    /** A PersistentVolumeClaim (ReadWriteOnce) instead of an emptyDir. Default: false. */
    persistent?: boolean;
    /** Storage class of the claim. Default: the cluster's default (`do-block-storage` on DOKS). */
    storageClass?: string;
}

/** Absolute path → its settings. */
export type WritablePaths = Record<string, WritablePath>;

/** Whether any path is a persistent claim, which ties the workload to one pod at a time. */
export function hasPersistentPath(paths: Record<string, { persistent?: boolean }> | undefined): boolean {
    return Object.values(paths ?? {}).some((path) => path.persistent);
}

/**
 * The emptyDir paths (persistent ones live elsewhere) count against the pod's ephemeral storage,
 * beside the containers' logs and /tmp: together beyond the limit, the kubelet evicts the pod.
 */
export function ephemeralStorageProblem(
    paths: Record<string, { sizeMiB: number; persistent?: boolean }> | undefined,
    limitMiB: number,
): string | undefined {
    const total = Object.values(paths ?? {})
        .filter((path) => !path.persistent)
        .reduce((sum, path) => sum + path.sizeMiB, 0);
    return total > limitMiB
        ? `the emptyDir paths add up to ${total} MiB, more than resources.limits.ephemeralStorageMiB (${limitMiB}) they count against; raise that limit or make them smaller (or persistent)`
        : undefined;
}

/** Each path is absolute and normalised (not `/`), and no two share a volume name; one message per problem. */
export function writablePathsProblems(paths: WritablePaths | undefined): string[] {
    const problems: string[] = [];
    const byVolume = new Map<string, string>();
    for (const path of Object.keys(paths ?? {})) {
        const normal = path.length > 1 && path.startsWith("/") && !path.endsWith("/") && !/\/\.{0,2}(\/|$)/.test(path);
        if (!normal) {
            problems.push(`"${path}" must be an absolute path such as /var/cache/nginx (no trailing '/', '.' or '..')`);
            continue;
        }
        const other = byVolume.get(volumeName(path));
        if (other) problems.push(`"${other}" and "${path}" would share the volume name ${volumeName(path)}; rename one`);
        byVolume.set(volumeName(path), path);
    }
    return problems;
}

/** The volume's name: the path as a DNS label (`/var/cache/nginx` → `var-cache-nginx`); /tmp keeps the name `tmp`. */
export function volumeName(path: string): string {
    return (
        path
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, "-")
            .replace(/^-+|-+$/g, "")
            .slice(0, 63)
            .replace(/-+$/, "") || "root"
    );
}

export interface WritableStorageArgs {
    paths?: WritablePaths;
    /** Size limit of /tmp unless `paths` sets one: the containers' ephemeral-storage limit, which counts it too. */
    tmpSizeMiB: number;
    /** Kubernetes name of the workload; claims are named `<objectName>-<volume>`. */
    objectName: string;
    namespace: pulumi.Input<string>;
    labels: Record<string, pulumi.Input<string>>;
}

/**
 * The pod's volumes and each container's mounts for /tmp and the writable paths, and the claims of
 * the persistent ones (named `<name>-volume-<volume>`). A path of `/tmp` sets /tmp's own size limit.
 */
export function writableStorage(owner: pulumi.Resource, name: string, args: WritableStorageArgs, opts: pulumi.CustomResourceOptions) {
    const paths = args.paths ?? {};
    const volumes: k8s.types.input.core.v1.Volume[] = "/tmp" in paths ? [] : [tmpVolume(args.tmpSizeMiB)];
    const mounts: k8s.types.input.core.v1.VolumeMount[] = "/tmp" in paths ? [] : [TMP_MOUNT];
    const claims: k8s.core.v1.PersistentVolumeClaim[] = [];
    invariant(owner, name, "writablePaths", writablePathsProblems(paths)[0] ?? ephemeralStorageProblem(paths, args.tmpSizeMiB));
    for (const [mountPath, path] of Object.entries(paths)) {
        const volume = volumeName(mountPath);
        if (path.persistent) {
            const claim = new k8s.core.v1.PersistentVolumeClaim(
                `${name}-volume-${volume}`,
                {
                    metadata: {
                        name: `${args.objectName}-${volume}`,
                        namespace: args.namespace,
                        labels: args.labels,
                        annotations: OWNED_BY_PULUMI,
                    },
                    spec: {
                        // A DigitalOcean volume attaches to one node at a time.
                        accessModes: ["ReadWriteOnce"],
                        storageClassName: path.storageClass,
                        resources: { requests: { storage: `${path.sizeMiB}Mi` } },
                    },
                },
                // No deleteBeforeReplace, as for every workload part: the provider deletes first by
                // itself when a replacement keeps the name and namespace.
                opts,
            );
            claims.push(claim);
            volumes.push({ name: volume, persistentVolumeClaim: { claimName: claim.metadata.name } });
        } else {
            volumes.push(volume === "tmp" ? tmpVolume(path.sizeMiB) : { name: volume, emptyDir: { sizeLimit: `${path.sizeMiB}Mi` } });
        }
        mounts.push({ name: volume, mountPath });
    }
    return { volumes, mounts, claims };
}
