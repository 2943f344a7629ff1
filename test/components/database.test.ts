import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { Database, DigitalOceanDatabaseArgs, ServerDatabaseArgs } from "../../components/database";
import { defaultState, FAKE_VPC_RANGE, isSecretInput, isSecretOutput, promiseOf, Recorder } from "../mocks";

const DB_CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster";
const FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall";
const DB = "digitalocean:index/databaseDb:DatabaseDb";
const USER = "digitalocean:index/databaseUser:DatabaseUser";
const POOL = "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool";

// What DigitalOcean reports back: private host and port of the cluster and pool, the user's generated password.
const fakeState = (mock: { type: string; name: string; inputs: any }) => {
    switch (mock.type) {
        case DB_CLUSTER:
            return { ...defaultState(mock as any), privateHost: "private-db.b.db.ondigitalocean.com", port: 25060 };
        case USER:
            return { password: "p@ss/word" };
        case POOL:
            return { privateHost: "private-pool.b.db.ondigitalocean.com", port: 25061 };
        default:
            return defaultState(mock as any);
    }
};

async function build(args: Parameters<typeof newDatabase>[0]) {
    const recorder = new Recorder(fakeState);
    await recorder.install("test");
    const database = newDatabase(args);
    await recorder.settle();
    return { recorder, database };
}

function newDatabase(extra: Partial<DigitalOceanDatabaseArgs> | { mode: "external"; url: string; cidr?: string } | ServerDatabaseArgs) {
    if ("mode" in extra && (extra.mode === "external" || extra.mode === "server")) return new Database("homolog", extra);
    return new Database("homolog", {
        mode: "digitalocean",
        region: "nyc1",
        cluster: { clusterIdentifier: "doks-id", vpcId: "vpc-id" },
        ...extra,
    });
}

/** The database's network destination, resolved. */
async function destinationOf(database: Database) {
    return {
        cidr: await promiseOf(database.destination.cidr),
        ports: await Promise.all(database.destination.ports.map((port) => promiseOf(port))),
    };
}

describe("Database", () => {
    describe("digitalocean mode, restored from another cluster's backup", () => {
        it("creates the cluster from the backup at the point in time, and reads the database and user it brings", async () => {
            const { recorder, database } = await build({
                restoreFrom: { cluster: "esteira-prod-db", at: "2026-03-01T02:30:00Z" },
                protect: true,
            });
            const cluster = recorder.get(DB_CLUSTER, "homolog-cluster");
            assert.deepStrictEqual(cluster.inputs.backupRestore, {
                databaseName: "esteira-prod-db",
                backupCreatedAt: "2026-03-01T02:30:00Z",
            });
            assert.deepStrictEqual(recorder.all(DB), [], "the restored database is not created again");
            assert.deepStrictEqual(recorder.all(USER), [], "nor its user");
            const reads = recorder.reads.map((r) => [r.type, r.name, r.id]);
            assert.deepStrictEqual(reads, [
                [DB, "homolog-db", "homolog-cluster-id/database/app"],
                [USER, "homolog-user", "homolog-cluster-id/user/app"],
            ]);
            assert.strictEqual(
                await promiseOf(database.directUrl),
                "postgresql://app:p%40ss%2Fword@private-db.b.db.ondigitalocean.com:25060/app?sslmode=require",
                "the URL carries the restored user's password, read from DigitalOcean",
            );
            assert.ok(await isSecretOutput(database.directUrl));
            recorder.get(FIREWALL, "homolog-firewall");
        });

        it("restores the latest backup when no time is given", async () => {
            const { recorder } = await build({ restoreFrom: { cluster: "esteira-prod-db" } });
            assert.deepStrictEqual(recorder.get(DB_CLUSTER, "homolog-cluster").inputs.backupRestore, { databaseName: "esteira-prod-db" });
        });
    });

    describe("digitalocean mode", () => {
        it("creates a PostgreSQL cluster in the Kubernetes cluster's VPC, with defaults", async () => {
            const { recorder } = await build({});
            const cluster = recorder.get(DB_CLUSTER, "homolog-cluster");
            assert.strictEqual(recorder.parentOf(cluster)?.urn, recorder.get("esteira:database:Database", "homolog").urn);
            assert.deepStrictEqual(cluster.inputs, {
                name: "homolog",
                engine: "pg",
                version: "16",
                size: "db-s-1vcpu-1gb",
                nodeCount: 1,
                region: "nyc1",
                privateNetworkUuid: "vpc-id",
            });
            assert.strictEqual(cluster.protect, false);
        });

        it("admits only the Kubernetes cluster through the firewall", async () => {
            const { recorder } = await build({});
            const firewall = recorder.get(FIREWALL, "homolog-firewall");
            assert.deepStrictEqual(firewall.inputs, { clusterId: "homolog-cluster-id", rules: [{ type: "k8s", value: "doks-id" }] });
        });

        it("creates the environment's database and user", async () => {
            const { recorder } = await build({ databaseName: "shop", user: "shop-app" });
            assert.deepStrictEqual(recorder.get(DB, "homolog-db").inputs, { clusterId: "homolog-cluster-id", name: "shop" });
            assert.deepStrictEqual(recorder.get(USER, "homolog-user").inputs, { clusterId: "homolog-cluster-id", name: "shop-app" });
            assert.deepStrictEqual(recorder.all(POOL), [], "no pool unless asked");
        });

        it("builds a private, TLS-only connection URL, escaped and secret", async () => {
            const { database } = await build({});
            assert.strictEqual(
                await promiseOf(database.connectionUrl),
                "postgresql://app:p%40ss%2Fword@private-db.b.db.ondigitalocean.com:25060/app?sslmode=require",
            );
            assert.ok(await isSecretOutput(database.connectionUrl), "the connection URL must be secret");
        });

        it("goes through a connection pool when one is configured", async () => {
            const { recorder, database } = await build({ pool: { size: 10 } });
            assert.deepStrictEqual(recorder.get(POOL, "homolog-pool").inputs, {
                clusterId: "homolog-cluster-id",
                name: "app-pool",
                dbName: "app",
                user: "app",
                size: 10,
                mode: "transaction",
            });
            assert.strictEqual(
                await promiseOf(database.connectionUrl),
                "postgresql://app:p%40ss%2Fword@private-pool.b.db.ondigitalocean.com:25061/app-pool?sslmode=require",
            );
        });

        it("protects the database cluster, the database and its user, and takes size, version and nodes", async () => {
            const { recorder } = await build({
                protect: true,
                nodeCount: 2,
                size: "db-s-2vcpu-4gb",
                version: "17",
                name: "shop-db",
            });
            const cluster = recorder.get(DB_CLUSTER, "homolog-cluster");
            assert.strictEqual(cluster.protect, true);
            assert.strictEqual(recorder.get(DB, "homolog-db").protect, true);
            assert.strictEqual(recorder.get(USER, "homolog-user").protect, true, "deleting the user cuts every pod off");
            assert.strictEqual(cluster.inputs.nodeCount, 2);
            assert.strictEqual(cluster.inputs.size, "db-s-2vcpu-4gb");
            assert.strictEqual(cluster.inputs.version, "17");
            assert.strictEqual(cluster.inputs.name, "shop-db");
        });

        it("lives in the Kubernetes cluster's region unless told, the one its private network reaches", async () => {
            const { recorder } = await build({
                region: undefined,
                cluster: { clusterIdentifier: "doks-id", vpcId: "vpc-id", region: "ams3" },
            });
            assert.strictEqual(recorder.get(DB_CLUSTER, "homolog-cluster").inputs.region, "ams3");
            await assert.rejects(build({ region: undefined, cluster: { clusterIdentifier: "doks-id" } }), {
                message: "homolog: region: is required when the cluster's is unknown",
            });
        });

        it("retainOnDelete leaves a replaced or destroyed database behind, data, user and firewall included; off by default", async () => {
            const kept = [DB_CLUSTER, DB, USER, FIREWALL];
            const { recorder } = await build({ retainOnDelete: true });
            for (const type of kept) assert.strictEqual(recorder.all(type)[0].retainOnDelete, true, type);
            const plain = await build({});
            for (const type of kept) assert.strictEqual(plain.recorder.all(type)[0].retainOnDelete, false, type);
        });

        it("exports the database cluster id for stacks that share it", async () => {
            const { database } = await build({});
            assert.strictEqual(await promiseOf(database.databaseClusterId), "homolog-cluster-id");
        });

        it("is reached in its VPC's range, on the cluster's port and the pool's", async () => {
            const plain = await build({});
            assert.deepStrictEqual(await destinationOf(plain.database), { cidr: FAKE_VPC_RANGE, ports: [25060] });
            const vpcLookups = plain.recorder.calls.filter((c) => c.token === "digitalocean:index/getVpc:getVpc");
            assert.deepStrictEqual(
                vpcLookups.map((c) => c.inputs),
                [{ id: "vpc-id" }],
                "the range of the VPC the database cluster is in",
            );
            const pooled = await build({ pool: { size: 10 } });
            assert.deepStrictEqual(await destinationOf(pooled.database), { cidr: FAKE_VPC_RANGE, ports: [25060, 25061] });
        });
    });

    describe("external mode", () => {
        it("creates no DigitalOcean resource and passes the URL on as a secret", async () => {
            const { recorder, database } = await build({ mode: "external", url: "postgresql://u:p@db:5432/app" });
            assert.deepStrictEqual(
                recorder.resources.filter((r) => r.type.startsWith("digitalocean:")),
                [],
            );
            assert.strictEqual(await promiseOf(database.connectionUrl), "postgresql://u:p@db:5432/app");
            assert.ok(await isSecretOutput(database.connectionUrl));
            assert.strictEqual(database.databaseClusterId, undefined);
        });

        it("is reached on its URL's port (5432 when it names none), which leaves the secret; anywhere unless a cidr is given", async () => {
            const named = await build({ mode: "external", url: "postgresql://u:p@db.internal:5433/app" });
            assert.deepStrictEqual(await destinationOf(named.database), { cidr: "0.0.0.0/0", ports: [5433] });
            assert.strictEqual(await isSecretOutput(named.database.destination.ports[0] as any), false, "a port is no secret");
            const unnamed = await build({ mode: "external", url: "postgresql://u:p@db.internal/app", cidr: "10.0.8.0/24" });
            assert.deepStrictEqual(await destinationOf(unnamed.database), { cidr: "10.0.8.0/24", ports: [5432] });
        });

        it("refuses a URL it cannot read a port from, without showing it", async () => {
            const recorder = new Recorder(fakeState);
            await recorder.install("test");
            const database = newDatabase({ mode: "external", url: "user:s3cret@db" });
            // Expected at once, in the tick the output is made: awaited only after the mocks settle,
            // its rejection would sit unhandled meanwhile (Node's PromiseRejectionHandledWarning).
            const refused = assert.rejects(promiseOf(database.destination.ports[0]), (err: Error) => {
                // The engine may prefix where it met the error; the message itself names the key, never the value.
                assert.ok(
                    err.message.endsWith(
                        "homolog: url: is not a URL like postgresql://user:password@host:5432/database (its value is not shown)",
                    ),
                    err.message,
                );
                assert.ok(!err.message.includes("s3cret"), "the URL is never shown");
                return true;
            });
            await recorder.settle();
            await refused;
        });
    });

    describe("server mode", () => {
        const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
        const adminUrl = "postgresql://admin:s3cret@10.213.0.1:5433/postgres?sslmode=disable";
        const server = (extra: Partial<ServerDatabaseArgs> = {}): ServerDatabaseArgs => ({
            mode: "server",
            databaseName: "esteira-pr-7",
            user: "esteira-pr-7",
            adminUrl: pulumi.secret(adminUrl),
            ...extra,
        });

        it("makes its own role and database on the server, through the secret admin connection", async () => {
            const { recorder } = await build(server());
            const role = recorder.get(DYNAMIC, "homolog-role");
            const db = recorder.get(DYNAMIC, "homolog-db");
            assert.strictEqual(role.inputs.name, "esteira-pr-7");
            assert.strictEqual(db.inputs.name, "esteira-pr-7");
            assert.strictEqual(db.inputs.owner, "esteira-pr-7", "the role owns the database");
            for (const resource of [role, db]) {
                assert.strictEqual(recorder.parentOf(resource)?.type, "esteira:database:Database");
                assert.ok(isSecretInput(resource, "adminUrl"), `${resource.name}: the admin URL stays secret`);
            }
            assert.deepStrictEqual(role.additionalSecretOutputs, ["password"], "the generated password is a secret output");
            assert.ok(db.dependencies.includes(role.urn), "the database waits for its owner (and is dropped before it)");
        });

        it("pods connect as the role, to its database, on the admin connection's server and TLS mode", async () => {
            const { database } = await build(server());
            assert.strictEqual(
                await promiseOf(database.connectionUrl),
                "postgresql://esteira-pr-7:generated-role-password@10.213.0.1:5433/esteira-pr-7?sslmode=disable",
            );
            assert.ok(await isSecretOutput(database.connectionUrl));
            assert.strictEqual(await promiseOf(database.directUrl), await promiseOf(database.connectionUrl), "no pool: one URL");
            assert.deepStrictEqual(await promiseOf(database.destination.ports[0]), 5433, "pods may reach the server's port");
        });
    });

    describe("the server's admin connection", () => {
        it("is no output of any mode: a stack never hands it to another through its state", async () => {
            const databases = {
                digitalocean: (await build({})).database,
                external: (await build({ mode: "external", url: "postgresql://u:p@db:5432/app" })).database,
                server: (
                    await build({
                        mode: "server",
                        databaseName: "d",
                        user: "u",
                        adminUrl: pulumi.secret("postgresql://admin:a@db:5432/postgres"),
                    })
                ).database,
            };
            for (const [mode, database] of Object.entries(databases)) {
                assert.ok(!("adminUrl" in database), `${mode}: no adminUrl output`);
            }
        });
    });
});
