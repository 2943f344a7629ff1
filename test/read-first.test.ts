/**
 * Rule `other-stacks-read-first`: what the program reads from other stacks (the stages it promotes
 * from; never a credential) is read and checked before any resource is registered, and every
 * problem comes in one error naming the config key, what was found and what to run; no
 * `error serializing property`.
 */
import * as assert from "assert";
import { evaluateStack } from "../lib/evaluate";
import { OTHER_STACK_OUTPUTS, Recorder } from "./mocks";
import { PR_STACK, stackFileConfig } from "../lib/stack-files";

describe("other stacks' outputs are read first (rule other-stacks-read-first)", () => {
    const REVIEW = "organization/esteira/review";
    const HOMOLOG = "organization/esteira/homolog";
    const saved = { homolog: OTHER_STACK_OUTPUTS[HOMOLOG] };
    afterEach(() => {
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

    it("a stack file that still sets cluster.mode stack fails on its configuration, before it reads any other stack", async () => {
        const { recorder, message } = await refused(PR_STACK, {
            "esteira:cluster": { mode: "stack", stack: "review" },
            "esteira:database": { mode: "server", stack: "review" },
        });
        assert.match(message, new RegExp(`^invalid configuration for stack "${PR_STACK}"`));
        assert.match(message, /cluster\.mode: "stack" is no longer supported/);
        assert.match(message, /database\.stack: "review" is no longer read/);
        assert.deepStrictEqual(
            recorder.reads.filter((r) => r.type === "pulumi:pulumi:StackReference" && r.id === REVIEW),
            [],
            "the base's outputs are never read",
        );
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
