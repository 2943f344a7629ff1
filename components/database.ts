import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import { readStack } from "./stack-reference";

/** A managed PostgreSQL cluster created by this stack, reachable only from the Kubernetes cluster. */
export interface DigitalOceanDatabaseArgs {
    mode: "digitalocean";
    /** Region slug; keep it the cluster's so the private network reaches it. */
    region: string;
    /** VPC of the Kubernetes cluster (`privateNetworkUuid`). Default: the region's default VPC. */
    vpcId?: pulumi.Input<string>;
    /** DOKS cluster id, the only source the database firewall admits. */
    kubernetesClusterId: pulumi.Input<string>;
    /** Database cluster name. Default: the component name. */
    clusterName?: string;
    /** PostgreSQL major version. Default: `16`. */
    version?: string;
    /** Size slug. Default: `db-s-1vcpu-1gb`. */
    size?: string;
    /** Nodes; 2 or more gives a hot standby. Default: 1. */
    nodeCount?: number;
    /** Database name. Default: `app`. */
    databaseName?: string;
    /** Database user. Default: `app`. */
    userName?: string;
    /** PgBouncer pool in front of the database; only created when given. Default mode: `transaction`. */
    pool?: { size: number; mode?: "transaction" | "session" | "statement" };
    /** `protect` the database cluster and the database. Default: false. */
    protect?: boolean;
    /** DigitalOcean tags. Default: none. */
    tags?: string[];
}

/** A database this stack does not manage, given by its connection URL. */
export interface ExternalDatabaseArgs {
    mode: "external";
    /** Connection URL (secret), e.g. `postgresql://user:pass@host:5432/db?sslmode=require`. */
    url: pulumi.Input<string>;
}

/** A database and user of this stack's own inside a database cluster another stack owns. */
export interface SharedDatabaseArgs {
    mode: "shared";
    /** Stack whose `databaseClusterId` output names the database cluster. */
    fromStack: string;
    /** Database name; make it unique per stack. */
    databaseName: string;
    /** Database user; make it unique per stack. */
    userName: string;
}

export type DatabaseArgs = DigitalOceanDatabaseArgs | ExternalDatabaseArgs | SharedDatabaseArgs;

/** Defaults of {@link DigitalOceanDatabaseArgs}, applied once in the component. */
export const DATABASE_DEFAULTS = {
    version: "16",
    size: "db-s-1vcpu-1gb",
    nodeCount: 1,
    databaseName: "app",
    userName: "app",
    poolMode: "transaction",
    protect: false,
} as const;

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

    constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:database:Database", name, {}, opts);

        if (args.mode === "external") {
            this.connectionUrl = pulumi.secret(args.url);
            this.directUrl = this.connectionUrl;
        } else if (args.mode === "shared") {
            const source = readStack(this, name, args.fromStack);
            // Read, not owned: destroying this stack removes its database and user, never the cluster.
            const cluster = digitalocean.DatabaseCluster.get(
                `${name}-cluster`,
                source.requireOutput("databaseClusterId") as pulumi.Output<string>,
                undefined,
                { parent: this },
            );
            ({ directUrl: this.directUrl } = this.addDatabase(name, cluster, args.databaseName, args.userName, false));
            this.connectionUrl = this.directUrl;
        } else {
            const d = DATABASE_DEFAULTS;
            const protect = args.protect ?? d.protect;
            this.databaseCluster = new digitalocean.DatabaseCluster(
                `${name}-cluster`,
                {
                    name: args.clusterName ?? name,
                    engine: "pg",
                    version: args.version ?? d.version,
                    size: args.size ?? d.size,
                    nodeCount: args.nodeCount ?? d.nodeCount,
                    region: args.region,
                    privateNetworkUuid: args.vpcId,
                    tags: args.tags,
                },
                { parent: this, protect },
            );
            const cluster = this.databaseCluster;
            this.databaseClusterId = cluster.id;

            new digitalocean.DatabaseFirewall(
                `${name}-firewall`,
                // Only the Kubernetes cluster's nodes may connect; the port is never public.
                { clusterId: cluster.id, rules: [{ type: "k8s", value: args.kubernetesClusterId }] },
                { parent: this },
            );
            const { database, user, directUrl } = this.addDatabase(
                name,
                cluster,
                args.databaseName ?? d.databaseName,
                args.userName ?? d.userName,
                protect,
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
                        mode: args.pool.mode ?? d.poolMode,
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
            } else {
                this.connectionUrl = this.directUrl;
            }
        }

        this.registerOutputs({
            connectionUrl: this.connectionUrl,
            directUrl: this.directUrl,
            databaseCluster: this.databaseCluster,
            databaseClusterId: this.databaseClusterId,
        });
    }

    /** The environment's database and user in a managed cluster, and the URL straight to it. */
    private addDatabase(
        name: string,
        cluster: { id: pulumi.Output<string>; privateHost: pulumi.Output<string>; port: pulumi.Output<number> },
        databaseName: string,
        userName: string,
        protect: boolean,
    ) {
        const database = new digitalocean.DatabaseDb(
            `${name}-db`,
            { clusterId: cluster.id, name: databaseName },
            { parent: this, protect },
        );
        const user = new digitalocean.DatabaseUser(`${name}-user`, { clusterId: cluster.id, name: userName }, { parent: this });
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
