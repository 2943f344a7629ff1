/**
 * Ephemeral environments, end to end with the real engine and API server: the `local` stack as the
 * base (its tenant issuer and the admission policies it installs, components/tenant-policy.ts), and
 * pull-request stacks made from stacks/pr.local.template.yaml by scripts/pr-stack.sh, the same
 * script review-grant.yml and review.yml run on GitHub: `grant` with the base's issuer, `up` with the
 * pull request's own short-lived kubeconfig only. Isolation is proven here by credentials and
 * admission (the API server's own denials, with the policy's message); NetworkPolicies are not
 * enforced by this line's CNI, so the database's ingress policy is checked statically
 * (test/stacks.test.ts) and not here.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
    changes,
    eventually,
    flushTimings,
    kube,
    killProcessTree,
    kubectlAs,
    LocalStack,
    localStack,
    namespaceGone,
    openStack,
    prStackScript,
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

describe("ephemeral pull-request stacks on the local base, end to end", function () {
    this.timeout(20 * 60 * 1000);

    let work: WorkDir;
    let base: LocalStack;
    let files: string;
    /** The base's tenant issuer kubeconfig (its tenantKubeconfig output), as review-grant.yml holds it. */
    let issuer: string;
    /** Each pull request's own kubeconfig, as `pr-stack.sh grant` printed it. */
    const own: Record<number, string> = {};
    const { core, apps } = kube();

    const grant = async (pr: number) => {
        const { code, output, stdout } = await prStackScript(work, ["grant", String(pr)], { KUBECONFIG: issuer });
        assert.strictEqual(code, 0, output.slice(-3000));
        own[pr] = path.join(files, `pr-${pr}.kubeconfig`);
        fs.writeFileSync(own[pr], stdout, { mode: 0o600 });
        return stdout;
    };
    const prUp = (pr: number) =>
        prStackScript(work, ["up", String(pr), "--template", TEMPLATE], { TENANT_KUBECONFIG: fs.readFileSync(own[pr], "utf8") });
    const prDestroy = (pr: number) => prStackScript(work, ["destroy", String(pr)], { KUBECONFIG: issuer });
    const stackNames = async () => (await base.stack.workspace.listStacks()).map((s) => s.name);
    /** The URL a PR stack's pods connect with, read back from its namespace's Secret (as the admin). */
    const appUrl = async (pr: number) => {
        const secret = await core.readNamespacedSecret({ name: "db-credentials", namespace: namespaceOf(pr) });
        return Buffer.from(secret.data!.DATABASE_URL, "base64").toString();
    };
    const deploymentVersion = async (namespace: string) =>
        writtenVersion(await apps.readNamespacedDeployment({ name: SERVICE, namespace }));
    /** `kubectl auth can-i` as a pull request: the authorizer's own answer. */
    // Its first line: kubectl adds warnings after it (e.g. that namespaces are not namespace scoped).
    const canI = (pr: number, ...args: string[]) =>
        kubectlAs(own[pr], ["auth", "can-i", ...args])
            .output.trim()
            .split("\n")[0];

    before(async () => {
        work = workDir("ephemeral");
        files = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-e2e-kubeconfigs-"));
        base = await localStack("local", { work });
        const result = await timed("base up (local)", () => base.stack.up({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");
        assert.ok(result.outputs.tenantKubeconfig?.secret, "the base exports its tenant issuer's kubeconfig, as a secret");
        issuer = path.join(files, "issuer.kubeconfig");
        fs.writeFileSync(issuer, result.outputs.tenantKubeconfig.value, { mode: 0o600 });
    });

    after(async () => {
        flushTimings();
        // Whatever a failed run left: the pull requests' namespaces and stacks, then the base.
        if (issuer) for (const pr of [7, 8, 9, 10]) await prDestroy(pr);
        if ((await stackNames()).includes("local")) await base.stack.destroy({ color: "never" }).catch(() => undefined);
        base?.dispose();
        fs.rmSync(files, { recursive: true, force: true });
    });

    it("two pull-request stacks come up side by side with their own credential, each migrating its own PostgreSQL in its namespace", async () => {
        for (const pr of [7, 8]) {
            const kubeconfig = JSON.parse(await timed(`pr-${pr} grant`, () => grant(pr)));
            assert.strictEqual(kubeconfig.contexts[0].context.namespace, namespaceOf(pr));
            const { code, output } = await timed(`pr-${pr} up`, () => prUp(pr));
            assert.strictEqual(code, 0, output.slice(-3000));
            const pods = (await core.listNamespacedPod({ namespace: namespaceOf(pr), labelSelector: `app.kubernetes.io/name=${SERVICE}` }))
                .items;
            assert.ok(
                pods.some((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")),
                `pr-${pr}'s app is Ready`,
            );
            const url = new URL(await appUrl(pr));
            const service = await core.readNamespacedService({ name: "postgres", namespace: namespaceOf(pr) });
            assert.strictEqual(url.hostname, service.spec!.clusterIP, "its database is the Service in its own namespace");
        }
        // The app's migration ran against its own database: what it writes through its Service is read back.
        const text = `pr-7 note ${Date.now()}`;
        const created = await fetch(`${await serviceUrl(namespaceOf(7), SERVICE)}/api/notes`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ text }),
        });
        assert.strictEqual(created.status, 201, await created.text());
        const listed = await (await fetch(`${await serviceUrl(namespaceOf(7), SERVICE)}/api/notes`)).text();
        assert.ok(listed.includes(text), "pr-7's note is in pr-7's database");
        const other = await (await fetch(`${await serviceUrl(namespaceOf(8), SERVICE)}/api/notes`)).text();
        assert.ok(!other.includes(text), "and not in pr-8's");

        const pr7 = await openStack("pr-7", work);
        const state = await pr7.stack.exportStack();
        const owned = state.deployment.resources.filter((r: any) => r.custom && !r.type.startsWith("pulumi:")).map((r: any) => r.type);
        for (const type of owned) {
            assert.ok(
                type.startsWith("kubernetes:") || type === "pulumi-nodejs:dynamic:Resource" || type === "docker-build:index:Image",
                `a PR stack owns no ${type}`,
            );
        }
        // Its one StackReference is its own (the names it deployed last time): nothing of the base's.
        const references = state.deployment.resources
            .filter((r: any) => r.type === "pulumi:pulumi:StackReference")
            .map((r: any) => r.inputs.name);
        assert.deepStrictEqual(
            references.filter((name: string) => name !== "pr-7" && !name.endsWith("/pr-7")),
            [],
            "it reads nothing of the base",
        );
    });

    it("a pull request's identity is authorized in its own namespace only: no other's Secrets, no namespaces, no tokens, nothing in the base", () => {
        assert.strictEqual(canI(7, "create", "deployments", "-n", namespaceOf(7)), "yes");
        assert.strictEqual(canI(7, "get", "secrets", "-n", namespaceOf(7)), "yes");
        for (const args of [
            ["get", "secrets", "-n", namespaceOf(8)],
            ["list", "secrets", "-n", "kube-system"],
            ["create", "deployments", "-n", "esteira-local"],
            ["create", "namespaces"],
            ["delete", "namespaces"],
            ["create", "serviceaccounts", "--subresource=token", "-n", namespaceOf(7)],
            ["create", "clusterrolebindings"],
            ["list", "secrets", "--all-namespaces"],
        ]) {
            assert.strictEqual(canI(7, ...args), "no", `pr-7 may not ${args.join(" ")}`);
        }
        // The real requests, refused by the API server.
        const read = kubectlAs(own[7], ["get", "secret", "db-credentials", "-n", namespaceOf(8)]);
        assert.notStrictEqual(read.code, 0);
        assert.match(read.output, /Forbidden.*cannot get resource "secrets".*namespace "esteira-pr-8"/);
        const made = kubectlAs(own[7], ["create", "namespace", "esteira-pr-999"]);
        assert.match(made.output, /Forbidden.*cannot create resource "namespaces"/);
        const token = kubectlAs(own[7], ["create", "token", "esteira-deployer", "-n", namespaceOf(7)]);
        assert.match(token.output, /forbidden.*cannot create resource "serviceaccounts\/token"/i);
        const run = kubectlAs(own[7], ["run", "escape", "--image=busybox", "-n", "kube-system"]);
        assert.match(run.output, /Forbidden.*cannot create resource "pods".*namespace "kube-system"/);
    });

    it("admission refuses what RBAC alone would let a pull request do in its namespace: a token Secret, its Pod Security labels", () => {
        const tokenSecret = kubectlAs(
            own[7],
            ["apply", "-f", "-"],
            JSON.stringify({
                apiVersion: "v1",
                kind: "Secret",
                type: "kubernetes.io/service-account-token",
                metadata: {
                    name: "minted",
                    namespace: namespaceOf(7),
                    annotations: { "kubernetes.io/service-account.name": "esteira-deployer" },
                },
            }),
        );
        assert.notStrictEqual(tokenSecret.code, 0);
        assert.match(
            tokenSecret.output,
            /esteira-tenants-pull-requests.*a pull request mints no ServiceAccount token: Secret minted of type kubernetes.io\/service-account-token is refused in esteira-pr-7/,
        );
        const relabel = kubectlAs(own[7], [
            "label",
            "--overwrite",
            "namespace",
            namespaceOf(7),
            "pod-security.kubernetes.io/enforce=privileged",
        ]);
        assert.notStrictEqual(relabel.code, 0);
        assert.match(relabel.output, /a pull request changes only its own namespace \(esteira-pr-7\), never its Pod Security labels/);
        // Its own namespace's other labels are its own to set.
        assert.strictEqual(kubectlAs(own[7], ["label", "--overwrite", "namespace", namespaceOf(7), "team=review"]).code, 0);
    });

    it("the base's tenant issuer itself acts only on namespaces named for a pull request, with the fixed Pod Security labels", () => {
        const outside = kubectlAs(issuer, ["create", "namespace", "not-a-pull-request"]);
        assert.notStrictEqual(outside.code, 0);
        assert.match(
            outside.output,
            /the tenant issuer acts only in pull-request namespaces \(esteira-pr-<number>\); refused: CREATE namespaces in not-a-pull-request/,
        );
        const unlabeled = kubectlAs(issuer, ["create", "namespace", "esteira-pr-999"]);
        assert.match(unlabeled.output, /namespace esteira-pr-999 must carry the Pod Security labels/);
        const kubeSystem = kubectlAs(issuer, ["create", "token", "default", "-n", "kube-system"]);
        assert.notStrictEqual(kubeSystem.code, 0);
        assert.match(kubeSystem.output, /refused: CREATE serviceaccounts in kube-system/);
        const base = kubectlAs(issuer, ["get", "secrets", "-n", "esteira-local"]);
        assert.match(base.output, /Forbidden/);
    });

    it("pr-stack.sh preview runs the policy pack: a pull request's stack passes it, and one with a mandatory violation is blocked", async () => {
        await grant(9);
        const tenant = { TENANT_KUBECONFIG: fs.readFileSync(own[9], "utf8") };
        const passed = await timed("pr-stack.sh preview (policy pack)", () =>
            prStackScript(work, ["preview", "9", "--template", TEMPLATE], tenant),
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
                prStackScript(work, ["preview", "9", "--template", "pr-public.template.yaml"], { ...tenant, ESTEIRA_POLICY_PACK: pack }),
            );
            assert.notStrictEqual(blocked.code, 0, blocked.output.slice(-3000));
            assert.match(blocked.output, /\[mandatory\]\s+prod-public-service-tls/, blocked.output.slice(-3000));
            const up = await prStackScript(work, ["up", "9", "--template", "pr-public.template.yaml"], {
                ...tenant,
                ESTEIRA_POLICY_PACK: pack,
            });
            assert.notStrictEqual(up.code, 0, "pr-stack.sh up is blocked the same way");
            // Nothing was created in the namespace the grant made.
            assert.deepStrictEqual((await apps.listNamespacedDeployment({ namespace: "esteira-pr-9" })).items, []);
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

    it("a destroy started while an up of the same stack runs fails fast on the lock and deletes nothing", async () => {
        const pr8 = await openStack("pr-8", work);
        pr8.editConfig((config) => {
            config["esteira:services"][SERVICE].env = { ...config["esteira:services"][SERVICE].env, RELEASE: "second push" };
        });
        const up = pr8.stack.up({ color: "never" });
        await eventually("the up to hold the lock", async () => ((await stackLocked(work)) ? true : undefined), 60_000);
        const started = Date.now();
        const { code, output } = await prDestroy(8);
        assert.notStrictEqual(code, 0, "the destroy does not run under a running up");
        assert.match(output, /locked/);
        assert.ok(Date.now() - started < 30_000, "it fails fast");
        assert.strictEqual((await up).summary.result, "succeeded");
        await core.readNamespace({ name: namespaceOf(8) });
        const preview = await pr8.stack.preview({ color: "never" });
        assert.deepStrictEqual(changes(preview.changeSummary), [], "the state matches what is deployed");
    });

    it("an up killed midway, which records nothing without per-step checkpoints, is recovered by pr-stack.sh up --recover: the lock removed, what it made adopted", async () => {
        try {
            await grant(10);
            const tenant = { TENANT_KUBECONFIG: fs.readFileSync(own[10], "utf8") };
            const namespace = namespaceOf(10);
            let group = 0;
            const killed = prStackScript(work, ["up", "10", "--template", TEMPLATE], tenant, (child) => (group = child.pid!));
            // Midway: its database's Deployment is in the namespace, its app's not yet.
            await eventually(
                "pr-10's up to have created its first Deployment",
                async () => ((await apps.listNamespacedDeployment({ namespace })).items.length > 0 ? true : undefined),
                300_000,
            );
            // As a lost runner or a job's timeout ends it: the script, pulumi and its plugins at once, no clean-up.
            killProcessTree(group);
            const run = await killed;
            assert.strictEqual(run.signal, "SIGKILL", `the up was still running when it was killed:\n${run.output.slice(-2000)}`);
            const recorded = async () =>
                ((await base.stack.workspace.exportStack("pr-10")).deployment.resources ?? []) as { type: string; id?: string }[];
            const deployments = async () => (await apps.listNamespacedDeployment({ namespace })).items.map((d) => d.metadata!.name!).sort();
            assert.ok((await deployments()).length > 0);
            assert.deepStrictEqual(
                (await recorded()).filter((r) => r.type === "kubernetes:apps/v1:Deployment"),
                [],
                "no checkpoint: the state records nothing the killed up made",
            );
            assert.ok(await stackLocked(work), "the killed up's lock is left");

            const plain = await prUp(10);
            assert.notStrictEqual(plain.code, 0, "an up without --recover stops at the lock");
            assert.match(plain.output, /locked/);
            const { code, output } = await timed("pr-10 up --recover", () =>
                prStackScript(work, ["up", "10", "--template", TEMPLATE, "--recover"], tenant),
            );
            assert.strictEqual(code, 0, output.slice(-3000));
            assert.ok(!(await stackLocked(work)), "no lock is left");
            const inState = (await recorded())
                .filter((r) => r.type === "kubernetes:apps/v1:Deployment")
                .map((r) => r.id!.split("/").pop())
                .sort();
            assert.deepStrictEqual(inState, await deployments(), "every Deployment in the namespace is in the state");
            const pods = (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/name=${SERVICE}` })).items;
            assert.ok(
                pods.some((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")),
                "pr-10's app is Ready",
            );
            const preview = await (await openStack("pr-10", work)).stack.preview({ color: "never" });
            assert.deepStrictEqual(changes(preview.changeSummary), [], "the state matches what is deployed");
        } finally {
            // pr-10 is not one of the stacks the cases after this one count.
            const destroyed = await prDestroy(10);
            assert.strictEqual(destroyed.code, 0, destroyed.output.slice(-3000));
        }
    });

    it("destroying pr-7 with the base's issuer leaves no namespace, database or state of it, and runs none of its state's code; pr-8 and the base are untouched", async () => {
        const before = {
            pr8: await deploymentVersion(namespaceOf(8)),
            base: await deploymentVersion("esteira-local"),
            pr8Url: await appUrl(8),
        };
        const { code, output } = await timed("pr-7 destroy", () => prDestroy(7));
        assert.strictEqual(code, 0, output.slice(-3000));
        assert.doesNotMatch(output, /pulumi destroy|Destroying/);
        await namespaceGone(namespaceOf(7));
        assert.ok(!(await stackNames()).includes("pr-7"), "its stack is removed");
        assert.strictEqual(await deploymentVersion(namespaceOf(8)), before.pr8, "pr-8's Deployment is untouched");
        assert.strictEqual(await deploymentVersion("esteira-local"), before.base, "the base's Deployment is untouched");
        assert.strictEqual(await appUrl(8), before.pr8Url, "pr-8's database is untouched");
        // Its token went with its ServiceAccount.
        assert.notStrictEqual(kubectlAs(own[7], ["get", "pods", "-n", namespaceOf(7)]).code, 0);
    });

    it("a destroy whose cluster does not answer changes nothing; told the cluster is gone for good, it clears the state and removes the stack", async () => {
        // The issuer's kubeconfig, pointed at a port nothing listens on: a cluster that refuses.
        const port = await closedPort();
        const unreachable = path.join(files, "unreachable.kubeconfig");
        fs.writeFileSync(unreachable, fs.readFileSync(issuer, "utf8").replace(/https:\/\/[^"\s/]+/g, `https://127.0.0.1:${port}`), {
            mode: 0o600,
        });
        // pr-9: a copy of pr-8's state in the same backend (pr-8 stays for the cases after this one).
        // The engine refuses a state whose URNs name another stack, so they are renamed to pr-9's.
        const workspace = base.stack.workspace;
        const exported = JSON.stringify(await workspace.exportStack("pr-8"));
        const state = JSON.parse(
            exported
                .replace(/urn:pulumi:pr-8::([^"]*?)::esteira-pr-8\b/g, "urn:pulumi:pr-9::$1::esteira-pr-9")
                .replaceAll("urn:pulumi:pr-8::", "urn:pulumi:pr-9::"),
        );
        await workspace.createStack("pr-9");
        await workspace.importStack("pr-9", state);
        const resources = async () => (await workspace.exportStack("pr-9")).deployment.resources?.length ?? 0;
        const held = await resources();
        assert.ok(held > 0);

        const refused = await prStackScript(work, ["destroy", "9"], { KUBECONFIG: unreachable });
        assert.notStrictEqual(refused.code, 0, "a cluster down for a while is no reason to drop the stack");
        assert.match(refused.output, /does not answer .*nothing was changed/);
        assert.match(refused.output, /pr-stack\.sh destroy 9 --cluster-gone/, "it names the flag for a cluster gone for good");
        assert.ok((await stackNames()).includes("pr-9"), "the stack is kept");
        assert.strictEqual(await resources(), held, "its state is untouched");

        const gone = await timed("pr-9 destroy (cluster gone)", () =>
            prStackScript(work, ["destroy", "9", "--cluster-gone"], { KUBECONFIG: unreachable }),
        );
        assert.strictEqual(gone.code, 0, gone.output.slice(-3000));
        assert.match(gone.output, /--cluster-gone: namespace esteira-pr-9 went with it/);
        assert.doesNotMatch(gone.output, /pulumi destroy|Destroying/);
        assert.ok(!(await stackNames()).includes("pr-9"), "its stack is removed");
    });

    it("the base refuses to be destroyed while a pull request's namespace is in its cluster, naming it", async () => {
        const { code, output } = await prStackScript(work, ["destroy-base", "local"], { KUBECONFIG: issuer });
        assert.notStrictEqual(code, 0);
        assert.match(output, /stack local is the base of esteira-pr-8/);
        assert.ok(await deploymentVersion("esteira-local"), "the base is still there");
    });

    it("the sweep destroys pr-8, idle past the template's short expiry while its pull request is open, unless labelled; and names it for the comment", async () => {
        // The pull requests' template with an expiry of 18 seconds, which the sweep reads.
        const template = "stacks/pr.expiring.template.yaml";
        const config = parseYaml(fs.readFileSync(path.join(work.dir, TEMPLATE), "utf8"));
        config.config["esteira:expiry"] = { idleHours: 0.005, keepLabel: "keep-environment" };
        fs.writeFileSync(path.join(work.dir, template), stringifyYaml(config));
        // GitHub's API, which this machine cannot reach: a stand-in answering "<state> <labels>".
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-e2e-gh-"));
        const answer = path.join(bin, "answer");
        fs.writeFileSync(path.join(bin, "gh"), `#!/bin/sh\ncat "${answer}"\n`, { mode: 0o755 });
        const output = path.join(bin, "output");
        const sweep = () =>
            prStackScript(work, ["sweep", "--template", template], {
                KUBECONFIG: issuer,
                GITHUB_REPOSITORY: "acme/shop",
                GITHUB_OUTPUT: output,
                PATH: `${bin}:${work.env.PATH ?? process.env.PATH}`,
            });
        try {
            const pr8 = await openStack("pr-8", work);
            const [last] = await pr8.stack.history();
            const idleFor = Date.now() - new Date(last.endTime!).getTime();
            await new Promise((resolve) => setTimeout(resolve, Math.max(0, 20_000 - idleFor)));

            fs.writeFileSync(answer, "open keep-environment\n");
            const kept = await timed("sweep (labelled: kept)", sweep);
            assert.strictEqual(kept.code, 0, kept.output.slice(-3000));
            assert.match(kept.output, /pr-8: pull request #8 is open and labelled keep-environment, kept/);
            await core.readNamespace({ name: namespaceOf(8) });

            fs.writeFileSync(answer, "open\n");
            fs.rmSync(output, { force: true });
            const swept = await timed("sweep (idle: expired)", sweep);
            assert.strictEqual(swept.code, 0, swept.output.slice(-3000));
            assert.match(
                swept.output,
                /pr-8: pull request #8 is open, but its stack has had no deploy for [0-9.]+ h \(esteira:expiry\.idleHours: 0\.005\): destroying/,
            );
            assert.doesNotMatch(swept.output, /pulumi destroy|Destroying/, "no code of its state ran");
            await namespaceGone(namespaceOf(8));
            assert.ok(!(await stackNames()).includes("pr-8"), "its stack is removed");
            assert.ok(await deploymentVersion("esteira-local"), "the base is untouched");
            assert.match(fs.readFileSync(output, "utf8"), /^expired=\[8\]$/m, "sweep.yml's tell job comments on #8");
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
            fs.rmSync(path.join(work.dir, template), { force: true });
        }
    });
});

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/** Whether any stack of the working copy's file backend holds a lock (an update is running). */
async function stackLocked(work: WorkDir): Promise<boolean> {
    const locks = path.join(work.dir, ".state", ".pulumi", "locks");
    return fs.existsSync(locks) && fs.readdirSync(locks, { recursive: true }).some((entry) => String(entry).endsWith(".json"));
}
