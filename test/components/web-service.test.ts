import * as assert from "assert";
import { WebService, WebServiceArgs } from "../../components/web-service";
import { assertHardened, promiseOf, Recorder, FakeResource } from "../mocks";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const JOB = "kubernetes:batch/v1:Job";

async function build(args: Partial<WebServiceArgs> = {}, name = "api") {
    const recorder = new Recorder();
    await recorder.install("test");
    const component = new WebService(name, { namespace: "shop-homolog", image: "ghcr.io/acme/api@sha256:abc", ...args });
    await recorder.settle();
    const deployment = recorder.get(DEPLOYMENT, `${name}-deployment`);
    const container = deployment.inputs.spec.template.spec.containers[0];
    return { recorder, component, deployment, container };
}

describe("WebService", () => {
    describe("with defaults", () => {
        it("registers a component of type esteira:kubernetes:WebService with its children parented to it", async () => {
            const { recorder } = await build();
            const component = recorder.get("esteira:kubernetes:WebService", "api");
            for (const [type, name] of [
                [DEPLOYMENT, "api-deployment"],
                [SERVICE, "api-service"],
            ]) {
                assert.strictEqual(
                    recorder.parentOf(recorder.get(type, name))?.urn,
                    component.urn,
                    `${name} must be a child of the component`,
                );
            }
        });

        it("creates no HPA and no PDB, and sets no spreading, for a single fixed replica", async () => {
            const { recorder, deployment } = await build();
            assert.strictEqual(deployment.inputs.spec.replicas, 1);
            assert.deepStrictEqual(recorder.all(HPA), []);
            assert.deepStrictEqual(recorder.all(PDB), []);
            assert.strictEqual(deployment.inputs.spec.template.spec.affinity, undefined);
        });

        it("names objects after the service and labels them app.kubernetes.io/*", async () => {
            const { deployment } = await build({ environment: "homolog", partOf: "shop" });
            assert.strictEqual(deployment.inputs.metadata.name, "api");
            assert.strictEqual(deployment.inputs.metadata.namespace, "shop-homolog");
            assert.deepStrictEqual(deployment.inputs.metadata.labels, {
                "app.kubernetes.io/name": "api",
                "app.kubernetes.io/instance": "api",
                "app.kubernetes.io/managed-by": "pulumi",
                "app.kubernetes.io/part-of": "shop",
                environment: "homolog",
            });
            assert.deepStrictEqual(deployment.inputs.spec.selector.matchLabels, {
                "app.kubernetes.io/name": "api",
                "app.kubernetes.io/instance": "api",
            });
        });

        it("rolls out without ever removing a serving pod", async () => {
            const { deployment } = await build();
            assert.deepStrictEqual(deployment.inputs.spec.strategy, {
                type: "RollingUpdate",
                rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
            });
            assert.strictEqual(deployment.inputs.spec.revisionHistoryLimit, 5);
        });

        it("probes /readyz and /healthz on the container port", async () => {
            const { container } = await build();
            assert.deepStrictEqual(container.readinessProbe, {
                httpGet: { path: "/readyz", port: 8000 },
                initialDelaySeconds: 0,
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 3,
            });
            assert.deepStrictEqual(container.livenessProbe, {
                httpGet: { path: "/healthz", port: 8000 },
                initialDelaySeconds: 0,
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
            });
            assert.strictEqual(container.startupProbe, undefined);
        });

        it("hardens the pod and container", async () => {
            const { deployment, container } = await build();
            assertHardened(deployment.inputs.spec.template.spec, container);
            assert.deepStrictEqual(container.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
            assert.strictEqual(container.imagePullPolicy, "IfNotPresent");
        });

        it("requests and limits CPU, memory and ephemeral storage", async () => {
            const { container } = await build();
            assert.deepStrictEqual(container.resources, {
                requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
                limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "512Mi" },
            });
        });

        it("bounds the writable /tmp by the container's ephemeral-storage limit", async () => {
            const { deployment } = await build({ resources: { limits: { ephemeralStorageMiB: 2048 } } });
            assert.deepStrictEqual(deployment.inputs.spec.template.spec.volumes, [{ name: "tmp", emptyDir: { sizeLimit: "2048Mi" } }]);
        });

        it("exposes a ClusterIP Service on port 80 forwarding to the container port", async () => {
            const { recorder, component } = await build();
            const service = recorder.get(SERVICE, "api-service");
            assert.strictEqual(service.inputs.spec.type, "ClusterIP");
            assert.deepStrictEqual(service.inputs.spec.ports, [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
            assert.strictEqual(await promiseOf(component.endpoint), "http://api.shop-homolog.svc.cluster.local:80");
        });

        it("waits up to 600 s for the rollout", async () => {
            const { deployment } = await build();
            assert.strictEqual(deployment.customTimeouts?.create, "600s");
            assert.strictEqual(deployment.customTimeouts?.update, "600s");
        });

        it("a replacement never deletes a part before its successor is up: the provider deletes first only when the name and namespace stay", async () => {
            const { recorder } = await build({ autoscaling: { minReplicas: 2, maxReplicas: 4 }, migrate: { command: ["migrate"] } });
            const parts = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
            assert.strictEqual(parts.length, 6, "Deployment, Service, ingress policy, HPA, PDB and migration Job");
            for (const part of parts) assert.strictEqual(part.deleteBeforeReplace, false, `${part.type} ${part.name}`);
        });

        it("adds no Prometheus annotations unless asked", async () => {
            const { deployment } = await build();
            assert.strictEqual(deployment.inputs.spec.template.metadata.annotations, undefined);
        });
    });

    describe("options", () => {
        it("passes env plainly and secretEnv through secretKeyRef", async () => {
            const { container } = await build({
                env: { DEBUG: "true", LOG_LEVEL: "DEBUG" },
                secretEnv: { DATABASE_URL: { secretName: "db-credentials", key: "url" } },
            });
            assert.deepStrictEqual(container.env, [
                { name: "DEBUG", value: "true" },
                { name: "LOG_LEVEL", value: "DEBUG" },
                { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db-credentials", key: "url" } } },
            ]);
        });

        it("references the pull secrets", async () => {
            const { deployment } = await build({ imagePullSecrets: ["ghcr-secret"] });
            assert.deepStrictEqual(deployment.inputs.spec.template.spec.imagePullSecrets, [{ name: "ghcr-secret" }]);
        });

        it("takes every probe setting and an optional startup probe", async () => {
            const { container } = await build({
                port: 8080,
                probes: {
                    readiness: {
                        path: "/ready",
                        port: 9090,
                        periodSeconds: 3,
                        failureThreshold: 2,
                        timeoutSeconds: 1,
                        initialDelaySeconds: 4,
                    },
                    liveness: { path: "/live" },
                    startup: { failureThreshold: 60 },
                },
            });
            assert.deepStrictEqual(container.readinessProbe, {
                httpGet: { path: "/ready", port: 9090 },
                initialDelaySeconds: 4,
                periodSeconds: 3,
                timeoutSeconds: 1,
                failureThreshold: 2,
            });
            assert.strictEqual(container.livenessProbe.httpGet.path, "/live");
            assert.deepStrictEqual(container.startupProbe, {
                httpGet: { path: "/live", port: 8080 },
                initialDelaySeconds: 0,
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 60,
            });
            assert.deepStrictEqual(container.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
        });

        it("merges requests and limits over the defaults", async () => {
            const { container } = await build({
                resources: { requests: { memoryMiB: 256, ephemeralStorageMiB: 128 }, limits: { cpuMillicores: 1000, memoryMiB: 512 } },
            });
            assert.deepStrictEqual(container.resources, {
                requests: { cpu: "100m", memory: "256Mi", "ephemeral-storage": "128Mi" },
                limits: { cpu: "1000m", memory: "512Mi", "ephemeral-storage": "512Mi" },
            });
        });

        it("exposes a LoadBalancer and reports its address", async () => {
            const { recorder, component } = await build({
                service: { type: "LoadBalancer", port: 80, annotations: { "service.beta.kubernetes.io/do-loadbalancer-name": "shop" } },
            });
            const service = recorder.get(SERVICE, "api-service");
            assert.strictEqual(service.inputs.spec.type, "LoadBalancer");
            assert.deepStrictEqual(service.inputs.metadata.annotations, {
                "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}",
                "service.beta.kubernetes.io/do-loadbalancer-name": "shop",
                "pulumi.com/patchForce": "true",
            });
            assert.strictEqual(await promiseOf(component.endpoint), "http://203.0.113.10:80");
        });

        it("waits for a LoadBalancer's address only, the endpoint output, not for its pods to settle", async () => {
            const { recorder } = await build({ service: { type: "LoadBalancer" } });
            const annotations = recorder.get(SERVICE, "api-service").inputs.metadata.annotations;
            assert.strictEqual(annotations["pulumi.com/waitFor"], "jsonpath={.status.loadBalancer.ingress}");
            assert.strictEqual(annotations["pulumi.com/skipAwait"], undefined, "the LoadBalancer's address must be waited for");
        });

        for (const type of ["ClusterIP", "NodePort"] as const) {
            it(`does not wait on a ${type} Service, while the Deployment's rollout is still waited for`, async () => {
                const { recorder, deployment } = await build({ service: { type } });
                const service = recorder.get(SERVICE, "api-service");
                assert.strictEqual(service.inputs.metadata.annotations["pulumi.com/skipAwait"], "true");
                assert.strictEqual(service.inputs.metadata.annotations["pulumi.com/waitFor"], undefined);
                assert.strictEqual(deployment.inputs.metadata.annotations?.["pulumi.com/skipAwait"], undefined, "rollouts stay awaited");
                assert.strictEqual(deployment.inputs.metadata.annotations?.["pulumi.com/waitFor"], undefined, "rollouts stay awaited");
            });
        }

        it("lets the stack file's Service annotations override the wait", async () => {
            const { recorder } = await build({ service: { annotations: { "pulumi.com/skipAwait": "false" } } });
            assert.strictEqual(recorder.get(SERVICE, "api-service").inputs.metadata.annotations["pulumi.com/skipAwait"], "false");
        });

        it("leaves replicas to the HPA when autoscaling", async () => {
            const { recorder, deployment } = await build({
                autoscaling: { minReplicas: 2, maxReplicas: 6, memoryUtilizationPercent: 80 },
            });
            assert.strictEqual(deployment.inputs.spec.replicas, undefined, "the Deployment must not fight the HPA over replicas");
            const hpa = recorder.get(HPA, "api-hpa");
            assert.deepStrictEqual(hpa.inputs.spec, {
                scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "api" },
                minReplicas: 2,
                maxReplicas: 6,
                metrics: [
                    { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
                    { type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } } },
                ],
            });
        });

        it("adds a PodDisruptionBudget and spreads the pods across nodes whenever more than one replica can run", async () => {
            const selector = { "app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "api" };
            // An autoscaler from 1 runs several replicas once scaled out: those need the budget too.
            for (const args of [
                { replicas: 3 },
                { autoscaling: { minReplicas: 2, maxReplicas: 4 } },
                { autoscaling: { minReplicas: 1, maxReplicas: 3 } },
            ]) {
                const { recorder, deployment } = await build(args);
                const pdb = recorder.get(PDB, "api-pdb");
                // maxUnavailable 1, not minAvailable: a drain never hangs on a service scaled down to one pod.
                assert.deepStrictEqual(pdb.inputs.spec, {
                    maxUnavailable: 1,
                    selector: { matchLabels: selector },
                    unhealthyPodEvictionPolicy: "AlwaysAllow",
                });
                assert.deepStrictEqual(deployment.inputs.spec.template.spec.affinity, {
                    podAntiAffinity: {
                        preferredDuringSchedulingIgnoredDuringExecution: [
                            {
                                weight: 100,
                                podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selector } },
                            },
                        ],
                    },
                });
            }
        });

        it("creates no PDB for an autoscaler that never runs more than one replica", async () => {
            const { recorder } = await build({ autoscaling: { minReplicas: 1, maxReplicas: 1 } });
            assert.deepStrictEqual(recorder.all(PDB), []);
        });

        it("annotates pods for Prometheus when metrics are on", async () => {
            const { deployment } = await build({ metrics: {} });
            assert.deepStrictEqual(deployment.inputs.spec.template.metadata.annotations, {
                "prometheus.io/scrape": "true",
                "prometheus.io/path": "/metrics",
                "prometheus.io/port": "8000",
            });
            const custom = await build({ metrics: { path: "/prom", port: 9100 } });
            assert.strictEqual(custom.deployment.inputs.spec.template.metadata.annotations["prometheus.io/port"], "9100");
        });

        it("takes an explicit object name, history limit and run-as user", async () => {
            const { deployment } = await build({ serviceName: "backend", revisionHistoryLimit: 10, runAsUser: 2000 });
            assert.strictEqual(deployment.inputs.metadata.name, "backend");
            assert.strictEqual(deployment.inputs.spec.revisionHistoryLimit, 10);
            assert.strictEqual(deployment.inputs.spec.template.spec.securityContext.runAsUser, 2000);
        });
    });

    describe("stock images: run-as user, command and writable paths", () => {
        it("runs as the given user and group, which own the volumes", async () => {
            const { deployment, container } = await build({ runAsUser: 101, runAsGroup: 0 });
            assertHardened(deployment.inputs.spec.template.spec, container, 101, 0);
        });

        it("replaces the entrypoint and its arguments when given", async () => {
            const { container } = await build({ command: ["text-embeddings-router"], args: ["--port", "8080"] });
            assert.deepStrictEqual(container.command, ["text-embeddings-router"]);
            assert.deepStrictEqual(container.args, ["--port", "8080"]);
        });

        it("mounts each writable path as a size-limited emptyDir beside /tmp, the root filesystem staying read-only", async () => {
            const { deployment, container } = await build({ writablePaths: { "/var/cache/nginx": { sizeMiB: 64 } } });
            assert.deepStrictEqual(deployment.inputs.spec.template.spec.volumes, [
                { name: "tmp", emptyDir: { sizeLimit: "512Mi" } },
                { name: "var-cache-nginx", emptyDir: { sizeLimit: "64Mi" } },
            ]);
            assert.deepStrictEqual(container.volumeMounts, [
                { name: "tmp", mountPath: "/tmp" },
                { name: "var-cache-nginx", mountPath: "/var/cache/nginx" },
            ]);
            assert.strictEqual(container.securityContext.readOnlyRootFilesystem, true);
            assert.strictEqual(deployment.inputs.spec.strategy.type, "RollingUpdate", "an emptyDir keeps the rolling update");
        });

        it("a /tmp entry sets /tmp's own size limit", async () => {
            const { deployment, container } = await build({ writablePaths: { "/tmp": { sizeMiB: 512 } } });
            assert.deepStrictEqual(deployment.inputs.spec.template.spec.volumes, [{ name: "tmp", emptyDir: { sizeLimit: "512Mi" } }]);
            assert.deepStrictEqual(container.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
        });

        it("a persistent path gets its claim, shared by the release Jobs, and a Recreate rollout", async () => {
            const { recorder, deployment } = await build({
                migrate: { command: ["migrate"] },
                writablePaths: { "/models": { sizeMiB: 4096, persistent: true } },
            });
            const claim = recorder.get("kubernetes:core/v1:PersistentVolumeClaim", "api-volume-models");
            assert.deepStrictEqual(claim.inputs.metadata, {
                name: "api-models",
                namespace: "shop-homolog",
                labels: deployment.inputs.metadata.labels,
                annotations: { "pulumi.com/patchForce": "true" },
            });
            assert.strictEqual(claim.deleteBeforeReplace, false, "the claim leaves delete-first to the provider");
            assert.deepStrictEqual(deployment.inputs.spec.strategy, { type: "Recreate" });
            const volume = { name: "models", persistentVolumeClaim: { claimName: "api-models" } };
            assert.deepStrictEqual(deployment.inputs.spec.template.spec.volumes[1], volume);
            assert.deepStrictEqual(recorder.get("kubernetes:batch/v1:Job", "api-migrate").inputs.spec.template.spec.volumes[1], volume);
        });

        it("declares a metrics port of its own beside http, and the Service still exposes http only", async () => {
            const { recorder, container, deployment } = await build({ metrics: { port: 9100 } });
            assert.deepStrictEqual(container.ports, [
                { name: "http", containerPort: 8000, protocol: "TCP" },
                { name: "metrics", containerPort: 9100, protocol: "TCP" },
            ]);
            assert.strictEqual(deployment.inputs.spec.template.metadata.annotations["prometheus.io/port"], "9100");
            assert.deepStrictEqual(
                recorder.get(SERVICE, "api-service").inputs.spec.ports.map((p: any) => p.targetPort),
                ["http"],
            );
        });
    });

    it("admits the environment's other namespaces to a cluster-internal service, besides its own", async () => {
        const { recorder } = await build({ peerNamespaces: ["shop-homolog-payments"] });
        assert.deepStrictEqual(
            recorder.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "api-network-policy").inputs.spec.ingress[0].from,
            [
                { podSelector: {} },
                {
                    namespaceSelector: {
                        matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["shop-homolog-payments"] }],
                    },
                },
            ],
        );
    });

    describe("HTTPS at a DigitalOcean load balancer", () => {
        const CERTIFICATE = "digitalocean:index/certificate:Certificate";
        const RECORD = "digitalocean:index/dnsRecord:DnsRecord";
        const DO = "service.beta.kubernetes.io/do-loadbalancer-";

        it("terminates TLS with a Let's Encrypt certificate, redirects HTTP, and points the name at the load balancer", async () => {
            const { recorder, component } = await build({
                service: { type: "LoadBalancer", tls: { hostname: "shop.example.com" }, annotations: { [`${DO}name`]: "shop" } },
            });
            const certificate = recorder.get(CERTIFICATE, "api-certificate");
            assert.deepStrictEqual(certificate.inputs, { type: "lets_encrypt", domains: ["shop.example.com"] });
            const service = recorder.get(SERVICE, "api-service");
            assert.deepStrictEqual(service.inputs.metadata.annotations, {
                "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}",
                [`${DO}name`]: "shop",
                [`${DO}protocol`]: "http",
                [`${DO}tls-ports`]: "443",
                [`${DO}certificate-name`]: "api-certificate-0a1b2c3",
                [`${DO}redirect-http-to-https`]: "true",
                [`${DO}disable-lets-encrypt-dns-records`]: "true",
                "pulumi.com/patchForce": "true",
            });
            assert.deepStrictEqual(service.inputs.spec.ports, [
                { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
                { name: "https", port: 443, targetPort: "http", protocol: "TCP" },
            ]);
            assert.ok(service.dependencies.includes(certificate.urn), "the load balancer waits for its certificate");
            const record = recorder.get(RECORD, "api-dns");
            assert.deepStrictEqual(record.inputs, { domain: "example.com", name: "shop", type: "A", value: "203.0.113.10", ttl: 300 });
            assert.strictEqual(await promiseOf(component.endpoint), "https://shop.example.com");
        });

        it("a record for the zone itself is @, in the zone given", async () => {
            const { recorder } = await build({
                service: { type: "LoadBalancer", tls: { hostname: "example.com.br", zone: "example.com.br" } },
            });
            assert.deepStrictEqual(
                [recorder.get(RECORD, "api-dns").inputs.domain, recorder.get(RECORD, "api-dns").inputs.name],
                ["example.com.br", "@"],
            );
        });

        it("the certificate and the record are DigitalOcean's, never deleted with the cluster", async () => {
            const recorder = new Recorder();
            await recorder.install("test");
            const owner = new FakeResource("owner");
            new WebService(
                "api",
                { namespace: "ns", image: "img", service: { type: "LoadBalancer", tls: { hostname: "shop.example.com" } } },
                { deletedWith: owner },
            );
            await recorder.settle();
            for (const type of [CERTIFICATE, RECORD]) {
                assert.strictEqual(recorder.all(type)[0].deletedWith, "", `${type} is DigitalOcean's, not the cluster's`);
            }
        });

        it("a waiver is recorded on the Service, where the policy pack reads it", async () => {
            const { recorder } = await build({ service: { type: "LoadBalancer", tlsWaiver: "internal tool behind the VPN" } });
            assert.deepStrictEqual(recorder.get(SERVICE, "api-service").inputs.metadata.annotations, {
                "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}",
                "esteira.dev/tls-waiver": "internal tool behind the VPN",
                "pulumi.com/patchForce": "true",
            });
            assert.deepStrictEqual(recorder.all(CERTIFICATE), []);
        });
    });

    describe("invariants, enforced by the component itself", () => {
        const refuses = (args: Partial<WebServiceArgs>, message: string) =>
            assert.rejects(build(args), (err: Error) => {
                assert.strictEqual(err.message, message);
                return true;
            });

        it("autoscaling.minReplicas <= maxReplicas", () =>
            refuses(
                { autoscaling: { minReplicas: 5, maxReplicas: 3 } },
                "api-hpa: autoscaling: minReplicas (5) must be <= maxReplicas (3)",
            ));

        it("replicas and autoscaling exclude each other", () =>
            refuses(
                { replicas: 2, autoscaling: { minReplicas: 2, maxReplicas: 4 } },
                "api: replicas: replicas (2) cannot be set together with autoscaling: the HorizontalPodAutoscaler owns the replica count; remove replicas or autoscaling",
            ));

        it("a persistent path serves a single pod, so no autoscaler", () =>
            refuses(
                { autoscaling: { minReplicas: 1, maxReplicas: 3 }, writablePaths: { "/models": { sizeMiB: 10, persistent: true } } },
                "api: writablePaths: a persistent writable path (ReadWriteOnce) serves one pod at a time, so it cannot be autoscaled: remove autoscaling, or make the path an emptyDir (persistent: false)",
            ));

        it("TLS needs a load balancer", () =>
            refuses(
                { service: { tls: { hostname: "shop.example.com" } } },
                "api: service.tls: TLS is terminated at a DigitalOcean load balancer, so it needs service.type LoadBalancer; received ClusterIP",
            ));

        it("emptyDir writable paths fit in the ephemeral-storage limit", () =>
            refuses(
                { writablePaths: { "/cache": { sizeMiB: 600 } } },
                "api: writablePaths: the emptyDir paths add up to 600 MiB, more than resources.limits.ephemeralStorageMiB (512) they count against; raise that limit or make them smaller (or persistent)",
            ));

        it("writable paths are absolute", () =>
            refuses(
                { writablePaths: { "cache/": { sizeMiB: 10 } } },
                `api: writablePaths: "cache/" must be an absolute path such as /var/cache/nginx (no trailing '/', '.' or '..')`,
            ));

        it("requests do not exceed limits, defaults included", () =>
            refuses(
                { resources: { requests: { memoryMiB: 512 } } },
                "api: resources: requests.memoryMiB (512) must be <= limits.memoryMiB (256)",
            ));

        it("the ephemeral-storage request does not exceed its limit, defaults included", () =>
            refuses(
                { resources: { requests: { ephemeralStorageMiB: 1024 } } },
                "api: resources: requests.ephemeralStorageMiB (1024) must be <= limits.ephemeralStorageMiB (512)",
            ));
    });

    it("owns every object it creates entirely: the next up takes back what a kubectl rollout undo or edit changed (patchForce)", async () => {
        const { recorder } = await build({
            migrate: { command: ["migrate"] },
            autoscaling: { minReplicas: 2, maxReplicas: 4 },
            service: { annotations: { "service.beta.kubernetes.io/do-loadbalancer-name": "shop" } },
        });
        const objects = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
        assert.deepStrictEqual(objects.map((r) => r.type).sort(), [
            "kubernetes:apps/v1:Deployment",
            "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
            "kubernetes:batch/v1:Job",
            "kubernetes:core/v1:Service",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "kubernetes:policy/v1:PodDisruptionBudget",
        ]);
        for (const object of objects) {
            assert.strictEqual(object.inputs.metadata.annotations?.["pulumi.com/patchForce"], "true", `${object.type} ${object.name}`);
        }
        // On the object, not the pod template: forcing is the provider's business, not a pod's.
        const deployment = recorder.get(DEPLOYMENT, "api-deployment");
        assert.strictEqual(deployment.inputs.spec.template.metadata.annotations, undefined);
    });

    it("passes deletedWith on to every object it creates", async () => {
        const recorder = new Recorder();
        await recorder.install("test");
        const owner = new FakeResource("owner");
        new WebService("api", { namespace: "ns", image: "img", autoscaling: { minReplicas: 2, maxReplicas: 3 } }, { deletedWith: owner });
        await recorder.settle();
        const ownerUrn = recorder.get("test:index:Cluster", "owner").urn;
        const objects = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
        assert.strictEqual(objects.length, 5, "Deployment, Service, NetworkPolicy, HPA and PDB");
        for (const resource of objects) {
            assert.strictEqual(resource.deletedWith, ownerUrn, `${resource.name} must be deletedWith the cluster`);
        }
    });

    describe("network policy", () => {
        const selector = { "app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "api" };
        const policyOf = (recorder: Recorder) => recorder.get(NETWORK_POLICY, "api-network-policy").inputs;

        it("a ClusterIP service admits its own namespace's pods on its port, nothing else", async () => {
            const { recorder } = await build();
            assert.deepStrictEqual(policyOf(recorder), {
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: {
                    name: "api-ingress",
                    namespace: "shop-homolog",
                    labels: { ...selector, "app.kubernetes.io/managed-by": "pulumi" },
                    annotations: { "pulumi.com/patchForce": "true" },
                },
                spec: {
                    podSelector: { matchLabels: selector },
                    policyTypes: ["Ingress"],
                    ingress: [{ ports: [{ protocol: "TCP", port: 8000 }], from: [{ podSelector: {} }] }],
                },
            });
        });

        it("a public service admits its port from anywhere: load balancers arrive through the nodes", async () => {
            for (const type of ["LoadBalancer", "NodePort"] as const) {
                const { recorder } = await build({ port: 8080, service: { type } });
                assert.deepStrictEqual(policyOf(recorder).spec.ingress, [{ ports: [{ protocol: "TCP", port: 8080 }] }], type);
            }
        });

        it("admits the metrics scraper's namespace on the metrics port (monitoring unless told)", async () => {
            const scraper = (namespace: string, port: number) => ({
                ports: [{ protocol: "TCP", port }],
                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } }],
            });
            const byDefault = await build({ metrics: {} });
            assert.deepStrictEqual(policyOf(byDefault.recorder).spec.ingress[1], scraper("monitoring", 8000));
            const own = await build({ metrics: { port: 9100 }, metricsNamespace: "kube-prometheus-stack" });
            assert.deepStrictEqual(policyOf(own.recorder).spec.ingress[1], scraper("kube-prometheus-stack", 9100));
        });

        it("selects no migration pod, so nothing reaches a migration", async () => {
            const { recorder } = await build({ migrate: { command: ["migrate"] }, service: { type: "LoadBalancer" } });
            const podLabels = recorder.get(JOB, "api-migrate").inputs.spec.template.metadata.labels;
            for (const policy of recorder.all(NETWORK_POLICY)) {
                const matches = Object.entries(policy.inputs.spec.podSelector.matchLabels).every(([k, v]) => podLabels[k] === v);
                assert.ok(!matches, `${policy.name} must not admit traffic to migration pods`);
            }
        });
    });

    describe("database secret", () => {
        it("pods read DATABASE_URL from the database secret, ahead of their own secretEnv", async () => {
            const { container } = await build({
                databaseSecretName: "db-credentials",
                secretEnv: { TOKEN: { secretName: "api-secrets", key: "TOKEN" } },
            });
            assert.deepStrictEqual(container.env, [
                { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db-credentials", key: "DATABASE_URL" } } },
                { name: "TOKEN", valueFrom: { secretKeyRef: { name: "api-secrets", key: "TOKEN" } } },
            ]);
        });

        it("a service with database: false gets no DATABASE_URL", async () => {
            const { container } = await build({ databaseSecretName: "db-credentials", database: false });
            assert.deepStrictEqual(container.env, []);
        });

        it("pods roll and the migration reruns when the database secret changes: its checksum is in both pod templates", async () => {
            const { recorder, deployment } = await build({
                databaseSecretName: "db-credentials",
                databaseSecretChecksum: "c0ffee",
                migrate: { command: ["migrate"] },
                metrics: {},
            });
            assert.strictEqual(deployment.inputs.spec.template.metadata.annotations["checksum/database-secret"], "c0ffee");
            assert.strictEqual(deployment.inputs.spec.template.metadata.annotations["prometheus.io/scrape"], "true");
            const job = recorder.get("kubernetes:batch/v1:Job", "api-migrate");
            assert.deepStrictEqual(job.inputs.spec.template.metadata.annotations, { "checksum/database-secret": "c0ffee" });
        });

        it("pods roll and the release Jobs rerun when a Secret of esteira:secrets they read changes: each one's checksum, by name", async () => {
            const { recorder, deployment } = await build({
                secretEnv: { TOKEN: { secretName: "api-secrets", key: "TOKEN" }, KEY: { secretName: "oauth", key: "KEY" } },
                secretChecksums: { oauth: "f00d", "api-secrets": "beef" },
                migrate: { command: ["migrate"] },
                seed: { command: ["seed"] },
            });
            const expected = { "checksum/secrets": "api-secrets=beef,oauth=f00d" };
            assert.deepStrictEqual(deployment.inputs.spec.template.metadata.annotations, expected);
            for (const job of ["api-migrate", "api-seed"]) {
                assert.deepStrictEqual(
                    recorder.get("kubernetes:batch/v1:Job", job).inputs.spec.template.metadata.annotations,
                    expected,
                    job,
                );
            }
        });

        it("a service that does not read the database does not roll with its secret", async () => {
            const { deployment } = await build({ databaseSecretName: "db-credentials", databaseSecretChecksum: "c0ffee", database: false });
            assert.strictEqual(deployment.inputs.spec.template.metadata.annotations, undefined);
        });
    });

    describe("shutdown", () => {
        it("keeps a stopping pod serving 5 s by default (preStop sleep), while the nodes stop routing to it", async () => {
            const { container } = await build();
            assert.deepStrictEqual(container.lifecycle, { preStop: { sleep: { seconds: 5 } } });
        });

        it("takes shutdownDelaySeconds, and 0 turns the delay off", async () => {
            assert.deepStrictEqual((await build({ shutdownDelaySeconds: 15 })).container.lifecycle, {
                preStop: { sleep: { seconds: 15 } },
            });
            assert.strictEqual((await build({ shutdownDelaySeconds: 0 })).container.lifecycle, undefined);
        });
    });

    describe("migration", () => {
        const migrate = { command: ["node", "dist/migrate.js"] };

        it("runs the migrate command as a Job with the same image before the Deployment, on the direct database URL", async () => {
            const { recorder, deployment } = await build({
                env: { LOG_LEVEL: "INFO" },
                databaseSecretName: "db-credentials",
                imagePullSecrets: ["ghcr-secret"],
                migrate,
            });
            const job = recorder.get("kubernetes:batch/v1:Job", "api-migrate");
            assert.strictEqual(recorder.parentOf(job)?.urn, recorder.get("esteira:kubernetes:WebService", "api").urn);
            assert.ok(deployment.dependencies.includes(job.urn), "the Deployment waits for the migration Job");
            const pod = job.inputs.spec.template.spec;
            assert.strictEqual(pod.restartPolicy, "Never");
            assert.deepStrictEqual(pod.imagePullSecrets, [{ name: "ghcr-secret" }]);
            const container = pod.containers[0];
            assert.strictEqual(container.image, "ghcr.io/acme/api@sha256:abc");
            assert.deepStrictEqual(container.command, ["node", "dist/migrate.js"]);
            assert.deepStrictEqual(container.env, [
                { name: "LOG_LEVEL", value: "INFO" },
                { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db-credentials", key: "DATABASE_DIRECT_URL" } } },
            ]);
            assert.strictEqual(container.securityContext.readOnlyRootFilesystem, true);
            assert.strictEqual(pod.securityContext.runAsNonRoot, true);
        });

        it("pulls the image as the Deployment does, and limits the Job's storage as the Deployment's", async () => {
            const { recorder, deployment } = await build({ migrate });
            const job = recorder.get(JOB, "api-migrate").inputs.spec.template.spec;
            const app = deployment.inputs.spec.template.spec;
            assert.strictEqual(job.containers[0].imagePullPolicy, "IfNotPresent");
            assert.strictEqual(job.containers[0].imagePullPolicy, app.containers[0].imagePullPolicy);
            assert.deepStrictEqual(job.containers[0].resources, app.containers[0].resources);
            assert.deepStrictEqual(job.volumes, app.volumes);
        });

        it("gives the Job a fresh name per image and a bounded run", async () => {
            const { recorder } = await build({ migrate: { ...migrate, timeoutSeconds: 120, backoffLimit: 3 } });
            const job = recorder.get("kubernetes:batch/v1:Job", "api-migrate");
            assert.strictEqual(job.inputs.metadata.name, undefined, "auto-named, so a new image creates a new Job");
            assert.deepStrictEqual(job.inputs.spec.backoffLimit, 3);
            assert.deepStrictEqual(job.inputs.spec.activeDeadlineSeconds, 120);
            assert.strictEqual(job.customTimeouts?.create, "120s");
        });

        it("labels migration pods so the Service never selects them", async () => {
            const { recorder } = await build({ migrate });
            const labels = recorder.get("kubernetes:batch/v1:Job", "api-migrate").inputs.spec.template.metadata.labels;
            const selector = recorder.get(SERVICE, "api-service").inputs.spec.selector;
            const matches = Object.entries(selector).every(([key, value]) => labels[key] === value);
            assert.ok(!matches, "the Service selector must not match migration pods");
            assert.strictEqual(labels["app.kubernetes.io/component"], "migration");
        });

        it("runs the seed after the migration, on the same image and direct URL, before the Deployment", async () => {
            const { recorder, deployment } = await build({
                databaseSecretName: "db-credentials",
                migrate,
                seed: { command: ["node", "dist/seed.js"], timeoutSeconds: 60 },
            });
            const migration = recorder.get("kubernetes:batch/v1:Job", "api-migrate");
            const seed = recorder.get("kubernetes:batch/v1:Job", "api-seed");
            assert.ok(seed.dependencies.includes(migration.urn), "the seed runs on the migrated schema");
            assert.ok(deployment.dependencies.includes(seed.urn), "the Deployment waits for the seed");
            assert.ok(deployment.dependencies.includes(migration.urn), "and for the migration");
            const container = seed.inputs.spec.template.spec.containers[0];
            assert.strictEqual(container.name, "seed");
            assert.deepStrictEqual(container.command, ["node", "dist/seed.js"]);
            assert.strictEqual(container.image, "ghcr.io/acme/api@sha256:abc");
            assert.strictEqual(container.env.find((e: any) => e.name === "DATABASE_URL").valueFrom.secretKeyRef.key, "DATABASE_DIRECT_URL");
            assert.strictEqual(seed.inputs.metadata.name, undefined, "auto-named: a new image runs the seed again");
            assert.strictEqual(seed.inputs.spec.activeDeadlineSeconds, 60);
            assert.strictEqual(seed.inputs.spec.backoffLimit, 1);
            assert.deepStrictEqual(
                [seed.inputs.metadata.labels["app.kubernetes.io/name"], seed.inputs.metadata.labels["app.kubernetes.io/component"]],
                ["api-seed", "seed"],
            );
        });

        it("a seed without a migration runs alone before the Deployment", async () => {
            const { recorder, deployment } = await build({ seed: { command: ["seed"] } });
            const seed = recorder.get("kubernetes:batch/v1:Job", "api-seed");
            assert.deepStrictEqual(seed.dependencies, []);
            assert.ok(deployment.dependencies.includes(seed.urn));
        });

        it("a failed migration Job is replaced by the next up, so fixing its cause is enough to run it again", async () => {
            const { recorder } = await build({ migrate });
            const job = recorder.get("kubernetes:batch/v1:Job", "api-migrate");
            assert.strictEqual(job.inputs.metadata.annotations["pulumi.com/replaceUnready"], "true");
        });

        it("a failed seed Job is replaced by the next up as well, and reports the end of its log", async () => {
            const { recorder } = await build({ seed: { command: ["seed"] } });
            const job = recorder.get("kubernetes:batch/v1:Job", "api-seed");
            assert.strictEqual(job.inputs.metadata.annotations["pulumi.com/replaceUnready"], "true");
            assert.strictEqual(job.inputs.spec.template.spec.containers[0].terminationMessagePolicy, "FallbackToLogsOnError");
            assert.strictEqual(
                job.inputs.spec.template.spec.containers[0].lifecycle,
                undefined,
                "nothing routes to a Job: no preStop sleep",
            );
            assert.strictEqual(job.deleteBeforeReplace, false);
        });

        it("a container that fails reports the end of its log, which a failed `pulumi up` prints", async () => {
            const { recorder, container } = await build({ migrate });
            const job = recorder.get("kubernetes:batch/v1:Job", "api-migrate");
            assert.strictEqual(job.inputs.spec.template.spec.containers[0].terminationMessagePolicy, "FallbackToLogsOnError");
            assert.strictEqual(container.terminationMessagePolicy, "FallbackToLogsOnError");
        });

        it("defaults to a 600 s deadline and one retry; no Job without a migration", async () => {
            const { recorder } = await build({ migrate: { command: ["migrate"] } });
            const job = recorder.get("kubernetes:batch/v1:Job", "api-migrate");
            assert.strictEqual(job.inputs.spec.activeDeadlineSeconds, 600);
            assert.strictEqual(job.inputs.spec.backoffLimit, 1);
            assert.deepStrictEqual((await build()).recorder.all("kubernetes:batch/v1:Job"), []);
        });
    });
});
