/**
 * What every workload (service, worker, scheduled job) is made of, the same way: its labels, its
 * hardened pod and containers on the image with their resources, writable paths and env (the
 * database URL and the Secrets through `secretKeyRef`, never a value).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { OWNED_BY_PULUMI } from "./ownership";
import { computeResources, envVars, hardenedContainer, hardenedPod, SecretKeyRef } from "./pod-spec";
import { writableStorage } from "./writable-paths";
import { WORKLOAD_DEFAULTS } from "../../vocabulary/defaults";
import type { Compute } from "../../vocabulary/rules";
import type { WritablePaths } from "../../vocabulary/writable-paths";

/** The arguments every workload kind takes: its stack-file keys, and what the program wires in. */
export interface WorkloadArgs {
    /** Namespace to run in. */
    namespace: pulumi.Input<string>;
    /** Image reference; a digest-pinned `repo@sha256:…` makes pods roll only when the content changes. */
    image: pulumi.Input<string>;
    /** Replaces the image's entrypoint. Default: the image's. */
    command?: string[];
    /** Arguments to the entrypoint. Default: the image's. */
    args?: string[];
    /** Plain environment variables. Default: none. */
    env?: Record<string, pulumi.Input<string>>;
    /** Environment variables read from Secrets through `secretKeyRef`. Default: none. */
    secretEnv?: Record<string, SecretKeyRef>;
    /** Environment name for the `environment` label. Default: none. */
    environment?: pulumi.Input<string>;
    /** `app.kubernetes.io/part-of` label. Default: none. */
    partOf?: pulumi.Input<string>;
    /** Names of `kubernetes.io/dockerconfigjson` Secrets for pulling the image. Default: none. */
    imagePullSecrets?: pulumi.Input<string>[];
    /** UID the containers run as (the image must work as that user). Default: 10001. */
    runAsUser?: number;
    /** GID the containers run as, and the group that owns their volumes. Default: runAsUser. */
    runAsGroup?: number;
    /** Requests and limits, each merged over the defaults. */
    resources?: { requests?: Partial<Compute>; limits?: Partial<Compute> };
    /** Writable paths besides /tmp. Default: none. */
    writablePaths?: WritablePaths;
    /** Read `DATABASE_URL` from the database secret. Default: true (when `databaseSecretName` is given). */
    database?: boolean;
    /**
     * The Secret holding `DATABASE_URL` and `DATABASE_DIRECT_URL`; unless `database` is false,
     * containers read `DATABASE_URL` from it. Default: none.
     */
    databaseSecretName?: pulumi.Input<string>;
    /**
     * A checksum of the database Secret's data (never the data): written to the pod templates that
     * read the Secret, so a new URL (another user, the pool turned on or off) rolls the pods and
     * reruns the migration. Default: none.
     */
    databaseSecretChecksum?: pulumi.Input<string>;
    /**
     * Checksums of the data (never the data) of the Secrets the stack creates that `secretEnv`
     * reads, by Secret name: written to the pod templates, so a changed value rolls the pods and
     * reruns the release Jobs. Default: none.
     */
    secretChecksums?: Record<string, pulumi.Input<string>>;
}

/** Which database URL a container gets: pods use the pool's; migrations and seeds bypass it (their locks need a session). */
export type DatabaseKey = "DATABASE_URL" | "DATABASE_DIRECT_URL";

/** A workload's shared makings; see {@link workloadParts}. */
export interface WorkloadParts {
    /** The immutable selector: labels that never change for this workload. */
    selector: Record<string, pulumi.Input<string>>;
    labels: Record<string, pulumi.Input<string>>;
    /** Its objects' metadata: owned entirely by the program ({@link OWNED_BY_PULUMI}). */
    metadata: {
        name: string;
        namespace: pulumi.Input<string>;
        labels: Record<string, pulumi.Input<string>>;
        annotations: Record<string, string>;
    };
    /**
     * Pod-template annotations every pod of the workload gets: the checksums of the Secrets it reads
     * (`checksum/database-secret`, `checksum/secrets`), since Kubernetes never restarts pods for a
     * changed Secret. Absent when it reads none.
     */
    podAnnotations?: Record<string, pulumi.Input<string>>;
    /** The claims of the persistent writable paths. */
    claims: k8s.core.v1.PersistentVolumeClaim[];
    /** The environment a container gets, with the database URL under `DATABASE_URL` read from `key`. */
    env(key: DatabaseKey): k8s.types.input.core.v1.EnvVar[];
    /** A hardened container on the workload's image (or the one given), with its resources and writable paths. */
    container(container: Omit<k8s.types.input.core.v1.Container, "resources">): k8s.types.input.core.v1.Container;
    /** The hardened pod around the given containers. */
    pod(spec: Omit<k8s.types.input.core.v1.PodSpec, "securityContext" | "volumes" | "imagePullSecrets">): k8s.types.input.core.v1.PodSpec;
}

/**
 * The makings every workload shares. `objectName` names its Kubernetes objects; `component`
 * (e.g. `worker`) labels them as `app.kubernetes.io/component`.
 */
export function workloadParts(
    owner: pulumi.Resource,
    name: string,
    objectName: string,
    args: WorkloadArgs,
    childOpts: pulumi.CustomResourceOptions,
    component?: string,
): WorkloadParts {
    const d = WORKLOAD_DEFAULTS;
    const selector = { "app.kubernetes.io/name": objectName, "app.kubernetes.io/instance": objectName };
    const labels: Record<string, pulumi.Input<string>> = {
        ...selector,
        ...(component !== undefined ? { "app.kubernetes.io/component": component } : {}),
        "app.kubernetes.io/managed-by": "pulumi",
        ...(args.partOf !== undefined ? { "app.kubernetes.io/part-of": args.partOf } : {}),
        ...(args.environment !== undefined ? { environment: args.environment } : {}),
    };
    // Owned entirely: the next `up` takes back whatever a `kubectl rollout undo` or edit changed.
    const metadata = { name: objectName, namespace: args.namespace, labels, annotations: { ...OWNED_BY_PULUMI } };
    const limits = { ...d.resources.limits, ...args.resources?.limits };
    const resources = computeResources(owner, name, { ...d.resources.requests, ...args.resources?.requests }, limits);
    // /tmp may take what the container's own ephemeral-storage limit allows, and no more.
    const storage = writableStorage(
        owner,
        name,
        { paths: args.writablePaths, tmpSizeMiB: limits.ephemeralStorageMiB, objectName, namespace: args.namespace, labels },
        childOpts,
    );
    const readsDatabase = args.databaseSecretName !== undefined && (args.database ?? true);
    const database = (key: DatabaseKey): Record<string, SecretKeyRef> =>
        readsDatabase ? { DATABASE_URL: { secretName: args.databaseSecretName!, key } } : {};
    // Kubernetes never restarts pods for a changed Secret: its checksum in the template does. The
    // app Secrets' go in one annotation, `<name>=<checksum>` each, so a preview shows which changed.
    const appSecrets = Object.entries(args.secretChecksums ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const checksums = {
        ...(readsDatabase && args.databaseSecretChecksum !== undefined ? { "checksum/database-secret": args.databaseSecretChecksum } : {}),
        ...(appSecrets.length > 0
            ? {
                  "checksum/secrets": pulumi
                      .all(appSecrets.map(([secret, sum]) => pulumi.interpolate`${secret}=${sum}`))
                      .apply((s) => s.join(",")),
              }
            : {}),
    };
    const pod = {
        runAsUser: args.runAsUser ?? d.runAsUser,
        runAsGroup: args.runAsGroup,
        imagePullSecrets: args.imagePullSecrets,
        volumes: storage.volumes,
    };
    return {
        selector,
        labels,
        metadata,
        podAnnotations: Object.keys(checksums).length > 0 ? checksums : undefined,
        claims: storage.claims,
        env: (key) => envVars(args.env ?? {}, { ...database(key), ...args.secretEnv }),
        container: (container) => hardenedContainer({ ...container, image: container.image ?? args.image, resources }, storage.mounts),
        pod: (spec) => hardenedPod(pod, spec),
    };
}
