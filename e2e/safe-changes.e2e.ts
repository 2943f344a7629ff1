/**
 * Safe changes, end to end with the real engine on the local stack: edits that would leak a
 * secret are refused, a changed database Secret rolls the pods that read it, renaming the
 * environment renames nothing, a namespace move is refused until acknowledged and then keeps the service up, a namespace the stack did
 * not create is never taken over.
 */
import { EngineEvent } from "@pulumi/pulumi/automation";
import * as assert from "assert";
import { databaseUrl, eventually, flushTimings, kube, LocalStack, localStack, namespaceGone, timed, writtenVersion } from "./harness";

const NAMESPACE = "esteira-local";
const SERVICE = "sample";
const CHECKSUM = "checksum/database-secret";

describe("safe changes on the local stack, end to end", function () {
    this.timeout(20 * 60 * 1000);

    let local_: LocalStack;
    const { core, apps, batch } = kube();
    const deployment = (namespace = NAMESPACE) => apps.readNamespacedDeployment({ name: SERVICE, namespace });
    const migrationJobs = async (namespace = NAMESPACE) =>
        (await batch.listNamespacedJob({ namespace, labelSelector: "app.kubernetes.io/component=migration" })).items.map(
            (j) => j.metadata!.name!,
        );
    const previewFails = async (expected: RegExp, forbidden?: string) => {
        let message = "";
        await assert.rejects(local_.stack.preview({ color: "never" }), (err: Error) => {
            message = err.message;
            return true;
        });
        assert.match(message, expected, message.slice(-2000));
        if (forbidden) assert.ok(!message.includes(forbidden), "the secret value is never shown");
    };
    const urns = async () =>
        (await local_.stack.exportStack()).deployment.resources
            .map((r: { urn: string }) => r.urn)
            .sort()
            .join("\n");

    before(async () => {
        local_ = await localStack("local");
        const result = await timed("up (safe changes)", () => local_.stack.up({ color: "never" }));
        assert.strictEqual(result.summary.result, "succeeded");
    });

    after(async () => {
        flushTimings();
        await local_?.stack.destroy({ color: "never" }).catch(() => undefined);
        await core.deleteNamespace({ name: "esteira-e2e-foreign" }).catch(() => undefined);
        local_?.dispose();
    });

    it("a value set with --secret under a plain key is refused, and never shown", async () => {
        await local_.stack.setConfig(`esteira:services.${SERVICE}.env.API_KEY`, { value: "sk-e2e-never-shown", secret: true }, true);
        try {
            await previewFails(/local: services: holds a value set with --secret/, "sk-e2e-never-shown");
        } finally {
            await local_.stack.removeConfig(`esteira:services.${SERVICE}.env.API_KEY`, true);
        }
    });

    it("a secret key set in plain text is refused, naming the key only", async () => {
        await local_.stack.setConfig("esteira:databaseUrl", { value: databaseUrl, secret: false });
        try {
            await previewFails(/esteira:databaseUrl: is set in plain text/, databaseUrl);
        } finally {
            await local_.stack.setConfig("esteira:databaseUrl", { value: databaseUrl, secret: true });
        }
    });

    it("a changed database Secret rolls the pods that read it and reruns the migration, without showing the data", async () => {
        const before = await deployment();
        const checksum = before.spec!.template.metadata!.annotations![CHECKSUM];
        assert.match(checksum, /^[0-9a-f]{32}$/);
        const jobsBefore = await migrationJobs();
        await local_.stack.setConfig("esteira:databaseUrl", { value: `${databaseUrl}?application_name=e2e`, secret: true });
        try {
            const up = await timed("up (database Secret changed)", () => local_.stack.up({ color: "never" }));
            assert.strictEqual(up.summary.result, "succeeded");
            const after = await deployment();
            const changed = after.spec!.template.metadata!.annotations![CHECKSUM];
            assert.notStrictEqual(changed, checksum, "the pod template's checksum changed");
            assert.ok(!changed.includes("postgresql"));
            assert.ok(Number(after.metadata!.generation) > Number(before.metadata!.generation), "the Deployment rolled");
            const jobs = await migrationJobs();
            assert.ok(
                jobs.some((name) => !jobsBefore.includes(name)),
                "a new migration Job ran",
            );
            const state = JSON.stringify((await local_.stack.exportStack()).deployment);
            assert.ok(state.includes(changed), "the checksum is in the state in plain text (it tells nothing of the data)");
        } finally {
            await local_.stack.setConfig("esteira:databaseUrl", { value: databaseUrl, secret: true });
            await local_.stack.up({ color: "never" });
        }
    });

    it("setting esteira:environment renames no resource: only updates", async () => {
        const before = await urns();
        local_.editConfig((config) => {
            config["esteira:environment"] = "e2e-env";
            config["esteira:namespace"] = NAMESPACE;
        });
        try {
            // Objects take the new `environment` label in place; the migration Job's pod template
            // carries it too, and a Job's template cannot change, so it alone is replaced.
            const steps: string[] = [];
            await local_.stack.preview({
                color: "never",
                onEvent: (event) => {
                    const step = event.resourcePreEvent?.metadata;
                    // A `read` is the stack reading its own last outputs (the rename guard).
                    if (step && step.op !== "same" && step.op !== "read") steps.push(`${step.op} ${step.type}`);
                },
            });
            const unexpected = steps.filter(
                (step) =>
                    !step.startsWith("update ") && !/^(replace|create-replacement|delete-replaced) kubernetes:batch\/v1:Job$/.test(step),
            );
            assert.deepStrictEqual(unexpected, [], `nothing else is created, deleted or replaced (${steps.join(", ")})`);
            await timed("up (environment set)", () => local_.stack.up({ color: "never" }));
            assert.strictEqual(await urns(), before, "every URN is the same");
        } finally {
            local_.editConfig((config) => {
                delete config["esteira:environment"];
                delete config["esteira:namespace"];
            });
            await local_.stack.up({ color: "never" });
        }
    });

    it("moving to another namespace is refused by the preview until acknowledged (it would delete the old one), then brings the new objects up before the old ones go", async () => {
        const moved = "esteira-local-moved";
        local_.editConfig((config) => {
            config["esteira:namespace"] = moved;
        });
        // The stack's last outputs name the namespace it deployed; the preview registers nothing.
        await timed("preview (rename refused)", () =>
            previewFails(
                new RegExp(
                    `local: the namespace was deployed as "${NAMESPACE}" and would now be "${moved}" .*set esteira:acknowledgedRenames\\.namespace: "${moved}"`,
                ),
            ),
        );
        local_.editConfig((config) => {
            config["esteira:acknowledgedRenames"] = { namespace: moved };
        });
        const order: string[] = [];
        const onEvent = (event: EngineEvent) => {
            const step = event.resOpFailedEvent?.metadata ?? event.resOutputsEvent?.metadata;
            if (step && (step.type === "kubernetes:apps/v1:Deployment" || step.type === "kubernetes:core/v1:Service")) {
                order.push(`${step.op} ${step.type.split(":").pop()}`);
            }
        };
        try {
            await timed("up (namespace moved)", () => local_.stack.up({ color: "never", onEvent }));
            for (const kind of ["Deployment", "Service"]) {
                const created = order.indexOf(`create-replacement ${kind}`);
                const deleted = order.indexOf(`delete-replaced ${kind}`);
                assert.ok(
                    created >= 0 && deleted > created,
                    `${kind}: the replacement is created before the old one is deleted (${order.join(", ")})`,
                );
            }
            assert.strictEqual((await deployment(moved)).status?.availableReplicas, 1);
            await namespaceGone(NAMESPACE);
            // The objects in a namespace the stack owns are deletedWith it: the old ones went with the
            // old namespace, and nothing of it is left in the state.
            const resources = (await local_.stack.exportStack()).deployment.resources ?? [];
            const namespace = resources.find((r: any) => r.type === "kubernetes:core/v1:Namespace");
            assert.strictEqual(namespace?.outputs?.metadata?.name, moved);
            const inside = resources.filter((r: any) => r.outputs?.metadata?.namespace !== undefined);
            assert.ok(inside.length > 0);
            for (const kind of ["Deployment", "Service"]) {
                const object = inside.find((r: any) => r.type.endsWith(`:${kind}`));
                assert.strictEqual(object?.deletedWith, namespace.urn, `${kind} is deletedWith the namespace`);
            }
            assert.deepStrictEqual(
                inside
                    .filter((r: any) => r.outputs.metadata.namespace !== moved)
                    .map((r: any) => `${r.urn} (${r.outputs.metadata.namespace})`),
                [],
                "nothing in the state is left in the old namespace",
            );
        } finally {
            // Moving back is a rename too, acknowledged the same way.
            local_.editConfig((config) => {
                delete config["esteira:namespace"];
                config["esteira:acknowledgedRenames"] = { namespace: NAMESPACE };
            });
            await local_.stack.up({ color: "never" });
            local_.editConfig((config) => {
                delete config["esteira:acknowledgedRenames"];
            });
        }
    });

    it("a namespace the stack did not create is refused, and adopted only when the stack file says so", async () => {
        const foreign = "esteira-e2e-foreign";
        // A run cut short leaves the namespace behind on a reused cluster: start from none.
        await core.deleteNamespace({ name: foreign }).catch(() => undefined);
        await namespaceGone(foreign);
        await core.createNamespace({ body: { metadata: { name: foreign } } });
        await core.createNamespacedConfigMap({
            namespace: foreign,
            body: { metadata: { name: "theirs" }, data: { owner: "someone else" } },
        });
        const before = await deployment();
        local_.editConfig((config) => {
            config["esteira:namespace"] = foreign;
            // Leaving the stack's own namespace is a rename (config/renames.ts), acknowledged here.
            config["esteira:acknowledgedRenames"] = { namespace: foreign };
        });
        const refused = new RegExp(`local: namespace: "${foreign}" exists already and this stack did not create it`);
        await previewFails(refused);
        await assert.rejects(local_.stack.up({ color: "never" }), (err: Error) => refused.test(err.message));
        assert.strictEqual(writtenVersion(await deployment()), writtenVersion(before), "nothing changed");
        assert.strictEqual((await core.readNamespace({ name: foreign })).metadata?.labels?.["app.kubernetes.io/managed-by"], undefined);

        local_.editConfig((config) => {
            config["esteira:adoptNamespace"] = true;
        });
        await timed("up (namespace adopted)", () => local_.stack.up({ color: "never" }));
        assert.ok(await deployment(foreign), "the service runs in the adopted namespace");
        local_.editConfig((config) => {
            delete config["esteira:namespace"];
            delete config["esteira:adoptNamespace"];
            delete config["esteira:acknowledgedRenames"];
        });
        await local_.stack.up({ color: "never" });
        await eventually("the adopted namespace to lose the service", async () => {
            const left = (await apps.listNamespacedDeployment({ namespace: foreign })).items.length;
            return left === 0 ? true : undefined;
        });
        const theirs = await core.readNamespacedConfigMap({ name: "theirs", namespace: foreign });
        assert.strictEqual(theirs.data?.owner, "someone else", "the namespace and what was in it remain");
    });
});
