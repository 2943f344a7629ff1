import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { DatabaseSettings } from "../config/schema";
import type { NetworkDestination } from "./parts/network-policy";
import { readStack } from "./stack-reference";

type Mode<M extends DatabaseSettings["mode"]> = Extract<DatabaseSettings, { mode: M }>;

/** The Kubernetes cluster a database serves: its VPC and its id, the only source the firewall admits. */
export interface DatabaseClusterLink {
    /** Default: the region's default VPC. */
    vpcId?: pulumi.Input<string>;
    clusterIdentifier: pulumi.Input<string>;
}

/**
 * A managed PostgreSQL cluster created by this stack, reachable only from the Kubernetes cluster:
 * the stack file's `esteira:database` keys (config/schema.ts), plus the cluster and `protect`.
 */
export type DigitalOceanDatabaseArgs = Mode<"digitalocean"> & {
    cluster: DatabaseClusterLink;
    /** `protect` the database cluster and the database. Default: false. */
    protect?: boolean;
};

/** The other modes take the cluster too, unused, so every mode is wired the same way. */
type AnyCluster = { cluster?: DatabaseClusterLink };

/** A database this stack does not manage, given by its connection URL (secret). */
export type ExternalDatabaseArgs = Mode<"external"> & AnyCluster & { url: pulumi.Input<string> };

/** A database and user of this stack's own inside a database cluster another stack owns; name both uniquely per stack. */
export type SharedDatabaseArgs = Mode<"shared"> & AnyCluster & { databaseName: string; user: string };

export type DatabaseArgs = DigitalOceanDatabaseArgs | ExternalDatabaseArgs | SharedDatabaseArgs;

/** Defaults of {@link DigitalOceanDatabaseArgs}, applied once in the component. */
export const DATABASE_DEFAULTS = {
    version: "16",
    size: "db-s-1vcpu-1gb",
    nodeCount: 1,
    databaseName: "app",
    user: "app",
    pool: { mode: "transaction" },
    secretName: "db-credentials",
    protect: false,
    /** Where an external database may be: any address (on its URL's port). */
    cidr: "0.0.0.0/0",
} as const;

/** PostgreSQL's port when a URL names none. */
const POSTGRES_PORT = 5432;

/** `postgresql://user:password@host:port/database?sslmode=require`, with user and password escaped. */
export function postgresUrl(parts: {
    user: pulumi.Input<string>;
    password: pulumi.Input<string>;
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    database: pulumi.Input<string>;
}): pulumi.Output<string> {
    return pulumi.secret(
        pulumi
            .all([parts.user, parts.password, parts.host, parts.port, parts.database])
            .apply(
                ([user, password, host, port, database]) =>
                    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}?sslmode=require`,
            ),
    );
}

/**
 * The environment's PostgreSQL: a managed DigitalOcean cluster with its firewall, database and
 * user, or an external database. Either way it yields one connection URL, secret end to end.
 */
export class Database extends pulumi.ComponentResource {
    /** Connection URL the pods use (private network, `sslmode=require`; through the pool when there is one). Secret. */
    public readonly connectionUrl: pulumi.Output<string>;
    /**
     * URL straight to the database, never through a pool: migrations hold a session-level advisory
     * lock, which a transaction-mode pool cannot keep. Secret.
     */
    public readonly directUrl: pulumi.Output<string>;
    /** The managed database cluster, when this stack created one. */
    public readonly databaseCluster?: digitalocean.DatabaseCluster;
    /** The managed cluster's id, when this stack created one (for stacks that share it). */
    public readonly databaseClusterId?: pulumi.Output<string>;
    /** The Kubernetes Secret the URLs belong in, as `DATABASE_URL` and `DATABASE_DIRECT_URL`. */
    public readonly secretName: string;
    /** The Secret's contents: `DATABASE_URL` (pooled when there is a pool) and `DATABASE_DIRECT_URL`. Secret. */
    public readonly secretData: Record<string, pulumi.Output<string>>;
    /**
     * Where pods connect to the database, for the namespace's egress policy: a managed cluster's VPC
     * range and its ports (the pool's too), or an external database's `cidr` and its URL's port.
     */
    public readonly destination: NetworkDestination;

    constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:database:Database", name, {}, opts);
        const d = DATABASE_DEFAULTS;
        this.secretName = args.secretName ?? d.secretName;

        if (args.mode === "external") {
            this.connectionUrl = pulumi.secret(args.url);
            this.directUrl = this.connectionUrl;
            // The port alone reveals nothing of the credentials, so it leaves the secret; the host
            // is a name (no range to derive), so the range comes from `cidr`.
            const port = pulumi.unsecret(this.connectionUrl.apply((url) => this.portOf(name, url)));
            this.destination = { cidr: args.cidr ?? d.cidr, ports: [port] };
        } else if (args.mode === "shared") {
            const source = readStack(this, name, args.stack);
            // Read, not owned: destroying this stack removes its database and user, never the cluster.
            const cluster = digitalocean.DatabaseCluster.get(
                `${name}-cluster`,
                source.requireOutput("databaseClusterId") as pulumi.Output<string>,
                undefined,
                { parent: this },
            );
            ({ directUrl: this.directUrl } = this.addDatabase(name, cluster, args.databaseName, args.user, false));
            this.connectionUrl = this.directUrl;
            this.destination = { cidr: this.vpcRange(cluster), ports: [cluster.port] };
        } else {
            const protect = args.protect ?? d.protect;
            this.databaseCluster = new digitalocean.DatabaseCluster(
                `${name}-cluster`,
                {
                    name: args.name ?? name,
                    engine: "pg",
                    version: args.version ?? d.version,
                    size: args.size ?? d.size,
                    nodeCount: args.nodeCount ?? d.nodeCount,
                    region: args.region,
                    privateNetworkUuid: args.cluster.vpcId,
                    tags: args.tags,
                    // DigitalOcean restores only when it creates the cluster; later changes here do nothing.
                    backupRestore: args.restoreFrom && { databaseName: args.restoreFrom.cluster, backupCreatedAt: args.restoreFrom.at },
                },
                { parent: this, protect },
            );
            const cluster = this.databaseCluster;
            this.databaseClusterId = cluster.id;
            const restored = args.restoreFrom !== undefined;

            new digitalocean.DatabaseFirewall(
                `${name}-firewall`,
                // Only the Kubernetes cluster's nodes may connect; the port is never public.
                { clusterId: cluster.id, rules: [{ type: "k8s", value: args.cluster.clusterIdentifier }] },
                { parent: this },
            );
            const { database, user, directUrl } = this.addDatabase(
                name,
                cluster,
                args.databaseName ?? d.databaseName,
                args.user ?? d.user,
                protect,
                restored,
            );
            this.directUrl = directUrl;
            if (args.pool) {
                const pool = new digitalocean.DatabaseConnectionPool(
                    `${name}-pool`,
                    {
                        clusterId: cluster.id,
                        name: `${args.databaseName ?? d.databaseName}-pool`,
                        dbName: database.name,
                        user: user.name,
                        size: args.pool.size,
                        mode: args.pool.mode ?? d.pool.mode,
                    },
                    { parent: this },
                );
                this.connectionUrl = postgresUrl({
                    user: user.name,
                    password: user.password,
                    host: pool.privateHost,
                    port: pool.port,
                    database: pool.name,
                });
                this.destination = { cidr: this.vpcRange(cluster), ports: [cluster.port, pool.port] };
            } else {
                this.connectionUrl = this.directUrl;
                this.destination = { cidr: this.vpcRange(cluster), ports: [cluster.port] };
            }
        }

        this.secretData = { DATABASE_URL: this.connectionUrl, DATABASE_DIRECT_URL: this.directUrl };

        this.registerOutputs({
            secretName: this.secretName,
            secretData: this.secretData,
            connectionUrl: this.connectionUrl,
            directUrl: this.directUrl,
            databaseCluster: this.databaseCluster,
            databaseClusterId: this.databaseClusterId,
            destination: this.destination,
        });
    }

    /** A managed cluster's private network range: its private host is an address in it. */
    private vpcRange(cluster: { privateNetworkUuid: pulumi.Output<string> }): pulumi.Output<string> {
        return digitalocean.getVpcOutput({ id: cluster.privateNetworkUuid }, { parent: this }).ipRange;
    }

    /** The port a connection URL names (PostgreSQL's 5432 when none); a message never shows the URL. */
    private portOf(name: string, url: string): number {
        let parsed: URL | undefined;
        try {
            parsed = new URL(url);
        } catch {
            parsed = undefined;
        }
        if (!parsed?.hostname) {
            throw new pulumi.ResourceError(
                `${name}: url: is not a URL like postgresql://user:password@host:5432/database (its value is not shown)`,
                this,
            );
        }
        return parsed.port ? Number(parsed.port) : POSTGRES_PORT;
    }

    /**
     * The environment's database and user in a managed cluster, and the URL straight to it. In a
     * cluster restored from a backup they already exist (with the source's data and password), so
     * they are read, on every run: a password reset after the restore reaches the Secret on the next `up`.
     */
    private addDatabase(
        name: string,
        cluster: { id: pulumi.Output<string>; privateHost: pulumi.Output<string>; port: pulumi.Output<number> },
        databaseName: string,
        userName: string,
        protect: boolean,
        restored = false,
    ) {
        const opts = { parent: this };
        const database = restored
            ? digitalocean.DatabaseDb.get(
                  `${name}-db`,
                  pulumi.interpolate`${cluster.id}/database/${databaseName}`,
                  {
                      clusterId: cluster.id,
                      name: databaseName,
                  },
                  opts,
              )
            : new digitalocean.DatabaseDb(`${name}-db`, { clusterId: cluster.id, name: databaseName }, { ...opts, protect });
        const user = restored
            ? digitalocean.DatabaseUser.get(
                  `${name}-user`,
                  pulumi.interpolate`${cluster.id}/user/${userName}`,
                  { clusterId: cluster.id, name: userName },
                  opts,
              )
            : new digitalocean.DatabaseUser(`${name}-user`, { clusterId: cluster.id, name: userName }, opts);
        const directUrl = postgresUrl({
            user: user.name,
            password: user.password,
            host: cluster.privateHost,
            port: cluster.port,
            database: database.name,
        });
        return { database, user, directUrl };
    }
}
