/**
 * Ephemeral environments, end to end with the real engine: the `local` stack as the base (it
 * exports its cluster's kubeconfig and its PostgreSQL server's admin connection, as secrets), and
 * pull-request stacks made from stacks/pr.local.template.yaml by scripts/pr-stack.sh, the same
 * script review.yml runs on GitHub. Every stack shares one working copy and one file backend, as
 * they share one backend in the review zone.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
    changes,
    databaseAdminUrl,
    eventually,
    flushTimings,
    kube,
    LocalStack,
    localStack,
    namespaceGone,
    openStack,
    prStackScript,
    psql,
    REPO_ROOT,
    serviceUrl,
    timed,
    WorkDir,
    workDir,
    writtenVersion,
} from "./harness";

const TEMPLATE = "stacks/pr.local.template.yaml";
const SERVICE = "sample";
const namespaceOf = (pr: number) => `esteira-pr-${pr}`;
/** What a PR stack names its database and role: the project and the environment (its stack name). */
const databaseOf = (pr: number) => `esteira-pr-${pr}`;

describe("ephemeral pull-request stacks on the local base, end to end", function () {
    this.timeout(20 * 60 * 1000);

    let work: WorkDir;
    let base: LocalStack;
    const { core, apps } = kube();

    const prUp = (pr: number) => prStackScript(work, ["up", String(pr), "--template", TEMPLATE]);
    const prDestroy = (pr: number) => prStackScript(work, ["destroy", String(pr)]);
    const stackNames = async () => (await base.stack.workspace.listStacks()).map((s) => s.name);
    const exists = (sql: string) => psql(sql, databaseAdminUrl) === "1";
    const databaseExists = (name: string) => exists(`SELECT count(*) FROM pg_database WHERE datname = '${name}'`);
    const roleExists = (name: string) => exists(`SELECT count(*) FROM pg_roles WHERE rolname = '${name}'`);
    /** The URL a PR stack's pods connect with, read back from its namespace's Secret. */
    const appUrl = async (pr: number) => {
        const secret = await core.readNamespacedSecret({ name: "db-credentials", namespace: namespaceOf(pr) });
        return Buffer.from(secret.data!.DATABASE_URL, "base64").toString();
    };
    const deploymentVersion = async (namespace: string) =>
        writtenVersion(await apps.readNamespacedDeployment({ name: SERVICE, namespace }));

    before(async () => {
        work = workDir("ephemeral");
        base = await localStack("local", { work });
        const result = await timed("base up (local)", () => base.stack.up({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");
        assert.ok(result.outputs.kubeconfig?.secret, "the base exports its kubeconfig, as a secret");
        assert.ok(result.outputs.databaseAdminUrl?.secret, "the base exports its server's admin connection, as a secret");
        assert.ok(result.outputs.tenantKubeconfig?.secret, "the base exports the tenant identity PR stacks deploy with, as a secret");
    });

    after(async () => {
        flushTimings();
        // Whatever a failed run left: the stacks (PR stacks first), then what the local stand-ins hold.
        for (const pr of [7, 8]) await prDestroy(pr);
        if ((await stackNames()).includes("local")) await base.stack.destroy({ color: "never" }).catch(() => undefined);
        for (const pr of [7, 8]) {
            psql(`DROP DATABASE IF EXISTS "${databaseOf(pr)}" WITH (FORCE)`, databaseAdminUrl);
            psql(`DROP ROLE IF EXISTS "${databaseOf(pr)}"`, databaseAdminUrl);
        }
        base?.dispose();
    });

    it("two pull-request stacks come up side by side, each with only its namespace, database, role, secrets and services", async () => {
        for (const pr of [7, 8]) {
            const { code, output } = await timed(`pr-${pr} up`, () => prUp(pr));
            assert.strictEqual(code, 0, output.slice(-3000));
            await core.readNamespace({ name: namespaceOf(pr) });
            assert.ok(databaseExists(databaseOf(pr)), `database ${databaseOf(pr)} exists`);
            assert.ok(roleExists(databaseOf(pr)), `role ${databaseOf(pr)} exists`);
            const pods = (await core.listNamespacedPod({ namespace: namespaceOf(pr), labelSelector: `app.kubernetes.io/name=${SERVICE}` }))
                .items;
            assert.ok(
                pods.some((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")),
                `pr-${pr}'s app is Ready`,
            );
        }
        const pr7 = await openStack("pr-7", work);
        const state = await pr7.stack.exportStack();
        const owned = state.deployment.resources.filter((r: any) => r.custom && !r.type.startsWith("pulumi:")).map((r: any) => r.type);
        for (const type of owned) {
            assert.ok(
                type.startsWith("kubernetes:") || type === "pulumi-nodejs:dynamic:Resource" || type === "docker-build:index:Image",
                `a PR stack owns no ${type}`,
            );
        }
    });

    it("each app sees only its own database: its role cannot connect to the other's", async () => {
        const url7 = new URL(await appUrl(7));
        assert.strictEqual(url7.pathname, `/${databaseOf(7)}`);
        assert.strictEqual(psql("SELECT current_database()", url7.toString()), databaseOf(7));
        const other = new URL(url7.toString());
        other.pathname = `/${databaseOf(8)}`;
        assert.throws(() => psql("SELECT 1", other.toString()), /permission denied for database "esteira-pr-8"/);

        // What the app writes through its Service lands in its own database only.
        const text = `pr-7 note ${Date.now()}`;
        const created = await fetch(`${await serviceUrl(namespaceOf(7), SERVICE)}/api/notes`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ text }),
        });
        assert.strictEqual(created.status, 201);
        assert.strictEqual(psql(`SELECT count(*) FROM notes WHERE text = '${text}'`, url7.toString()), "1");
        assert.strictEqual(psql(`SELECT count(*) FROM notes WHERE text = '${text}'`, await appUrl(8)), "0");
    });

    it("pr-stack.sh preview runs the policy pack: a pull request's stack passes it, and one with a mandatory violation is blocked", async () => {
        const passed = await timed("pr-stack.sh preview (policy pack)", () =>
            prStackScript(work, ["preview", "9", "--template", TEMPLATE]),
        );
        assert.strictEqual(passed.code, 0, passed.output.slice(-3000));
        assert.match(passed.output, /pr-9: pulumi preview \(policy pack\)/);
        // The same pack judging the pull request as prod, with its service public without TLS.
        const pack = path.join(work.dir, ".policy-strict");
        fs.cpSync(path.join(REPO_ROOT, "policy"), pack, { recursive: true, filter: (src) => !src.includes("node_modules") });
        fs.symlinkSync(path.join(REPO_ROOT, "policy", "node_modules"), path.join(pack, "node_modules"));
        fs.copyFileSync(path.join(pack, "config", "prod.json"), path.join(pack, "config", "pr.json"));
        const template = parseYaml(fs.readFileSync(path.join(work.dir, TEMPLATE), "utf8"));
        template.config["esteira:services"][SERVICE].service = { type: "LoadBalancer" };
        template.config["esteira:services"][SERVICE].metrics = { port: 9100 };
        fs.writeFileSync(path.join(work.dir, "pr-public.template.yaml"), stringifyYaml(template));
        try {
            const blocked = await timed("pr-stack.sh preview (policy violation)", () =>
                prStackScript(work, ["preview", "9", "--template", "pr-public.template.yaml"], { ESTEIRA_POLICY_PACK: pack }),
            );
            assert.notStrictEqual(blocked.code, 0, blocked.output.slice(-3000));
            assert.match(blocked.output, /\[mandatory\]\s+prod-public-service-tls/, blocked.output.slice(-3000));
            const up = await prStackScript(work, ["up", "9", "--template", "pr-public.template.yaml"], { ESTEIRA_POLICY_PACK: pack });
            assert.notStrictEqual(up.code, 0, "pr-stack.sh up is blocked the same way");
            // Nothing was created: there is no namespace to wait for.
            await namespaceGone("esteira-pr-9", 5_000);
        } finally {
            fs.rmSync(pack, { recursive: true, force: true });
            await prDestroy(9);
        }
    });

    it("a pull-request stack's preview right after its up shows no change", async () => {
        const pr7 = await openStack("pr-7", work);
        const preview = await timed("pr-7 preview (no-op)", () => pr7.stack.preview({ color: "never" }));
        assert.deepStrictEqual(changes(preview.changeSummary), []);
    });

    it("a destroy started while an up of the same stack runs fails fast on the lock; the state stays whole", async () => {
        const pr8 = await openStack("pr-8", work);
        pr8.editConfig((config) => {
            config["esteira:services"][SERVICE].env = { ...config["esteira:services"][SERVICE].env, RELEASE: "second push" };
        });
        const up = pr8.stack.up({ color: "never" });
        // The up holds the stack's lock once the engine has started.
        await eventually("the up to hold the lock", async () => ((await stackLocked(work)) ? true : undefined), 60_000);
        const started = Date.now();
        const { code, output } = await prDestroy(8);
        assert.notStrictEqual(code, 0, "the destroy does not run under a running up");
        assert.match(output, /locked/);
        assert.ok(Date.now() - started < 30_000, "it fails fast");
        assert.strictEqual((await up).summary.result, "succeeded");
        const preview = await pr8.stack.preview({ color: "never" });
        assert.deepStrictEqual(changes(preview.changeSummary), [], "the state matches what is deployed");
    });

    it("destroying pr-7 leaves no namespace, database, role or state of it; pr-8 and the base are untouched", async () => {
        const before = {
            pr8: await deploymentVersion(namespaceOf(8)),
            base: await deploymentVersion("esteira-local"),
            pr8Rows: psql("SELECT count(*) FROM notes", await appUrl(8)),
        };
        const { code, output } = await timed("pr-7 destroy", () => prDestroy(7));
        assert.strictEqual(code, 0, output.slice(-3000));
        await namespaceGone(namespaceOf(7));
        assert.ok(!databaseExists(databaseOf(7)), "its database is dropped");
        assert.ok(!roleExists(databaseOf(7)), "its role is dropped");
        assert.ok(!(await stackNames()).includes("pr-7"), "its stack is removed (stack rm)");
        assert.strictEqual(await deploymentVersion(namespaceOf(8)), before.pr8, "pr-8's Deployment is untouched");
        assert.strictEqual(await deploymentVersion("esteira-local"), before.base, "the base's Deployment is untouched");
        assert.strictEqual(psql("SELECT count(*) FROM notes", await appUrl(8)), before.pr8Rows, "pr-8's rows are untouched");
    });

    it("the base refuses to be destroyed while a pull-request stack is built on it, naming it", async () => {
        const { code, output } = await prStackScript(work, ["destroy-base", "local"]);
        assert.notStrictEqual(code, 0);
        assert.match(output, /stack local is the base of pr-8/);
        assert.ok(await deploymentVersion("esteira-local"), "the base is still there");
    });

    it("a pull-request stack whose base is gone is still removed, with a message that says why", async () => {
        // The base goes without its guard (an outage, a hand-run destroy), and its database server
        // stops answering this stack's admin connection: here, its password changes under it.
        await timed("base destroy", () => base.stack.destroy({ color: "never" }));
        await base.stack.workspace.removeStack("local");
        const admin = new Client({ connectionString: databaseAdminUrl });
        await admin.connect();
        const password = decodeURIComponent(new URL(databaseAdminUrl).password);
        try {
            await admin.query(`ALTER ROLE CURRENT_USER PASSWORD '${Date.now()}-not-the-password'`);
            const { code, output } = await timed("pr-8 destroy (base gone)", () => prDestroy(8));
            assert.strictEqual(code, 0, output.slice(-3000));
            assert.match(output, /its base stack "local" is gone/);
            assert.ok(!(await stackNames()).includes("pr-8"), "the stack is removed");
        } finally {
            await admin.query(`ALTER ROLE CURRENT_USER PASSWORD '${password.replace(/'/g, "''")}'`);
            await admin.end();
        }
        // The base took the tenant identity with it, so pr-8's objects were dropped from its state,
        // not deleted; here the cluster is still there, so its namespace is cleared by hand.
        await core.deleteNamespace({ name: namespaceOf(8) }).catch(() => undefined);
        await namespaceGone(namespaceOf(8));
    });
});

/** Whether any stack of the working copy's file backend holds a lock (an update is running). */
async function stackLocked(work: WorkDir): Promise<boolean> {
    const fs = await import("fs");
    const path = await import("path");
    const locks = path.join(work.dir, ".state", ".pulumi", "locks");
    return fs.existsSync(locks) && fs.readdirSync(locks, { recursive: true }).some((entry) => String(entry).endsWith(".json"));
}
