import * as assert from "assert";
import { multiReplicaPodDisruptionBudget } from "../src/policies/availability";
import { DEPLOYMENT, HPA, PDB, STATEFULSET, deployment, hpa, pdb } from "./fixtures";
import { TestResource, runStackPolicy, urnOf } from "./harness";

describe("multi-replica-pod-disruption-budget", () => {
    const web = (replicas?: number): TestResource => ({
        type: DEPLOYMENT,
        name: "sample",
        props: { ...deployment(), spec: { ...deployment().spec, replicas } },
    });
    const run = (resources: TestResource[]) => runStackPolicy(multiReplicaPodDisruptionBudget, resources);

    it("is advisory", () => assert.strictEqual(multiReplicaPodDisruptionBudget.enforcementLevel, "advisory"));

    it("passes a single replica without a budget", async () => {
        assert.deepStrictEqual((await run([web(1)])).violations, []);
    });

    it("passes an autoscaled Deployment whose budget selects its pods", async () => {
        const resources = [web(undefined), { type: HPA, props: hpa(2) }, { type: PDB, props: pdb() }];
        assert.deepStrictEqual((await run(resources)).violations, []);
    });

    it("reports replicas > 1 without a budget, naming the Deployment", async () => {
        const outcome = await run([web(3)]);
        assert.deepStrictEqual(outcome.violations, [
            `${urnOf(web(3))}: Deployment "sample" can run 3 replicas but no PodDisruptionBudget selects its pods`,
        ]);
    });

    it("takes the most replicas from the autoscaler's maxReplicas, even when it scales from 1", async () => {
        const outcome = await run([web(undefined), { type: HPA, props: hpa(1, 3) }]);
        assert.deepStrictEqual(outcome.violations, [
            `${urnOf(web(undefined))}: Deployment "sample" can run 3 replicas but no PodDisruptionBudget selects its pods`,
        ]);
    });

    it("passes an autoscaler that never runs more than one replica", async () => {
        assert.deepStrictEqual((await run([web(undefined), { type: HPA, props: hpa(1, 1) }])).violations, []);
    });

    it("does not count a budget in another namespace or selecting other pods", async () => {
        const resources = [
            web(2),
            { type: PDB, name: "elsewhere", props: pdb(undefined, "esteira-prod") },
            { type: PDB, name: "other", props: pdb({ "app.kubernetes.io/name": "other" }) },
        ];
        assert.strictEqual((await run(resources)).violations.length, 1);
    });

    it("covers StatefulSets and honours matchExpressions", async () => {
        const statefulSet: TestResource = {
            type: STATEFULSET,
            name: "db",
            props: { ...deployment(), spec: { ...deployment().spec, replicas: 2 } },
        };
        const selecting = {
            metadata: { namespace: "esteira-homolog" },
            spec: { selector: { matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["sample"] }] } },
        };
        const excluding = {
            metadata: { namespace: "esteira-homolog" },
            spec: { selector: { matchExpressions: [{ key: "environment", operator: "DoesNotExist" }] } },
        };
        assert.deepStrictEqual((await run([statefulSet, { type: PDB, props: selecting }])).violations, []);
        assert.deepStrictEqual((await run([statefulSet, { type: PDB, props: excluding }])).violations, [
            `${urnOf(statefulSet)}: StatefulSet "sample" can run 2 replicas but no PodDisruptionBudget selects its pods`,
        ]);
    });
});
