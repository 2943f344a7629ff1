/**
 * Resources as esteira's components create them (components/web-service.ts and friends), each
 * compliant with every policy; a test copies one and breaks exactly what it is about.
 */
export const DIGEST = "sha256:" + "a".repeat(64);
export const IMAGE = `ghcr.io/esteira-dev/esteira/sample@${DIGEST}`;

export const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
export const JOB = "kubernetes:batch/v1:Job";
export const CRONJOB = "kubernetes:batch/v1:CronJob";
export const STATEFULSET = "kubernetes:apps/v1:StatefulSet";
export const SERVICE = "kubernetes:core/v1:Service";
export const SECRET = "kubernetes:core/v1:Secret";
export const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
export const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
export const KUBERNETES_CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster";
export const DATABASE_CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster";
export const DATABASE = "digitalocean:index/databaseDb:DatabaseDb";
export const VPC = "digitalocean:index/vpc:Vpc";
export const DATABASE_FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall";
export const ACTIONS_ENVIRONMENT_SECRET = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret";

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value));

export function container(name = "sample"): Record<string, any> {
    return clone({
        name,
        image: IMAGE,
        ports: [{ name: "http", containerPort: 8000, protocol: "TCP" }],
        readinessProbe: { httpGet: { path: "/readyz", port: 8000 }, periodSeconds: 5 },
        livenessProbe: { httpGet: { path: "/healthz", port: 8000 }, periodSeconds: 10 },
        resources: {
            requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
            limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "256Mi" },
        },
        securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ["ALL"] },
        },
        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    });
}

const LABELS = { "app.kubernetes.io/name": "sample", "app.kubernetes.io/instance": "sample", environment: "homolog" };
const SELECTOR = { "app.kubernetes.io/name": "sample", "app.kubernetes.io/instance": "sample" };

export function podSpec(containers = [container()]): Record<string, any> {
    return {
        automountServiceAccountToken: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 10001,
            seccompProfile: { type: "RuntimeDefault" },
        },
        volumes: [{ name: "tmp", emptyDir: {} }],
        containers,
    };
}

export function deployment(spec = podSpec()): Record<string, any> {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "sample", namespace: "esteira-homolog", labels: LABELS },
        spec: {
            replicas: 1,
            selector: { matchLabels: SELECTOR },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template: { metadata: { labels: LABELS }, spec },
        },
    };
}

/** The migration Job: run to completion, so no probes. */
export function job(
    spec = podSpec([{ ...container("migrate"), readinessProbe: undefined, livenessProbe: undefined }]),
): Record<string, any> {
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { namespace: "esteira-homolog" },
        spec: { backoffLimit: 1, template: { metadata: { labels: LABELS }, spec: { ...spec, restartPolicy: "Never" } } },
    };
}

export function cronJob(
    spec = podSpec([{ ...container("nightly"), readinessProbe: undefined, livenessProbe: undefined }]),
): Record<string, any> {
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "nightly", namespace: "esteira-homolog" },
        spec: { schedule: "0 3 * * *", jobTemplate: { spec: { template: { spec: { ...spec, restartPolicy: "Never" } } } } },
    };
}

export function hpa(minReplicas: number, maxReplicas = 6): Record<string, any> {
    return {
        metadata: { name: "sample", namespace: "esteira-homolog" },
        spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "sample" }, minReplicas, maxReplicas },
    };
}

export function pdb(matchLabels: Record<string, string> = SELECTOR, namespace = "esteira-homolog"): Record<string, any> {
    return { metadata: { name: "sample", namespace }, spec: { maxUnavailable: 1, selector: { matchLabels } } };
}

export { clone };
