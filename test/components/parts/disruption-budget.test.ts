import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { disruptionBudget } from "../../../components/parts/disruption-budget";
import { Recorder } from "../../mocks";

class Owner extends pulumi.ComponentResource {
    constructor() {
        super("test:index:Owner", "owner", {});
    }
}

describe("disruptionBudget (part)", () => {
    it("refuses a budget for a single replica, which would block every node drain", async () => {
        await new Recorder().install("test");
        const owner = new Owner();
        assert.throws(() => disruptionBudget(owner, "api-pdb", { metadata: {}, selector: {}, minReplicas: 1 }, { parent: owner }), {
            message: "api-pdb: minReplicas: a disruption budget needs more than one replica; received 1",
        });
    });
});
