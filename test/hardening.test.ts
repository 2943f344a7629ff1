/**
 * The hardening every stack file gets, asserted like policies over the whole program's resources:
 * each rule names the resource (and container) that breaks it. The real stack files, evaluated once.
 */
import * as assert from "assert";
import { Evaluation, evaluated, FAKE_VPC_RANGE, RecordedResource, stackCases, stackFileConfig, TEST_SECRETS } from "./mocks";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const JOB = "kubernetes:batch/v1:Job";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

/** Every pod template the program registers, with the workload that carries it. */
function podTemplates(evaluation: Evaluation): { owner: string; labels: Record<string, string>; spec: any }[] {
    return [...evaluation.recorder.all(DEPLOYMENT), ...evaluation.recorder.all(JOB)].map((r) => ({
        owner: `${r.type.split(":").pop()} ${r.name}`,
        labels: r.inputs.spec.template.metadata.labels,
        spec: r.inputs.spec.template.spec,
    }));
}

function containers(evaluation: Evaluation): { label: string; container: any; pod: any }[] {
    return podTemplates(evaluation).flatMap(({ owner, spec }) =>
        [...(spec.initContainers ?? []), ...spec.containers].map((container: any) => ({
            label: `${owner} container "${container.name}"`,
            container,
            pod: spec,
        })),
    );
}

function selects(policy: RecordedResource, labels: Record<string, string>): boolean {
    return Object.entries(policy.inputs.spec.podSelector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

/** The Pod Security Standard's `restricted` profile, as far as esteira's pod specs can break it. */
function restrictedViolations(pod: any, container: any): string[] {
    const effective = (field: string) => container.securityContext?.[field] ?? pod.securityContext?.[field];
    const violations: string[] = [];
    if (effective("runAsNonRoot") !== true) violations.push("runAsNonRoot is not true");
    if (effective("runAsUser") === 0) violations.push("runAsUser is 0");
    if (container.securityContext?.allowPrivilegeEscalation !== false) violations.push("allowPrivilegeEscalation is not false");
    if (JSON.stringify(container.securityContext?.capabilities?.drop) !== JSON.stringify(["ALL"]))
        violations.push("does not drop ALL capabilities");
    if ((container.securityContext?.capabilities?.add ?? []).some((c: string) => c !== "NET_BIND_SERVICE"))
        violations.push("adds capabilities");
    if (!["RuntimeDefault", "Localhost"].includes(effective("seccompProfile")?.type))
        violations.push("has no RuntimeDefault seccomp profile");
    if (container.securityContext?.privileged) violations.push("is privileged");
    return violations;
}

// Volume types the restricted profile allows.
const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

for (const { stack, file } of stackCases()) {
    describe(`hardening of ${file}`, () => {
        let evaluation: Evaluation;
        before(async () => {
            evaluation = await evaluated(stack);
        });

        it("every container requests and limits CPU, memory and ephemeral storage", () => {
            for (const { label, container } of containers(evaluation)) {
                for (const kind of ["requests", "limits"]) {
                    for (const resource of ["cpu", "memory", "ephemeral-storage"]) {
                        assert.ok(container.resources?.[kind]?.[resource], `${label} sets no resources.${kind}.${resource}`);
                    }
                }
            }
        });

        it("every emptyDir has a sizeLimit", () => {
            for (const { owner, spec } of podTemplates(evaluation)) {
                for (const volume of spec.volumes ?? []) {
                    if (volume.emptyDir) assert.ok(volume.emptyDir.sizeLimit, `${owner} emptyDir "${volume.name}" has no sizeLimit`);
                }
            }
        });

        it("every container pulls its digest-pinned image only when the node lacks it, migrations included", () => {
            for (const { label, container } of containers(evaluation)) {
                assert.strictEqual(container.imagePullPolicy, "IfNotPresent", `${label} imagePullPolicy`);
            }
        });

        it("the namespace enforces the restricted Pod Security profile, and warns and audits it", () => {
            for (const namespace of evaluation.recorder.all(NAMESPACE)) {
                const labels = namespace.inputs.metadata.labels;
                for (const mode of ["enforce", "warn", "audit"]) {
                    assert.strictEqual(labels[`pod-security.kubernetes.io/${mode}`], "restricted", `${namespace.name} ${mode}`);
                    assert.ok(labels[`pod-security.kubernetes.io/${mode}-version`], `${namespace.name} pins ${mode}-version`);
                }
            }
        });

        it("every pod template satisfies the restricted profile the namespace enforces", () => {
            for (const { label, container, pod } of containers(evaluation)) {
                assert.deepStrictEqual(restrictedViolations(pod, container), [], label);
            }
            for (const { owner, spec } of podTemplates(evaluation)) {
                for (const volume of spec.volumes ?? []) {
                    const type = Object.keys(volume).find((key) => key !== "name");
                    assert.ok(RESTRICTED_VOLUMES.includes(type!), `${owner} volume "${volume.name}" is a ${type}`);
                }
                assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${owner} shares no host namespace`);
            }
        });

        it("the namespace denies every ingress and egress by default", () => {
            const denyAll = evaluation.recorder
                .all(NETWORK_POLICY)
                .filter((p) => Object.keys(p.inputs.spec.podSelector).length === 0 && !p.inputs.spec.ingress && !p.inputs.spec.egress);
            assert.strictEqual(denyAll.length, 1, "one default-deny policy");
            assert.deepStrictEqual(denyAll[0].inputs.spec.policyTypes, ["Ingress", "Egress"]);
        });

        it("the backup jobs, and no other pod, reach the storage, on its port alone", () => {
            const backups = stackFileConfig(stack)["esteira:backups"] as { storage: { mode: string } } | undefined;
            const policies = evaluation.recorder.all(NETWORK_POLICY).filter((p) => p.name.endsWith("-backup-egress"));
            if (!backups) return assert.deepStrictEqual(policies, []);
            assert.strictEqual(policies.length, 1);
            const { podSelector, egress } = policies[0].inputs.spec;
            assert.deepStrictEqual(podSelector.matchExpressions, [
                {
                    key: "app.kubernetes.io/name",
                    operator: "In",
                    values: [`${stack}-backup`, `${stack}-restore`, `${stack}-restore-drill`],
                },
            ]);
            assert.deepStrictEqual(egress, [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ protocol: "TCP", port: 443 }] }]);
        });

        it("pods reach only DNS, the namespace's own pods and the database (images are pulled by the node)", () => {
            const config = stackFileConfig(stack);
            const database = config["esteira:database"] as { mode: string; pool?: unknown; cidr?: string } | undefined;
            // A base stack (esteira:tenants) runs no workload: nothing of it reaches its database.
            const readsDatabase =
                database !== undefined &&
                ["esteira:services", "esteira:workers", "esteira:jobs"].some((key) => Object.keys(config[key] ?? {}).length > 0);
            // The fake VPC's range and DigitalOcean's ports; an external database's URL names 5432 in the tests,
            // and a server's is the port of its admin connection (the test secret's).
            const adminPort = Number(new URL(TEST_SECRETS["esteira:databaseAdminUrl"]).port);
            // A database in the namespace (mode namespace) is one of the namespace's own pods: no further egress.
            const databasePeers =
                !readsDatabase || database.mode === "namespace"
                    ? []
                    : database.mode === "external"
                      ? [{ cidr: "0.0.0.0/0", ports: [5432] }]
                      : database.mode === "server"
                        ? [{ cidr: database.cidr ?? "0.0.0.0/0", ports: [adminPort] }]
                        : [{ cidr: FAKE_VPC_RANGE, ports: database.pool ? [25060, 25061] : [25060] }];
            const allowed = new Set(
                [
                    { to: "kube-system/kube-dns", ports: ["UDP/53", "TCP/53"] },
                    { to: "namespace", ports: [] as string[] },
                    ...databasePeers.map((p) => ({ to: p.cidr, ports: p.ports.map((port) => `TCP/${port}`) })),
                ].map((rule) => JSON.stringify(rule)),
            );
            const seen = new Set<string>();
            // The backup jobs' way to the storage is the test above's.
            for (const policy of evaluation.recorder.all(NETWORK_POLICY).filter((p) => !p.name.endsWith("-backup-egress"))) {
                for (const rule of policy.inputs.spec.egress ?? []) {
                    for (const peer of rule.to ?? [{}]) {
                        const to = peer.ipBlock
                            ? peer.ipBlock.cidr
                            : peer.namespaceSelector
                              ? `${peer.namespaceSelector.matchLabels["kubernetes.io/metadata.name"]}/${peer.podSelector?.matchLabels?.["k8s-app"]}`
                              : Object.keys(peer.podSelector ?? { any: 1 }).length === 0
                                ? "namespace"
                                : "anywhere";
                        const described = JSON.stringify({ to, ports: (rule.ports ?? []).map((p: any) => `${p.protocol}/${p.port}`) });
                        assert.ok(allowed.has(described), `${policy.name} allows egress ${described}`);
                        seen.add(described);
                    }
                }
            }
            assert.deepStrictEqual([...seen].sort(), [...allowed].sort(), "each allowed destination has its policy");
        });

        it("each service admits traffic on its own port only, and nothing reaches a migration", () => {
            const policies = evaluation.recorder.all(NETWORK_POLICY).filter((p) => p.inputs.spec.ingress);
            for (const deployment of evaluation.recorder.all(DEPLOYMENT)) {
                const labels = deployment.inputs.spec.template.metadata.labels;
                const admitting = policies.filter((p) => selects(p, labels));
                assert.strictEqual(admitting.length, 1, `one ingress policy selects ${deployment.name}'s pods`);
                const containerPorts = deployment.inputs.spec.template.spec.containers.flatMap((c: any) =>
                    c.ports.map((p: any) => p.containerPort),
                );
                const metricsPort = deployment.inputs.spec.template.metadata.annotations?.["prometheus.io/port"];
                for (const rule of admitting[0].inputs.spec.ingress) {
                    for (const { port } of rule.ports) {
                        assert.ok(
                            containerPorts.includes(port) || String(port) === metricsPort,
                            `${admitting[0].name} admits port ${port}, which ${deployment.name} does not serve`,
                        );
                    }
                }
            }
            for (const job of evaluation.recorder.all(JOB)) {
                const labels = job.inputs.spec.template.metadata.labels;
                for (const policy of policies) assert.ok(!selects(policy, labels), `${policy.name} admits traffic to ${job.name}'s pods`);
            }
        });

        it("every service that can run more than one replica is spread across nodes and has a disruption budget", () => {
            const { recorder } = evaluation;
            for (const deployment of recorder.all(DEPLOYMENT)) {
                const hpa = recorder.all(HPA).find((h) => h.inputs.spec.scaleTargetRef.name === deployment.inputs.metadata.name);
                const most = hpa ? hpa.inputs.spec.maxReplicas : (deployment.inputs.spec.replicas ?? 1);
                if (most <= 1) continue;
                const labels = deployment.inputs.spec.template.metadata.labels;
                const budget = recorder
                    .all(PDB)
                    .find((pdb) => Object.entries(pdb.inputs.spec.selector.matchLabels).every(([k, v]) => labels[k] === v));
                assert.ok(budget, `${deployment.name} can run ${most} replicas but no PodDisruptionBudget selects its pods`);
                const spread =
                    deployment.inputs.spec.template.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
                assert.ok(
                    spread.some((term: any) => term.podAffinityTerm.topologyKey === "kubernetes.io/hostname"),
                    `${deployment.name} can run ${most} replicas but is not spread across nodes`,
                );
            }
        });
    });
}
