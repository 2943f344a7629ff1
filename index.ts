/**
 * esteira: one environment of the delivery line per stack. This file only composes: the stack's
 * configuration is read and validated first (bad config fails before any resource exists), then
 * the components are wired together and the environment's outputs exported.
 */
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import { EnvironmentNamespace } from "./components/environment-namespace";
import { WebService } from "./components/web-service";
import { loadConfig } from "./config";

const config = loadConfig();

const cluster = new Cluster(config.environment, { ...config.cluster, kubeconfig: config.kubeconfig });
const k8sOpts: pulumi.ComponentResourceOptions = { provider: cluster.provider };

const environment = new EnvironmentNamespace(
    config.environment,
    {
        namespace: config.namespace,
        environment: config.environment,
        registryServer: config.registry.server,
        registryUsername: config.registry.username,
        registryToken: config.registry.token,
        pullSecretName: config.registry.pullSecretName,
    },
    k8sOpts,
);

const services: Record<string, WebService> = {};
for (const [name, svc] of Object.entries(config.services)) {
    services[name] = new WebService(
        name,
        {
            namespace: environment.namespaceName,
            environment: config.environment,
            partOf: config.project,
            image: svc.image,
            imagePullSecrets: [environment.pullSecretName],
            containerPort: svc.port,
            replicas: svc.replicas,
            env: svc.env,
            secretEnv: svc.secretEnv,
            readinessProbe: svc.probes?.readiness,
            livenessProbe: svc.probes?.liveness,
            startupProbe: svc.probes?.startup,
            requests: svc.resources?.requests,
            limits: svc.resources?.limits,
            serviceType: svc.service?.type,
            servicePort: svc.service?.port,
            serviceAnnotations: svc.service?.annotations,
            autoscaling: svc.autoscaling,
            metrics: svc.metrics,
            revisionHistoryLimit: svc.revisionHistoryLimit,
            rolloutTimeoutSeconds: svc.rolloutTimeoutSeconds,
        },
        k8sOpts,
    );
}

export const namespace = environment.namespaceName;
export const endpoints = pulumi.output(Object.fromEntries(Object.entries(services).map(([name, service]) => [name, service.endpoint])));
export const kubeconfig = cluster.kubeconfig;
