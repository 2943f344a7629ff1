/**
 * esteira: one environment of the delivery line per stack. This file only composes: the stack's
 * configuration is read and validated first (bad config fails before any resource exists), then
 * the components are wired together and the environment's outputs exported.
 */
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import { Database } from "./components/database";
import { EnvironmentNamespace } from "./components/environment-namespace";
import { GitHubEnvironment } from "./components/github-environment";
import { Image } from "./components/image";
import { PromotedImage } from "./components/promoted-image";
import { SecretKeyRefArgs, WebService } from "./components/web-service";
import { deployedCommit, loadConfig } from "./config";

const config = loadConfig(deployedCommit());
const { environment: env, protect } = config;

const clusterConfig = config.cluster;
const cluster = new Cluster(
    env,
    clusterConfig.mode === "digitalocean"
        ? { ...clusterConfig, clusterName: clusterConfig.name ?? `${config.project}-${env}`, protect }
        : clusterConfig.mode === "stack"
          ? { mode: "stack", fromStack: clusterConfig.stack }
          : clusterConfig,
);
// Every Kubernetes object goes through the cluster's provider and, when this stack owns the
// cluster, is deleted with it instead of one by one.
const k8sOpts: pulumi.ComponentResourceOptions = { provider: cluster.provider, deletedWith: cluster.kubernetesCluster };

const databaseConfig = config.database;
const database =
    databaseConfig &&
    new Database(
        env,
        databaseConfig.mode === "digitalocean"
            ? {
                  ...databaseConfig,
                  clusterName: databaseConfig.name ?? `${config.project}-${env}-db`,
                  userName: databaseConfig.user,
                  vpcId: cluster.vpcId,
                  kubernetesClusterId: cluster.clusterIdentifier,
                  protect,
              }
            : databaseConfig.mode === "shared"
              ? {
                    mode: "shared",
                    fromStack: databaseConfig.stack,
                    // Named after the environment, so each pull request's database is its own.
                    databaseName: databaseConfig.databaseName ?? `${config.project}-${env}`,
                    userName: databaseConfig.user ?? `${config.project}-${env}`,
                }
              : databaseConfig,
    );
const databaseSecretName = config.database?.secretName;

const environment = new EnvironmentNamespace(
    env,
    {
        namespace: config.namespace,
        environment: env,
        registryServer: config.registry.server,
        registryUsername: config.registry.username,
        registryToken: config.registry.token,
        pullSecretName: config.registry.pullSecretName,
        secrets:
            databaseSecretName && database
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
              exec: config.images!.exec,
              builder: config.images!.builder,
          }).ref
        : promoteFrom
          ? new PromotedImage(name, { fromStack: promoteFrom, service: name }).ref
          : pulumi.output(ref!);

    const databaseRef = (key: string): Record<string, SecretKeyRefArgs> =>
        databaseSecretName && (svc.database ?? true)
            ? { DATABASE_URL: { secretName: environment.secretNames[databaseSecretName], key } }
            : {};
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

const gh = config.github;
if (gh) {
    const secretsWanted = { kubeconfig: true, registryPushToken: false, ...gh.actionsSecrets };
    const actionsSecrets: Record<string, pulumi.Input<string>> = {};
    if (secretsWanted.kubeconfig && cluster.kubeconfig) actionsSecrets.KUBECONFIG = cluster.kubeconfig;
    if (secretsWanted.registryPushToken) actionsSecrets.REGISTRY_TOKEN = config.registry.pushToken;
    new GitHubEnvironment(env, {
        repository: gh.repository,
        environment: gh.environment ?? env,
        reviewerUsers: gh.reviewers?.users,
        reviewerTeams: gh.reviewers?.teams,
        preventSelfReview: gh.preventSelfReview,
        waitTimerMinutes: gh.waitTimerMinutes,
        deploymentRefs:
            gh.deployFrom === undefined || typeof gh.deployFrom === "string"
                ? { kind: gh.deployFrom ?? "all" }
                : { kind: "patterns", ...gh.deployFrom },
        secrets: actionsSecrets,
        variables: {
            ESTEIRA_STACK: config.stack,
            ESTEIRA_NAMESPACE: environment.namespaceName,
            ...Object.fromEntries(
                Object.entries(services).map(([name, service]) => [
                    `ESTEIRA_${name.toUpperCase().replace(/-/g, "_")}_URL`,
                    service.endpoint,
                ]),
            ),
        },
    });
}

export const namespace = environment.namespaceName;
export const endpoints = pulumi.output(Object.fromEntries(Object.entries(services).map(([name, service]) => [name, service.endpoint])));
/** Digest-pinned image per service: what `promoteFrom` in another stack reads. */
export const images = pulumi.output(imageRefs);
export const clusterId = cluster.clusterIdentifier;
// Outputs only some layouts have are exported only where they exist: an undefined output makes
// the engine warn on every run. Stacks that share this one's cluster read `kubeconfig` and
// `databaseClusterId` (the kubeconfig as a secret).
if (cluster.kubeconfig) module.exports.kubeconfig = cluster.kubeconfig;
if (database?.databaseClusterId) module.exports.databaseClusterId = database.databaseClusterId;
