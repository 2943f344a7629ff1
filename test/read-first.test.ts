/**
 * Rule `other-stacks-read-first`: what the program reads from other stacks (the shared cluster's
 * tenant kubeconfig and id, the database server's admin connection or cluster id, the stages it
 * promotes from) is read and checked before any resource is registered, and every problem comes in
 * one error naming the config key, what was found and what to run; no `error serializing property`.
 */
import * as assert from "assert";
import { evaluateStack } from "../lib/evaluate";
import { OTHER_STACK_OUTPUTS, Recorder } from "./mocks";
import { PR_STACK, stackFileConfig } from "../lib/stack-files";

describe("other stacks' outputs are read first (rule other-stacks-read-first)", () => {
    const REVIEW = "organization/esteira/review";
    const HOMOLOG = "organization/esteira/homolog";
    const saved = { review: OTHER_STACK_OUTPUTS[REVIEW], homolog: OTHER_STACK_OUTPUTS[HOMOLOG] };
    afterEach(() => {
        OTHER_STACK_OUTPUTS[REVIEW] = saved.review;
        OTHER_STACK_OUTPUTS[HOMOLOG] = saved.homolog;
    });

    async function refused(stack: string, overrides?: Record<string, unknown>): Promise<{ recorder: Recorder; message: string }> {
        const recorder = new Recorder();
        let message = "";
        await evaluateStack(stack, { recorder, overrides }).catch((err: Error) => (message = err.message));
        assert.notStrictEqual(message, "", `${stack} must fail`);
        assert.doesNotMatch(message, /error serializing property/);
        assert.deepStrictEqual(recorder.resources, [], "nothing but the StackReferences is registered");
        return { recorder, message };
    }

    // Pull-request stacks read no base any more (their own kubeconfig and PostgreSQL); a stack on a
    // shared cluster with a database of its own on the base's server still does.
    const ON_THE_BASE = {
        "esteira:cluster": { mode: "stack", stack: "review" },
        "esteira:database": { mode: "server", stack: "review" },
    };

    it("a stack on a base that exports no tenant kubeconfig and no database admin: both, in one error", async () => {
        OTHER_STACK_OUTPUTS[REVIEW] = { clusterId: "review-doks-id" };
        const { message } = await refused(PR_STACK, ON_THE_BASE);
        assert.strictEqual(
            message,
            `stack "${PR_STACK}" reads other stacks' outputs it cannot use; nothing was built:\n` +
                `  - ${PR_STACK}: cluster.stack: stack "review" exports no \`tenantKubeconfig\` output; run \`pulumi up -s review\` first; a stack exports it when it sets esteira:tenants and its cluster's endpoint is known (cluster.mode digitalocean, or kubeconfig contents in esteira:kubeconfig)\n` +
                `  - ${PR_STACK}: database.stack: stack "review" exports no \`databaseAdminUrl\` output; run \`pulumi up -s review\` first; a stack exports its server's admin connection when its database is managed by DigitalOcean, or external with esteira:databaseAdminUrl set`,
        );
    });

    it("a base whose tenant kubeconfig names no server and CA", async () => {
        OTHER_STACK_OUTPUTS[REVIEW] = { ...saved.review, tenantKubeconfig: "apiVersion: v1\nkind: Config\n" };
        const { message } = await refused(PR_STACK, ON_THE_BASE);
        assert.match(
            message,
            /cluster\.stack: stack "review" exports a `tenantKubeconfig` without a server and CA; run `pulumi up -s review` again/,
        );
        assert.doesNotMatch(message, /apiVersion/, "the kubeconfig, a secret, is never shown");
    });

    it("a stage that exports a tag instead of a digest, or lacks the service: dev stops before its first resource", async () => {
        OTHER_STACK_OUTPUTS[HOMOLOG] = { ...saved.homolog, images: { other: "ghcr.io/acme/other:latest" } };
        const services = structuredClone(stackFileConfig("dev")["esteira:services"]) as Record<string, { image: unknown }>;
        services.sample.image = { promoteFrom: "homolog" };
        const { message } = await refused("dev", { "esteira:services": services });
        assert.match(
            message,
            /dev: services\.sample\.image\.promoteFrom: stack "homolog" exports no image for "sample" \(it has \["other"\]\)/,
        );
    });
});
