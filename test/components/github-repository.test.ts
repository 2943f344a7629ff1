import * as assert from "assert";
import { GitHubRepository } from "../../components/github-repository";
import { isSecretInput, Recorder } from "../mocks";

const SECRET = "github:index/actionsSecret:ActionsSecret";
const VARIABLE = "github:index/actionsVariable:ActionsVariable";

describe("GitHubRepository", () => {
    it("writes repository-level Actions secrets, kept secret, and variables, as children of esteira:github:GitHubRepository", async () => {
        const recorder = new Recorder();
        await recorder.install("test");
        new GitHubRepository("shop", {
            repository: "shop",
            secrets: { NPM_TOKEN: "t0ken" },
            variables: { PULUMI_BACKEND_URL: "s3://state" },
        });
        await recorder.settle();
        const component = recorder.get("esteira:github:GitHubRepository", "shop");
        const secret = recorder.get(SECRET, "shop-secret-npm_token");
        assert.deepStrictEqual(secret.inputs, { repository: "shop", secretName: "NPM_TOKEN", plaintextValue: "t0ken" });
        assert.ok(isSecretInput(secret, "plaintextValue"), "the value stays secret");
        const variable = recorder.get(VARIABLE, "shop-variable-pulumi_backend_url");
        assert.deepStrictEqual(variable.inputs, { repository: "shop", variableName: "PULUMI_BACKEND_URL", value: "s3://state" });
        for (const child of [secret, variable]) assert.strictEqual(recorder.parentOf(child)?.urn, component.urn);
    });
});
