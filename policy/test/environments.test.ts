import * as assert from "assert";
import {
    databaseFirewallClusterOnly,
    prStackOwnsNoSharedInfrastructure,
    prodDatabaseStandby,
    prodHaControlPlane,
    prodPublicServiceTls,
    prodStatefulResourcesProtected,
} from "../src/policies/environments";
import { DATABASE, DATABASE_CLUSTER, DATABASE_FIREWALL, KUBERNETES_CLUSTER, SERVICE, VPC } from "./fixtures";
import { UNKNOWN_STRING, runResourcePolicy } from "./harness";

const PROD = { environmentKind: "prod" };
const PR = { environmentKind: "pr" };
const OTHER = { environmentKind: "other" };

const cluster = (ha: boolean) => ({ name: "esteira-prod", region: "nyc1", version: "1.33.1-do.0", ha, nodePool: { size: "s-4vcpu-8gb" } });
const databaseCluster = (nodeCount: number) => ({
    name: "esteira-prod-db",
    engine: "pg",
    version: "16",
    size: "db-s-2vcpu-4gb",
    nodeCount,
    region: "nyc1",
});

describe("environmentKind", () => {
    it("is required: a policy run without it fails instead of skipping prod's checks", async () => {
        await assert.rejects(
            runResourcePolicy(prodHaControlPlane, { type: KUBERNETES_CLUSTER, props: cluster(false) }),
            /environmentKind is required/,
        );
    });
});

describe("prod-stateful-resources-protected", () => {
    it("passes protected cluster, database cluster and database in prod", async () => {
        for (const [type, props] of [
            [KUBERNETES_CLUSTER, cluster(true)],
            [DATABASE_CLUSTER, databaseCluster(2)],
            [DATABASE, { name: "app" }],
        ] as const) {
            assert.deepStrictEqual(
                (await runResourcePolicy(prodStatefulResourcesProtected, { type, props, protect: true }, PROD)).violations,
                [],
                type,
            );
        }
    });

    it("reports an unprotected one in prod", async () => {
        const outcome = await runResourcePolicy(prodStatefulResourcesProtected, { type: DATABASE, props: { name: "app" } }, PROD);
        assert.deepStrictEqual(outcome.violations, [
            "DatabaseDb is not protected: set the protect resource option (esteira:protect: true)",
        ]);
    });

    it("does not apply outside prod", async () => {
        const outcome = await runResourcePolicy(prodStatefulResourcesProtected, { type: DATABASE, props: { name: "app" } }, OTHER);
        assert.deepStrictEqual(outcome, { violations: [], notApplicable: 'applies only to environmentKind "prod" (this stack: "other")' });
    });
});

describe("prod-ha-control-plane", () => {
    it("passes ha: true in prod", async () => {
        assert.deepStrictEqual(
            (await runResourcePolicy(prodHaControlPlane, { type: KUBERNETES_CLUSTER, props: cluster(true) }, PROD)).violations,
            [],
        );
    });

    it("reports ha: false in prod", async () => {
        const outcome = await runResourcePolicy(prodHaControlPlane, { type: KUBERNETES_CLUSTER, props: cluster(false) }, PROD);
        assert.deepStrictEqual(outcome.violations, [
            "ha is not true: prod needs a highly available control plane (esteira:cluster.ha: true)",
        ]);
    });

    it("does not apply to homolog", async () => {
        assert.deepStrictEqual(
            (await runResourcePolicy(prodHaControlPlane, { type: KUBERNETES_CLUSTER, props: cluster(false) }, OTHER)).violations,
            [],
        );
    });
});

describe("prod-database-standby", () => {
    it("passes nodeCount 2 in prod", async () => {
        assert.deepStrictEqual(
            (await runResourcePolicy(prodDatabaseStandby, { type: DATABASE_CLUSTER, props: databaseCluster(2) }, PROD)).violations,
            [],
        );
    });

    it("reports nodeCount 1 in prod", async () => {
        const outcome = await runResourcePolicy(prodDatabaseStandby, { type: DATABASE_CLUSTER, props: databaseCluster(1) }, PROD);
        assert.deepStrictEqual(outcome.violations, [
            "nodeCount is 1: prod needs at least 2, a primary and a standby (esteira:database.nodeCount)",
        ]);
    });
});

describe("database-firewall-cluster-only", () => {
    const firewall = (rules: unknown[]) => ({ clusterId: UNKNOWN_STRING, rules });

    it("passes a firewall whose only rule is the cluster (its id still unknown in preview)", async () => {
        const outcome = await runResourcePolicy(databaseFirewallClusterOnly, {
            type: DATABASE_FIREWALL,
            props: firewall([{ type: "k8s", value: UNKNOWN_STRING }]),
        });
        assert.deepStrictEqual(outcome, { violations: [] });
    });

    it("reports any other rule, and a firewall with none", async () => {
        const outcome = await runResourcePolicy(databaseFirewallClusterOnly, {
            type: DATABASE_FIREWALL,
            props: firewall([
                { type: "k8s", value: "c-1" },
                { type: "ip_addr", value: "0.0.0.0/0" },
            ]),
        });
        assert.deepStrictEqual(outcome.violations, [
            'rules[1] admits "ip_addr" "0.0.0.0/0": only rules of type "k8s" (the cluster) are allowed',
        ]);
        const empty = await runResourcePolicy(databaseFirewallClusterOnly, { type: DATABASE_FIREWALL, props: firewall([]) });
        assert.deepStrictEqual(empty.violations, [
            "has no rules: a DigitalOcean database without trusted sources accepts connections from any address",
        ]);
    });
});

describe("prod-public-service-tls", () => {
    const DO = "service.beta.kubernetes.io/do-loadbalancer-";
    const service = (annotations: Record<string, string> | undefined, port = 443, type = "LoadBalancer") => ({
        metadata: { name: "sample", namespace: "esteira-prod", annotations },
        spec: { type, ports: [{ name: "http", port, targetPort: "http", protocol: "TCP" }] },
    });
    const tls = {
        [`${DO}certificate-name`]: "esteira-prod",
        [`${DO}tls-ports`]: "443",
        [`${DO}redirect-http-to-https`]: "true",
        [`${DO}protocol`]: "http",
    };

    it("passes a LoadBalancer terminating TLS on 443 with a redirect", async () => {
        assert.deepStrictEqual(
            (await runResourcePolicy(prodPublicServiceTls, { type: SERVICE, props: service(tls) }, PROD)).violations,
            [],
        );
    });

    it("passes a reviewed waiver, and a ClusterIP Service", async () => {
        const waived = service({ "esteira.dev/tls-waiver": "internal tool behind the VPN until #31" }, 80);
        assert.deepStrictEqual((await runResourcePolicy(prodPublicServiceTls, { type: SERVICE, props: waived }, PROD)).violations, []);
        assert.deepStrictEqual(
            (await runResourcePolicy(prodPublicServiceTls, { type: SERVICE, props: service(undefined, 80, "ClusterIP") }, PROD)).violations,
            [],
        );
    });

    it("reports a plain-HTTP LoadBalancer (esteira's prod sample service as configured today)", async () => {
        const outcome = await runResourcePolicy(prodPublicServiceTls, { type: SERVICE, props: service(undefined, 80) }, PROD);
        assert.deepStrictEqual(outcome.violations, [
            `public LoadBalancer without TLS; missing: annotation ${DO}certificate-id or ${DO}certificate-name; ` +
                `annotation ${DO}tls-ports including "443"; annotation ${DO}redirect-http-to-https: "true"; port 443 ` +
                '(or record a reviewed exception with the annotation esteira.dev/tls-waiver: "<reason>")',
        ]);
    });

    it("reports a missing redirect alone", async () => {
        const outcome = await runResourcePolicy(
            prodPublicServiceTls,
            { type: SERVICE, props: service({ ...tls, [`${DO}redirect-http-to-https`]: "false" }) },
            PROD,
        );
        assert.deepStrictEqual(outcome.violations, [
            `public LoadBalancer without TLS; missing: annotation ${DO}redirect-http-to-https: "true" ` +
                '(or record a reviewed exception with the annotation esteira.dev/tls-waiver: "<reason>")',
        ]);
    });

    it("does not apply outside prod", async () => {
        assert.deepStrictEqual(
            (await runResourcePolicy(prodPublicServiceTls, { type: SERVICE, props: service(undefined, 80) }, OTHER)).violations,
            [],
        );
    });
});

describe("pr-stack-owns-no-shared-infrastructure", () => {
    it("lets a prod or homolog stack own its cluster, VPC and database cluster", async () => {
        for (const config of [PROD, OTHER]) {
            for (const type of [KUBERNETES_CLUSTER, VPC, DATABASE_CLUSTER]) {
                assert.deepStrictEqual(
                    (await runResourcePolicy(prStackOwnsNoSharedInfrastructure, { type, props: {} }, config)).violations,
                    [],
                );
            }
        }
    });

    it("reports each one a pull-request stack creates", async () => {
        const messages = [];
        for (const type of [KUBERNETES_CLUSTER, VPC, DATABASE_CLUSTER]) {
            messages.push(...(await runResourcePolicy(prStackOwnsNoSharedInfrastructure, { type, props: {} }, PR)).violations);
        }
        const use =
            "deploy into the review base's cluster with the kubeconfig `scripts/pr-stack.sh grant` prints (esteira:cluster mode kubeconfig) and a PostgreSQL in the namespace (esteira:database mode namespace), as stacks/pr.template.yaml does";
        assert.deepStrictEqual(messages, [
            `a pull-request stack must not own a KubernetesCluster: ${use}`,
            `a pull-request stack must not own a Vpc: ${use}`,
            `a pull-request stack must not own a DatabaseCluster: ${use}`,
        ]);
    });

    it("leaves a pull-request stack's other resources alone", async () => {
        assert.strictEqual(
            (await runResourcePolicy(prStackOwnsNoSharedInfrastructure, { type: DATABASE, props: {} }, PR)).notApplicable,
            "not a cluster, VPC or database cluster",
        );
    });
});
