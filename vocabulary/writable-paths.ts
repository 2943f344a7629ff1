/**
 * The writable-paths keys' shape and rules: what a path may be, and how much of the pod's ephemeral
 * storage the emptyDir paths take. The schema reports them per key; the workload parts
 * (components/parts/writable-paths.ts) enforce them again and build the volumes.
 */

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
