import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { DatabaseSettings } from "../vocabulary/schema";
import type { NetworkDestination } from "./parts/network-policy";
import { PostgresDatabase, PostgresRole, roleUrl } from "./parts/postgres";
import { DATABASE_DEFAULTS } from "../vocabulary/defaults";

type Mode<M extends DatabaseSettings["mode"]> = Extract<DatabaseSettings, { mode: M }>;

/** The Kubernetes cluster a database serves: its VPC and its id, the only source the firewall admits. */
export interface DatabaseClusterLink {
    /** Default: the region's default VPC. */
    vpcId?: pulumi.Input<string>;
    clusterIdentifier: pulumi.Input<string>;
    /** The Kubernetes cluster's region, where its database belongs. Default: none (then `region` is required). */
    region?: string;
}

/**
 * A managed PostgreSQL cluster created by this stack, reachable only from the Kubernetes cluster:
 * the stack file's `esteira:database` keys (vocabulary/schema.ts), plus the cluster and `protect`.
 */
export type DigitalOceanDatabaseArgs = Mode<"digitalocean"> & {
    cluster: DatabaseClusterLink;
    /** `protect` the database cluster, the database and its user. Default: false. */
    protect?: boolean;
};
// `region` defaults to the Kubernetes cluster's (`cluster.region`); one of them must be known.

/** The other modes take the cluster too, unused, so every mode is wired the same way. */
type AnyCluster = { cluster?: DatabaseClusterLink };

/** A database this stack does not manage, given by its connection URL (secret). */
export type ExternalDatabaseArgs = Mode<"external"> & AnyCluster & { url: pulumi.Input<string> };

/**
 * A database and its owning role of this stack's own in any PostgreSQL server, made through the
 * server's admin connection (secret), the stack's own esteira:databaseAdminUrl.
 */
export type ServerDatabaseArgs = Mode<"server"> &
    AnyCluster & {
        databaseName: string;
        user: string;
        adminUrl: pulumi.Input<string>;
        /** `protect` the database and its role. Default: false. */
        protect?: boolean;
    };

export type DatabaseArgs = DigitalOceanDatabaseArgs | ExternalDatabaseArgs | ServerDatabaseArgs;

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
    /** The managed cluster's id, when this stack created one (its monitoring's alerts name it). */
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
        this.secretName = args.secretName ?? DATABASE_DEFAULTS.secretName;

        const parts = databaseParts(this, name, args);
        this.connectionUrl = parts.connectionUrl;
        this.directUrl = parts.directUrl;
        this.destination = parts.destination;
        this.databaseCluster = parts.databaseCluster;
        this.databaseClusterId = parts.databaseClusterId;

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
}

/** What a mode's builder hands the {@link Database}: its URLs, where pods reach it, and what the stack created. */
interface DatabaseParts {
    connectionUrl: pulumi.Output<string>;
    directUrl: pulumi.Output<string>;
    destination: NetworkDestination;
    databaseCluster?: digitalocean.DatabaseCluster;
    databaseClusterId?: pulumi.Output<string>;
}

/** One builder per mode; each names its children `${name}-<role>` under `owner`, as the Database did itself. */
function databaseParts(owner: pulumi.Resource, name: string, args: DatabaseArgs): DatabaseParts {
    switch (args.mode) {
        case "external":
            return useExternalDatabase(owner, name, args);
        case "server":
            return createServerDatabase(owner, name, args);
        default:
            return createDigitalOceanDatabase(owner, name, args);
    }
}

/** A database this stack does not manage: its URL. */
function useExternalDatabase(owner: pulumi.Resource, name: string, args: ExternalDatabaseArgs): DatabaseParts {
    const connectionUrl = pulumi.secret(args.url);
    // The port alone reveals nothing of the credentials, so it leaves the secret; the host
    // is a name (no range to derive), so the range comes from `cidr`.
    const port = pulumi.unsecret(connectionUrl.apply((url) => portOf(owner, name, url)));
    return {
        connectionUrl,
        directUrl: connectionUrl,
        destination: { cidr: args.cidr ?? DATABASE_DEFAULTS.cidr, ports: [port] },
    };
}

/** A database and its owning role of this stack's own on a PostgreSQL server, made through its admin connection. */
function createServerDatabase(owner: pulumi.Resource, name: string, args: ServerDatabaseArgs): DatabaseParts {
    // The server is not this stack's: destroying it drops its database and role, never the server.
    const adminUrl = pulumi.secret(args.adminUrl);
    const keep = { parent: owner, protect: args.protect ?? DATABASE_DEFAULTS.protect };
    const role = new PostgresRole(`${name}-role`, { adminUrl, name: args.user }, keep);
    const database = new PostgresDatabase(`${name}-db`, { adminUrl, name: args.databaseName, owner: role.name }, keep);
    const directUrl = roleUrl(adminUrl, role.name, role.password, database.name);
    const port = pulumi.unsecret(adminUrl.apply((url) => portOf(owner, name, url)));
    return { connectionUrl: directUrl, directUrl, destination: { cidr: args.cidr ?? DATABASE_DEFAULTS.cidr, ports: [port] } };
}

/** A managed PostgreSQL cluster of this stack's in the Kubernetes cluster's VPC, its firewall, database, user and pool. */
function createDigitalOceanDatabase(owner: pulumi.Resource, name: string, args: DigitalOceanDatabaseArgs): DatabaseParts {
    const d = DATABASE_DEFAULTS;
    const region = args.region ?? args.cluster.region;
    if (region === undefined) throw new pulumi.ResourceError(`${name}: region: is required when the cluster's is unknown`, owner);
    // What keeps the data when a change replaces the cluster or the database: protect refuses
    // the replacement; retainOnDelete lets it happen and leaves the old ones, data and all.
    const keep = { protect: args.protect ?? d.protect, retainOnDelete: args.retainOnDelete ?? d.retainOnDelete };
    const cluster = new digitalocean.DatabaseCluster(
        `${name}-cluster`,
        {
            name: args.name ?? name,
            engine: "pg",
            version: args.version ?? d.version,
            size: args.size ?? d.size,
            nodeCount: args.nodeCount ?? d.nodeCount,
            // The cluster's region: its VPC, the only private network the pods reach, is there.
            region,
            privateNetworkUuid: args.cluster.vpcId,
            tags: args.tags,
            // DigitalOcean restores only when it creates the cluster; later changes here do nothing.
            backupRestore: args.restoreFrom && { databaseName: args.restoreFrom.cluster, backupCreatedAt: args.restoreFrom.at },
        },
        { parent: owner, ...keep },
    );
    new digitalocean.DatabaseFirewall(
        `${name}-firewall`,
        // Only the Kubernetes cluster's nodes may connect; the port is never public.
        { clusterId: cluster.id, rules: [{ type: "k8s", value: args.cluster.clusterIdentifier }] },
        // A retained cluster keeps its firewall: with no rules it would admit every address.
        { parent: owner, retainOnDelete: keep.retainOnDelete },
    );
    const restored = args.restoreFrom !== undefined;
    const added = addDatabase(owner, name, cluster, args.databaseName ?? d.databaseName, args.user ?? d.user, keep, restored);
    const { connectionUrl, ports } = args.pool
        ? connectionPool(owner, name, args, cluster, added)
        : { connectionUrl: added.directUrl, ports: [cluster.port] };
    return {
        connectionUrl,
        directUrl: added.directUrl,
        destination: { cidr: vpcRange(owner, cluster), ports },
        databaseCluster: cluster,
        databaseClusterId: cluster.id,
    };
}

/** A managed cluster's connection pool for the environment's database and user, and the URL through it. */
function connectionPool(
    owner: pulumi.Resource,
    name: string,
    args: DigitalOceanDatabaseArgs,
    cluster: digitalocean.DatabaseCluster,
    {
        database,
        user,
    }: { database: { name: pulumi.Output<string> }; user: { name: pulumi.Output<string>; password: pulumi.Output<string> } },
): { connectionUrl: pulumi.Output<string>; ports: pulumi.Output<number>[] } {
    const d = DATABASE_DEFAULTS;
    const pool = new digitalocean.DatabaseConnectionPool(
        `${name}-pool`,
        {
            clusterId: cluster.id,
            name: `${args.databaseName ?? d.databaseName}-pool`,
            dbName: database.name,
            user: user.name,
            size: args.pool!.size,
            mode: args.pool!.mode ?? d.pool.mode,
        },
        { parent: owner },
    );
    const connectionUrl = postgresUrl({
        user: user.name,
        password: user.password,
        host: pool.privateHost,
        port: pool.port,
        database: pool.name,
    });
    return { connectionUrl, ports: [cluster.port, pool.port] };
}

/** A managed cluster's private network range: its private host is an address in it. */
function vpcRange(owner: pulumi.Resource, cluster: { privateNetworkUuid: pulumi.Output<string> }): pulumi.Output<string> {
    return digitalocean.getVpcOutput({ id: cluster.privateNetworkUuid }, { parent: owner }).ipRange;
}

/** The port a connection URL names (PostgreSQL's 5432 when none); a message never shows the URL. */
function portOf(owner: pulumi.Resource, name: string, url: string): number {
    let parsed: URL | undefined;
    try {
        parsed = new URL(url);
    } catch {
        parsed = undefined;
    }
    if (!parsed?.hostname) {
        throw new pulumi.ResourceError(
            `${name}: url: is not a URL like postgresql://user:password@host:5432/database (its value is not shown)`,
            owner,
        );
    }
    return parsed.port ? Number(parsed.port) : POSTGRES_PORT;
}

/**
 * The environment's database and user in a managed cluster, and the URL straight to it. In a
 * cluster restored from a backup they already exist (with the source's data and password), so
 * they are read, on every run: a password reset after the restore reaches the Secret on the next `up`.
 */
function addDatabase(
    owner: pulumi.Resource,
    name: string,
    cluster: { id: pulumi.Output<string>; privateHost: pulumi.Output<string>; port: pulumi.Output<number> },
    databaseName: string,
    userName: string,
    keep: { protect: boolean; retainOnDelete?: boolean },
    restored = false,
) {
    const opts = { parent: owner };
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
        : new digitalocean.DatabaseDb(`${name}-db`, { clusterId: cluster.id, name: databaseName }, { ...opts, ...keep });
    // The user is kept too: deleting it cuts every pod off the database.
    const user = restored
        ? digitalocean.DatabaseUser.get(
              `${name}-user`,
              pulumi.interpolate`${cluster.id}/user/${userName}`,
              { clusterId: cluster.id, name: userName },
              opts,
          )
        : new digitalocean.DatabaseUser(`${name}-user`, { clusterId: cluster.id, name: userName }, { ...opts, ...keep });
    const directUrl = postgresUrl({
        user: user.name,
        password: user.password,
        host: cluster.privateHost,
        port: cluster.port,
        database: database.name,
    });
    return { database, user, directUrl };
}
