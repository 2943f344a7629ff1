import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { readStacksFirst, stackOutput, type OutputRead } from "../../components/stack-reference";
import { assertRunError, OTHER_STACK_OUTPUTS, promiseOf, Recorder } from "../mocks";

describe("stack references", () => {
    afterEach(() => {
        delete OTHER_STACK_OUTPUTS["organization/esteira/lab"];
    });

    const lab = (output: string, check?: OutputRead["check"]): OutputRead => ({
        stack: "lab",
        output,
        configKey: "services.api.image.promoteFrom",
        fix: "run `pulumi up -s lab` first",
        check,
    });

    async function read(outputs: Record<string, unknown>, output: string) {
        OTHER_STACK_OUTPUTS["organization/esteira/lab"] = outputs;
        const recorder = new Recorder();
        await recorder.install("pr-7");
        const owner = new pulumi.ComponentResource("test:index:Owner", "owner");
        const value = promiseOf(stackOutput<string>(owner, "owner", lab(output)));
        value.catch(() => undefined);
        await recorder.settle();
        return value;
    }

    it("reads an output the other stack exports", async () => {
        assert.strictEqual(await read({ images: "db-1" }, "images"), "db-1");
    });

    it("a missing output fails with one line naming this stack, the config key, the other stack and the fix", async () => {
        await assertRunError(
            read({ clusterId: "lab" }, "images"),
            'pr-7: services.api.image.promoteFrom: stack "lab" exports no `images` output; run `pulumi up -s lab` first',
        );
    });

    describe("read first (readStacksFirst)", () => {
        async function first(outputs: Record<string, unknown>, reads: OutputRead[]) {
            OTHER_STACK_OUTPUTS["organization/esteira/lab"] = outputs;
            const recorder = new Recorder();
            await recorder.install("pr-7");
            const result = readStacksFirst(reads);
            result.catch(() => undefined);
            await recorder.settle();
            return { recorder, result };
        }

        it("every problem in one error, before anything but the StackReference is registered", async () => {
            const notEmpty = (value: unknown) => (value === "" ? "exports an empty `clusterId`" : undefined);
            const { recorder, result } = await first({ clusterId: "" }, [lab("images"), lab("clusterId", notEmpty)]);
            await assertRunError(
                result,
                'stack "pr-7" reads other stacks\' outputs it cannot use; nothing was built:\n' +
                    '  - pr-7: services.api.image.promoteFrom: stack "lab" exports no `images` output; run `pulumi up -s lab` first\n' +
                    '  - pr-7: services.api.image.promoteFrom: stack "lab" exports an empty `clusterId`',
            );
            assert.deepStrictEqual(recorder.resources, [], "no resource is registered");
            assert.deepStrictEqual(
                recorder.reads.map((r) => `${r.type} ${r.id}`),
                ["pulumi:pulumi:StackReference organization/esteira/lab"],
                "one StackReference per stack, read once",
            );
        });

        it("hands the components the values it read, secret where the other stack exported a secret", async () => {
            const { result } = await first({ clusterId: "lab-1" }, [lab("clusterId")]);
            const outputs = await result;
            assert.strictEqual(await promiseOf(outputs.get<string>("lab", "clusterId")!), "lab-1");
            assert.strictEqual(outputs.get("lab", "images"), undefined, "what was not read first is read where it is used");
        });
    });
});
