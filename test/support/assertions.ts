/** Assertions the tests share, beyond the recorder's own. */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";

/**
 * Asserts that a value fails the way the program must tell a person about a problem: a RunError,
 * which Pulumi prints without a stack trace, ending with `line` (the engine may prefix where the
 * value surfaced, e.g. `error serializing property …:`).
 */
export async function assertRunError(value: Promise<unknown>, line: string): Promise<void> {
    await assert.rejects(value, (err: Error) => {
        assert.ok(pulumi.RunError.isInstance(err), `a RunError, printed without a stack trace: ${err.stack}`);
        assert.ok(
            err.message === line || err.message.endsWith(`: ${line}`),
            `expected the message to end with:\n${line}\ngot:\n${err.message}`,
        );
        return true;
    });
}
