/**
 * One Deployment and one Secret, compliant with every policy unless `smoke:readinessProbe` is false.
 * The provider renders manifests to a directory instead of talking to a cluster, so a preview runs
 * the whole engine (program, provider, policy pack) with nothing listening anywhere.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config("smoke");
const readinessProbe = config.getBoolean("readinessProbe") ?? true;
const probe = (path: string) => ({ httpGet: { path, port: 8000 }, periodSeconds: 10 });

const provider = new k8s.Provider("render", { renderYamlToDirectory: "rendered" });
const labels = { "app.kubernetes.io/name": "web" };

new k8s.apps.v1.Deployment(
    "web",
    {
        metadata: { name: "web", namespace: "smoke" },
        spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template: {
                metadata: { labels },
                spec: {
                    securityContext: { runAsNonRoot: true, runAsUser: 10001 },
                    containers: [
                        {
                            name: "web",
                            image: `registry.example/web@sha256:${"0".repeat(64)}`,
                            readinessProbe: readinessProbe ? probe("/readyz") : undefined,
                            livenessProbe: probe("/healthz"),
                            resources: {
                                requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
                                limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "256Mi" },
                            },
                            securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
                        },
                    ],
                },
            },
        },
    },
    { provider },
);

// A Secret too: in the compliant preview kubernetes-secret-data-is-secret must find its value
// marked secret, which proves the secret hook (src/secrets.ts) sees the real analyzer's props; if
// it did not, the policy raises an error and the preview fails.
new k8s.core.v1.Secret(
    "token",
    { metadata: { name: "token", namespace: "smoke" }, stringData: { TOKEN: "not-a-real-token" } },
    { provider },
);
