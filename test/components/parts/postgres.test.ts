import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import {
    createDatabaseStatements,
    createRoleStatements,
    dropDatabaseStatements,
    dropRoleStatements,
    ident,
    literal,
    roleUrl,
} from "../../../components/parts/postgres";
import { isSecretOutput, promiseOf, Recorder } from "../../mocks";

describe("PostgreSQL database and role (parts/postgres)", () => {
    it("quotes names as identifiers and values as literals, doubling inner quotes", () => {
        assert.strictEqual(ident('esteira-pr-7"; DROP ROLE x; --'), '"esteira-pr-7""; DROP ROLE x; --"');
        assert.strictEqual(literal("it's"), "'it''s'");
    });

    it("a role logs in with its password, the admin may act as it; dropping it tolerates a role already gone", () => {
        assert.deepStrictEqual(createRoleStatements("esteira-pr-7", "pw"), [
            `CREATE ROLE "esteira-pr-7" LOGIN PASSWORD 'pw'`,
            // The admin acts as the owner to create and drop the role's database.
            `GRANT "esteira-pr-7" TO CURRENT_USER`,
        ]);
        assert.deepStrictEqual(dropRoleStatements("esteira-pr-7"), [`DROP ROLE IF EXISTS "esteira-pr-7"`]);
    });

    it("a database belongs to its role, and no other role may connect to it", () => {
        assert.deepStrictEqual(createDatabaseStatements("esteira-pr-7", "esteira-pr-7"), [
            `CREATE DATABASE "esteira-pr-7" OWNER "esteira-pr-7"`,
            `REVOKE ALL ON DATABASE "esteira-pr-7" FROM PUBLIC`,
            `GRANT CONNECT, TEMPORARY ON DATABASE "esteira-pr-7" TO "esteira-pr-7"`,
        ]);
    });

    it("dropping a database ends the sessions still connected to it", () => {
        assert.deepStrictEqual(dropDatabaseStatements("esteira-pr-7"), [`DROP DATABASE IF EXISTS "esteira-pr-7" WITH (FORCE)`]);
    });

    it("the role's URL keeps the admin connection's server and query, escapes credentials, and is secret", async () => {
        await new Recorder().install("test");
        const url = roleUrl("postgresql://admin:a@db.example:25060/defaultdb?sslmode=require", "esteira-pr-7", "p@ss/w:rd", "esteira-pr-7");
        assert.strictEqual(await promiseOf(url), "postgresql://esteira-pr-7:p%40ss%2Fw%3Ard@db.example:25060/esteira-pr-7?sslmode=require");
        assert.ok(await isSecretOutput(url));
        assert.ok(pulumi.Output.isInstance(url));
    });
});
