import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { DatabaseSettings } from "../vocabulary/schema";
import { NAMESPACE_DATABASE_DEFAULTS, PROBE_TIMINGS } from "../vocabulary/defaults";
import { secretChecksum } from "./environment-namespace";
import { GeneratedPassword } from "./parts/generated-password";
import { OWNED_BY_PULUMI } from "./parts/ownership";
import { computeResources, hardenedContainer, hardenedPod, TMP_MOUNT, tmpVolume } from "./parts/pod-spec";

export { NAMESPACE_DATABASE_DEFAULTS };

const PORT = 5432;

/** The stack file's `esteira:database` with mode `namespace` (vocabulary/schema.ts); `image` by digest (index.ts pins a tag). */
export type NamespaceDatabaseArgs = Omit<Extract<DatabaseSettings, { mode: "namespace" }>, "mode" | "image"> & {
    /** The digest-pinned image. */
    image: pulumi.Input<string>;
    /** The namespace it runs in (known before the namespace exists: its connection URL names it). */
    namespaceName: string;
};

/**
 * A throwaway PostgreSQL in the stack's own namespace (a pull request's): a Deployment with an
 * emptyDir data directory, its Service, a Secret with its generated password, and an ingress
 * policy admitting only the namespace's own pods. Destroying the namespace takes all of it; no
 * server admin credential exists beyond this one database's. The URLs name the Service, and go
 * without TLS: the connection never leaves the cluster's pod network, where the policy confines it.
 * Built in two steps, as index.ts wires it: the URLs first (the namespace's Secrets hold them),
 * then {@link serve} puts the server into the namespace once the namespace exists.
 */
export class NamespaceDatabase extends pulumi.ComponentResource {
    /** `postgresql://…@<the Service's ClusterIP>:5432/<db>?sslmode=disable`. Secret. */
    public readonly connectionUrl: pulumi.Output<string>;
    /** The same: there is no pool in front of it. Secret. */
    public readonly directUrl: pulumi.Output<string>;
    public readonly secretName: string;
    public readonly secretData: Record<string, pulumi.Output<string>>;
    /** No egress rule: the namespace's pods reach each other already (parts/network-policy.ts). */
    public readonly destination = undefined;
    /** No managed cluster, no server admin: what index.ts exports for other modes, never here. */
    public readonly databaseClusterId = undefined;
    public readonly adminUrl = undefined;
    private readonly password: pulumi.Output<string>;
    private readonly name: string;
    private served!: (deployment: pulumi.Output<string>) => void;

    constructor(
        name: string,
        private readonly args: NamespaceDatabaseArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("esteira:database:NamespaceDatabase", name, {}, opts);
        this.name = name;
        const d = NAMESPACE_DATABASE_DEFAULTS;
        this.secretName = args.secretName ?? d.secretName;
        this.password = new GeneratedPassword(`${name}-password`, { parent: this }).password;
        const user = args.user ?? d.user;
        const database = args.databaseName ?? d.databaseName;
        // The URL is known once the server is up (serve()): the Secret that holds it, and with it the
        // release Jobs that read it (the migration), wait for a database that accepts connections.
        // Its host is the Service's ClusterIP, fixed for the Service's life: no cluster DNS needed
        // (the local line runs none).
        const served = new Promise<pulumi.Output<string>>((resolve) => (this.served = resolve));
        this.connectionUrl = pulumi.secret(
            pulumi
                .all([this.password, pulumi.output(served)])
                .apply(
                    ([password, host]) =>
                        `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${PORT}/${encodeURIComponent(database)}?sslmode=disable`,
                ),
        );
        this.directUrl = this.connectionUrl;
        this.secretData = { DATABASE_URL: this.connectionUrl, DATABASE_DIRECT_URL: this.directUrl };
    }

    /**
     * The server, in `namespace` (the EnvironmentNamespace's output, so it waits for the namespace),
     * pulling with the namespace's pull secret, through `opts`' provider.
     */
    public serve(
        namespace: pulumi.Input<string>,
        imagePullSecrets: pulumi.Input<string>[] | undefined,
        opts: pulumi.CustomResourceOptions,
    ): void {
        const d = NAMESPACE_DATABASE_DEFAULTS;
        const name = this.name;
        const childOpts = { ...opts, parent: this };
        const labels = {
            "app.kubernetes.io/name": d.serverName,
            "app.kubernetes.io/component": "database",
            "app.kubernetes.io/managed-by": "pulumi",
        };
        const metadata = (suffix = "") => ({ name: `${d.serverName}${suffix}`, namespace, labels, annotations: OWNED_BY_PULUMI });

        const credentials = new k8s.core.v1.Secret(
            `${name}-server-secret`,
            {
                metadata: metadata("-server"),
                stringData: {
                    POSTGRES_USER: this.args.user ?? d.user,
                    POSTGRES_DB: this.args.databaseName ?? d.databaseName,
                    POSTGRES_PASSWORD: this.password,
                },
            },
            childOpts,
        );
        const container = this.container(credentials.metadata.name);
        const dataMiB = this.args.dataMiB ?? d.dataMiB;
        const server = new k8s.apps.v1.Deployment(
            `${name}-server`,
            {
                metadata: metadata(),
                spec: {
                    replicas: 1,
                    // One data directory: the old pod goes before the new one starts.
                    strategy: { type: "Recreate" },
                    selector: { matchLabels: { "app.kubernetes.io/name": d.serverName } },
                    template: {
                        // PostgreSQL reads its password only when it initialises its (emptyDir) data
                        // directory: a new password restarts the server on a fresh one. The stack's
                        // first password is its only one, unless an interrupted up that recorded
                        // nothing (pr-stack.sh) generated another that the next up replaces.
                        metadata: { labels, annotations: { "checksum/credentials": secretChecksum({ password: this.password }) } },
                        spec: hardenedPod(
                            {
                                runAsUser: d.uid,
                                imagePullSecrets,
                                volumes: [
                                    tmpVolume(d.tmpMiB),
                                    { name: "data", emptyDir: { sizeLimit: `${dataMiB}Mi` } },
                                    { name: "run", emptyDir: { sizeLimit: "1Mi" } },
                                ],
                            },
                            { containers: [container] },
                        ),
                    },
                },
            },
            childOpts,
        );
        const service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: metadata(),
                spec: {
                    type: "ClusterIP",
                    selector: { "app.kubernetes.io/name": d.serverName },
                    ports: [{ name: "postgres", port: PORT, targetPort: PORT }],
                },
            },
            childOpts,
        );
        this.ingress(metadata("-ingress"), childOpts);

        // Its outputs resolve once the provider has seen it Ready (unknown in a preview that creates it).
        this.served(pulumi.all([server.metadata.name, service.spec.clusterIP]).apply(([, clusterIP]) => clusterIP));

        this.registerOutputs({
            connectionUrl: this.connectionUrl,
            directUrl: this.directUrl,
            secretName: this.secretName,
            secretData: this.secretData,
        });
    }

    /** The hardened PostgreSQL container: its credentials from `secretName`, its writable paths emptyDirs. */
    private container(secretName: pulumi.Input<string>): k8s.types.input.core.v1.Container {
        const d = NAMESPACE_DATABASE_DEFAULTS;
        const resources = { ...d.resources, ...this.args.resources };
        const mounts = [
            TMP_MOUNT,
            { name: "data", mountPath: "/var/lib/postgresql/data" },
            { name: "run", mountPath: "/var/run/postgresql" },
        ];
        return hardenedContainer(
            {
                name: "postgres",
                image: this.args.image,
                ports: [{ name: "postgres", containerPort: PORT }],
                env: [{ name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" }],
                envFrom: [{ secretRef: { name: secretName } }],
                resources: computeResources(this, this.name, resources, resources),
                readinessProbe: { exec: { command: ["pg_isready", "-h", "127.0.0.1", "-p", String(PORT)] }, ...PROBE_TIMINGS.readiness },
                livenessProbe: { tcpSocket: { port: PORT }, ...PROBE_TIMINGS.liveness },
                startupProbe: { tcpSocket: { port: PORT }, ...PROBE_TIMINGS.startup },
            },
            mounts,
        );
    }

    /** Only the namespace's own pods (the pull request's app and its Jobs) may connect. */
    private ingress(metadata: k8s.types.input.meta.v1.ObjectMeta, opts: pulumi.CustomResourceOptions): void {
        new k8s.networking.v1.NetworkPolicy(
            `${this.name}-ingress`,
            {
                metadata,
                spec: {
                    podSelector: { matchLabels: { "app.kubernetes.io/name": NAMESPACE_DATABASE_DEFAULTS.serverName } },
                    policyTypes: ["Ingress"],
                    ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: "TCP", port: PORT }] }],
                },
            },
            opts,
        );
    }
}
