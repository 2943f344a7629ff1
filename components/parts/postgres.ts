/**
 * A database and its owning role in any PostgreSQL server, created through an admin connection:
 * Pulumi dynamic resources over the `pg` client. (The `@pulumi/postgresql` provider cannot be
 * built here: its Terraform provider module is not served by the Go module proxy, from which the local
 * line builds every plugin; the README's Layout says what each hand-written stand-in replaces.)
 *
 * The role's password is generated when the role is created and is a secret output; the admin URL
 * is a secret input. Every statement quotes names as identifiers and values as literals.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * Statements that create a login role with a password. The admin joins the role: creating a
 * database owned by it, and later dropping that database, both need to act as its owner (the
 * admin is a CREATEROLE role, not a superuser).
 */
export function createRoleStatements(role: string, password: string): string[] {
    return [`CREATE ROLE ${ident(role)} LOGIN PASSWORD ${literal(password)}`, `GRANT ${ident(role)} TO CURRENT_USER`];
}

export function dropRoleStatements(role: string): string[] {
    return [`DROP ROLE IF EXISTS ${ident(role)}`];
}

/**
 * Statements that create a database owned by `owner` that nobody else may connect to: PostgreSQL
 * grants CONNECT and TEMPORARY to PUBLIC on every new database, so each environment's role could
 * otherwise reach every other environment's database on the same server.
 */
export function createDatabaseStatements(database: string, owner: string): string[] {
    return [
        `CREATE DATABASE ${ident(database)} OWNER ${ident(owner)}`,
        `REVOKE ALL ON DATABASE ${ident(database)} FROM PUBLIC`,
        `GRANT CONNECT, TEMPORARY ON DATABASE ${ident(database)} TO ${ident(owner)}`,
    ];
}

/** Sessions still connected (pods being deleted) must not keep the database alive. */
export function dropDatabaseStatements(database: string): string[] {
    return [`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`];
}

/** `"name"` with inner quotes doubled, as PostgreSQL quotes identifiers. */
export function ident(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
}

/** `'value'` with inner quotes doubled; standard_conforming_strings makes backslashes literal. */
export function literal(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The URL a database's role connects with: the admin URL's server and its query (e.g. `sslmode`),
 * with the role's credentials and the database. Secret.
 */
export function roleUrl(
    adminUrl: pulumi.Input<string>,
    role: pulumi.Input<string>,
    password: pulumi.Input<string>,
    database: pulumi.Input<string>,
) {
    return pulumi.secret(
        pulumi.all([adminUrl, role, password, database]).apply(([admin, user, pass, db]) => {
            const url = new URL(admin);
            url.username = encodeURIComponent(user);
            url.password = encodeURIComponent(pass);
            url.pathname = `/${encodeURIComponent(db)}`;
            return url.toString();
        }),
    );
}

/** Runs statements, in order, over one admin connection. Required lazily: it runs in the provider. */
async function run(adminUrl: string, statements: string[]): Promise<void> {
    const { Client } = require("pg") as typeof import("pg");
    const url = new URL(adminUrl);
    const sslmode = url.searchParams.get("sslmode");
    // node-postgres reads sslmode=require as verify-full; libpq (and managed PostgreSQL's URLs) mean
    // encrypted without verifying the server's certificate. verify-* keep their full meaning.
    url.searchParams.delete("sslmode");
    const ssl =
        sslmode === "require" || sslmode === "prefer" ? { rejectUnauthorized: false } : sslmode?.startsWith("verify") ? {} : undefined;
    const client = new Client({ connectionString: url.toString(), ssl, connectionTimeoutMillis: 15_000 });
    await client.connect();
    try {
        for (const statement of statements) await client.query(statement);
    } finally {
        await client.end();
    }
}

interface RoleState {
    adminUrl: string;
    name: string;
    password: string;
}

const roleProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: RoleState) {
        const password = require("crypto").randomBytes(24).toString("base64url");
        await run(inputs.adminUrl, createRoleStatements(inputs.name, password));
        return { id: inputs.name, outs: { adminUrl: inputs.adminUrl, name: inputs.name, password } };
    },
    async diff(_id, olds: RoleState, news: RoleState) {
        return { changes: olds.name !== news.name || olds.adminUrl !== news.adminUrl, replaces: olds.name !== news.name ? ["name"] : [] };
    },
    // Only the admin connection changed (a rotated admin password): the role stays as it is.
    async update(_id, olds: RoleState, news: RoleState) {
        return { outs: { adminUrl: news.adminUrl, name: news.name, password: olds.password } };
    },
    async delete(_id, props: RoleState) {
        await run(props.adminUrl, dropRoleStatements(props.name));
    },
};

interface DatabaseState {
    adminUrl: string;
    name: string;
    owner: string;
}

const databaseProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: DatabaseState) {
        await run(inputs.adminUrl, createDatabaseStatements(inputs.name, inputs.owner));
        return { id: inputs.name, outs: inputs };
    },
    async diff(_id, olds: DatabaseState, news: DatabaseState) {
        const replaces = (["name", "owner"] as const).filter((key) => olds[key] !== news[key]);
        return { changes: replaces.length > 0 || olds.adminUrl !== news.adminUrl, replaces };
    },
    async update(_id, _olds: DatabaseState, news: DatabaseState) {
        return { outs: news };
    },
    async delete(_id, props: DatabaseState) {
        await run(props.adminUrl, dropDatabaseStatements(props.name));
    },
};

/** A login role with a generated password (a secret output). */
export class PostgresRole extends pulumi.dynamic.Resource {
    declare public readonly name: pulumi.Output<string>;
    declare public readonly password: pulumi.Output<string>;

    constructor(name: string, args: { adminUrl: pulumi.Input<string>; name: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(
            roleProvider,
            name,
            { ...args, adminUrl: pulumi.secret(args.adminUrl), password: undefined },
            { ...opts, additionalSecretOutputs: ["password"] },
        );
    }
}

/** A database owned by a role, closed to every other role. */
export class PostgresDatabase extends pulumi.dynamic.Resource {
    declare public readonly name: pulumi.Output<string>;

    constructor(
        name: string,
        args: { adminUrl: pulumi.Input<string>; name: pulumi.Input<string>; owner: pulumi.Input<string> },
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(databaseProvider, name, { ...args, adminUrl: pulumi.secret(args.adminUrl) }, opts);
    }
}
