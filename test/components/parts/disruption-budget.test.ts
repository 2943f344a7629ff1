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
    it("refuses a budget for a workload that can never run more than one replica", async () => {
        await new Recorder().install("test");
        const owner = new Owner();
        assert.throws(() => disruptionBudget(owner, "api-pdb", { metadata: {}, selector: {}, maxReplicas: 1 }, { parent: owner }), {
            message: "api-pdb: maxReplicas: a disruption budget needs more than one replica; received 1",
        });
    });
});
