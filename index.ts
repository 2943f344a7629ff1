/**
 * esteira: one environment of the delivery line per stack. This file only composes: the stack's
 * configuration is read and validated first (bad config fails before any resource exists), then
 * the components are wired together and the environment's outputs exported.
 */
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import { Database } from "./components/database";
import { EnvironmentNamespace } from "./components/environment-namespace";
import { Image } from "./components/image";
import { PromotedImage } from "./components/promoted-image";
import { SecretKeyRefArgs, WebService } from "./components/web-service";
import { loadConfig } from "./config";

const config = loadConfig();
const { environment: env, protect } = config;

const cluster = new Cluster(
    env,
    config.cluster.mode === "digitalocean"
        ? { ...config.cluster, clusterName: config.cluster.name ?? `${config.project}-${env}`, protect }
        : config.cluster,
);
// Every Kubernetes object goes through the cluster's provider and, when this stack owns the
// cluster, is deleted with it instead of one by one.
const k8sOpts: pulumi.ComponentResourceOptions = { provider: cluster.provider, deletedWith: cluster.kubernetesCluster };

const database = config.database
    ? new Database(
          env,
          config.database.mode === "digitalocean"
              ? {
                    ...config.database,
                    clusterName: config.database.name ?? `${config.project}-${env}-db`,
                    userName: config.database.user,
                    vpcId: cluster.vpcId,
                    kubernetesClusterId: cluster.clusterIdentifier,
                    protect,
                }
              : config.database,
      )
    : undefined;
const databaseSecretName = config.database?.secretName ?? "db-credentials";

const environment = new EnvironmentNamespace(
    env,
    {
        namespace: config.namespace,
        environment: env,
        registryServer: config.registry.server,
        registryUsername: config.registry.username,
        registryToken: config.registry.token,
        pullSecretName: config.registry.pullSecretName,
        secrets: database
            ? { [databaseSecretName]: { DATABASE_URL: database.connectionUrl, DATABASE_DIRECT_URL: database.directUrl } }
            : undefined,
    },
    k8sOpts,
);

// Built images are tagged with the commit (when known) and the stack; pods use the digest.
const imageTags = [...(config.commitSha ? [`sha-${config.commitSha.slice(0, 12)}`] : []), config.stack];

const services: Record<string, WebService> = {};
const imageRefs: Record<string, pulumi.Output<string>> = {};
for (const [name, svc] of Object.entries(config.services)) {
    const { build, promoteFrom, ref } = svc.image;
    imageRefs[name] = build
        ? new Image(name, {
              // The config check guarantees a repository whenever a service builds.
              repository: `${config.images!.repository}/${name}`,
              context: build.context,
              dockerfile: build.dockerfile,
              buildArgs: build.args,
              target: build.target,
              tags: imageTags,
              registry: { address: config.registry.server, username: config.registry.username, password: config.registry.pushToken },
              buildOnPreview: config.images!.buildOnPreview,
              cache: config.images!.cache,
              platforms: config.images!.platforms,
              network: config.images!.network,
          }).ref
        : promoteFrom
          ? new PromotedImage(name, { fromStack: promoteFrom, service: name }).ref
          : pulumi.output(ref!);

    const databaseRef = (key: string): Record<string, SecretKeyRefArgs> =>
        database && (svc.database ?? true) ? { DATABASE_URL: { secretName: environment.secretNames[databaseSecretName], key } } : {};
    services[name] = new WebService(
        name,
        {
            namespace: environment.namespaceName,
            environment: env,
            partOf: config.project,
            image: imageRefs[name],
            imagePullSecrets: [environment.pullSecretName],
            containerPort: svc.port,
            replicas: svc.replicas,
            env: svc.env,
            secretEnv: { ...databaseRef("DATABASE_URL"), ...svc.secretEnv },
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
            // Migrations bypass the connection pool: their advisory lock needs a session.
            migration: svc.migrate && { ...svc.migrate, secretEnv: databaseRef("DATABASE_DIRECT_URL") },
        },
        k8sOpts,
    );
}

export const namespace = environment.namespaceName;
export const endpoints = pulumi.output(Object.fromEntries(Object.entries(services).map(([name, service]) => [name, service.endpoint])));
/** Digest-pinned image per service: what `promoteFrom` in another stack reads. */
export const images = pulumi.output(imageRefs);
export const kubeconfig = cluster.kubeconfig;
export const clusterId = cluster.clusterIdentifier;
export const databaseClusterId = database?.databaseClusterId;
