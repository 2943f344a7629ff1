import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { readStack, stackOutput } from "../../components/stack-reference";
import { assertRunError, OTHER_STACK_OUTPUTS, promiseOf, Recorder } from "../mocks";

describe("stack references", () => {
    afterEach(() => {
        delete OTHER_STACK_OUTPUTS["organization/esteira/lab"];
    });

    async function read(outputs: Record<string, unknown>, output: string) {
        OTHER_STACK_OUTPUTS["organization/esteira/lab"] = outputs;
        const recorder = new Recorder();
        await recorder.install("pr-7");
        const owner = new pulumi.ComponentResource("test:index:Owner", "owner");
        const value = promiseOf(
            stackOutput<string>(readStack(owner, "owner", "lab"), {
                output,
                configKey: "database.stack",
                stack: "lab",
                fix: "run `pulumi up -s lab` first",
            }),
        );
        value.catch(() => undefined);
        await recorder.settle();
        return value;
    }

    it("reads an output the other stack exports", async () => {
        assert.strictEqual(await read({ databaseClusterId: "db-1" }, "databaseClusterId"), "db-1");
    });

    it("a missing output fails with one line naming this stack, the config key, the other stack and the fix", async () => {
        await assertRunError(
            read({ clusterId: "lab" }, "databaseClusterId"),
            'pr-7: database.stack: stack "lab" exports no `databaseClusterId` output; run `pulumi up -s lab` first',
        );
    });
});
