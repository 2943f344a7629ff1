import * as assert from "assert";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { actionsSecretValueIsSecret, kubernetesSecretDataIsSecret } from "../src/policies/secrets";
import { secretPathsIn } from "../src/secrets";
import { ACTIONS_ENVIRONMENT_SECRET, SECRET } from "./fixtures";
import { UNKNOWN_STRING, runResourcePolicy, secret } from "./harness";

const analyzerProto = require("@pulumi/pulumi/proto/analyzer_pb");
const server: {
    makeAnalyzeRpcFun: (...args: unknown[]) => (call: unknown, callback: (error: unknown, response: any) => void) => void;
} = require("@pulumi/policy/server");

describe("kubernetes-secret-data-is-secret", () => {
    it("passes data and stringData marked secret as a whole or value by value", async () => {
        const props = { type: "Opaque", data: secret({ token: "dG9rZW4=" }), stringData: { DATABASE_URL: secret("postgresql://…") } };
        assert.deepStrictEqual((await runResourcePolicy(kubernetesSecretDataIsSecret, { type: SECRET, props })).violations, []);
    });

    it("reports each plain value by key, never printing the value", async () => {
        const props = {
            type: "Opaque",
            data: { token: "dG9rZW4=" },
            stringData: { DATABASE_URL: "postgresql://u:hunter2@db/app", ok: secret("x") },
        };
        const outcome = await runResourcePolicy(kubernetesSecretDataIsSecret, { type: SECRET, props });
        assert.deepStrictEqual(outcome.violations, [
            'data["token"] is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config',
            'stringData["DATABASE_URL"] is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config',
        ]);
        assert.ok(!outcome.violations.join("").includes("hunter2"));
    });

    it("leaves a value not known yet (and not marked secret) to `up`", async () => {
        const props = { stringData: { DATABASE_URL: UNKNOWN_STRING } };
        assert.deepStrictEqual(await runResourcePolicy(kubernetesSecretDataIsSecret, { type: SECRET, props }), { violations: [] });
    });
});

describe("actions-secret-value-is-secret", () => {
    it("passes a secret plaintextValue", async () => {
        const props = { repository: "esteira", environment: "homolog", secretName: "KUBECONFIG", plaintextValue: secret("apiVersion: v1") };
        assert.deepStrictEqual(
            (await runResourcePolicy(actionsSecretValueIsSecret, { type: ACTIONS_ENVIRONMENT_SECRET, props })).violations,
            [],
        );
    });

    it("reports a plain plaintextValue or value", async () => {
        const props = { repository: "esteira", secretName: "TOKEN", plaintextValue: "ghp_plain", value: "ghp_plain" };
        const outcome = await runResourcePolicy(actionsSecretValueIsSecret, { type: "github:index/actionsSecret:ActionsSecret", props });
        assert.deepStrictEqual(outcome.violations, [
            "plaintextValue is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config",
            "value is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config",
        ]);
    });
});

describe("secret detection", () => {
    it("finds every path the engine marked secret", () => {
        assert.deepStrictEqual(secretPathsIn({ a: secret(1), b: [{ c: secret("x") }, "plain"], d: "plain" }), [["a"], ["b", 0, "c"]]);
    });

    // Runs the SDK's own Analyze handler on a request shaped as the engine sends it: if an upgrade
    // of @pulumi/policy stops routing through the hooked deserializer, this fails instead of the
    // policy silently passing or failing everything.
    it("works through the SDK's Analyze handler, with the SDK's message format", async () => {
        const analyze = server.makeAnalyzeRpcFun("esteira", "0.1.0", "advisory", [
            kubernetesSecretDataIsSecret,
            actionsSecretValueIsSecret,
        ]);
        const request = (stringData: unknown) =>
            new analyzerProto.AnalyzeRequest()
                .setType(SECRET)
                .setUrn(`urn:pulumi:test::esteira::${SECRET}::db-credentials`)
                .setName("db-credentials")
                .setProperties(Struct.fromJavaScript({ type: "Opaque", stringData } as any))
                .setOptions(new analyzerProto.AnalyzerResourceOptions());
        const diagnostics = (stringData: unknown) =>
            new Promise<{ policy: string; level: number; message: string }[]>((resolve, reject) =>
                analyze({ request: request(stringData) }, (error, response) =>
                    error
                        ? reject(error)
                        : resolve(
                              response.getDiagnosticsList().map((d: any) => ({
                                  policy: d.getPolicyname(),
                                  level: d.getEnforcementlevel(),
                                  message: d.getMessage(),
                              })),
                          ),
                ),
            );

        assert.deepStrictEqual(await diagnostics(secret({ DATABASE_URL: "postgresql://…" })), []);
        assert.deepStrictEqual(await diagnostics({ DATABASE_URL: "postgresql://…" }), [
            {
                policy: "kubernetes-secret-data-is-secret",
                level: analyzerProto.EnforcementLevel.MANDATORY,
                message: `${kubernetesSecretDataIsSecret.description}\nstringData["DATABASE_URL"] is not a Pulumi secret: wrap it in pulumi.secret() or read it from secret config`,
            },
        ]);
    });
});
