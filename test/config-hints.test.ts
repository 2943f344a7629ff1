/**
 * A key written the Kubernetes way, where esteira names it with its unit, gets esteira's name in
 * its message (and the value converted, when it is a quantity esteira can read), through the whole
 * parse of a stack's configuration: one test per hint, with its exact message.
 */
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseConfig, RawConfig } from "../config";
import { SECRET_KEYS } from "../vocabulary/schema";

/** The problems parsing reports for one service's settings in an otherwise valid configuration. */
function problemsOfService(api: Record<string, unknown>): readonly string[] {
    const raw: RawConfig = {
        stack: "homolog",
        project: "esteira",
        organization: "acme",
        values: {
            protect: false,
            registry: { server: "ghcr.io", username: "bot" },
            services: { api: { image: "ghcr.io/acme/api:1", ...api } },
        },
        secrets: { registryToken: pulumi.secret("t0ken") },
        secretKeys: Object.values(SECRET_KEYS).map((secret) => secret.key),
        githubOwner: "acme",
    };
    try {
        parseConfig(raw);
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    return [];
}

describe("keys written the Kubernetes way name esteira's key", () => {
    it("resources.limits.memory: 256Mi → memoryMiB: 256", () => {
        assert.deepStrictEqual(problemsOfService({ resources: { limits: { memory: "256Mi" } } }), [
            `homolog: services.api.resources.limits: unknown key "memory": "memory" is Kubernetes' name: esteira's is "memoryMiB", a whole number of MiB ("256Mi" is memoryMiB: 256)`,
        ]);
    });

    it("resources.requests.memory: 1Gi → memoryMiB: 1024", () => {
        assert.deepStrictEqual(problemsOfService({ resources: { requests: { memory: "1Gi" } } }), [
            `homolog: services.api.resources.requests: unknown key "memory": "memory" is Kubernetes' name: esteira's is "memoryMiB", a whole number of MiB ("1Gi" is memoryMiB: 1024)`,
        ]);
    });

    it("resources.limits.cpu: 500m → cpuMillicores: 500", () => {
        assert.deepStrictEqual(problemsOfService({ resources: { limits: { cpu: "500m" } } }), [
            `homolog: services.api.resources.limits: unknown key "cpu": "cpu" is Kubernetes' name: esteira's is "cpuMillicores", a whole number of millicores ("500m" is cpuMillicores: 500)`,
        ]);
    });

    it("resources.requests.cpu: 0.25 (cores) → cpuMillicores: 250", () => {
        assert.deepStrictEqual(problemsOfService({ resources: { requests: { cpu: 0.25 } } }), [
            `homolog: services.api.resources.requests: unknown key "cpu": "cpu" is Kubernetes' name: esteira's is "cpuMillicores", a whole number of millicores (0.25 is cpuMillicores: 250)`,
        ]);
    });

    it("resources.limits.ephemeral-storage: 2Gi → ephemeralStorageMiB: 2048", () => {
        assert.deepStrictEqual(problemsOfService({ resources: { limits: { "ephemeral-storage": "2Gi" } } }), [
            `homolog: services.api.resources.limits: unknown key "ephemeral-storage": "ephemeral-storage" is Kubernetes' name: esteira's is "ephemeralStorageMiB", a whole number of MiB ("2Gi" is ephemeralStorageMiB: 2048)`,
        ]);
    });

    it("a quantity esteira cannot convert still gets the name: memory: 1G", () => {
        assert.deepStrictEqual(problemsOfService({ resources: { limits: { memory: "1G" } } }), [
            `homolog: services.api.resources.limits: unknown key "memory": "memory" is Kubernetes' name: esteira's is "memoryMiB", a whole number of MiB`,
        ]);
    });

    it("containerPort → port", () => {
        assert.deepStrictEqual(problemsOfService({ containerPort: 8080 }), [
            `homolog: services.api: unknown key "containerPort": "containerPort" is Kubernetes' name: esteira's is "port"`,
        ]);
    });

    it("readinessProbe → probes.readiness", () => {
        assert.deepStrictEqual(problemsOfService({ readinessProbe: { httpGet: { path: "/healthz" } } }), [
            `homolog: services.api: unknown key "readinessProbe": "readinessProbe" is Kubernetes' name: esteira's is "probes.readiness"`,
        ]);
    });

    it("any other unknown key still points at the reference", () => {
        assert.deepStrictEqual(problemsOfService({ replcas: 2 }), [
            `homolog: services.api: unknown key "replcas": check the spelling against docs/configuration.md`,
        ]);
    });
});
