/**
 * Where a workload may write, besides /tmp: an emptyDir with a size limit per path, or a
 * PersistentVolumeClaim where the data must outlive the pod (a model cache, a backup).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { invariant } from "../../vocabulary/rules";
import { ephemeralStorageProblem, volumeName, WritablePaths, writablePathsProblems } from "../../vocabulary/writable-paths";
import { OWNED_BY_PULUMI } from "./ownership";
import { TMP_MOUNT, tmpVolume } from "./pod-spec";

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
