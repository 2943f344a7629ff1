/**
 * esteira: one environment of the delivery line per stack. This file only wires: the stack's
 * configuration hands each component its Args (bad config fails before any resource exists), and
 * each component's outputs flow into the next.
 */
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import type { ServiceConfig } from "./config/parse";
import { Database } from "./components/database";
import { EnvironmentNamespace } from "./components/environment-namespace";
import { GitHubEnvironment } from "./components/github-environment";
import { Image } from "./components/image";
import { digestPinned, PinnedImage } from "./components/pinned-image";
import { PromotedImage } from "./components/promoted-image";
import { WebService } from "./components/web-service";
import { deployedCommit, loadConfig } from "./config";

const config = loadConfig(deployedCommit());
// The environment's components are named after the stack, which no stack file can change: setting
// esteira:environment renames no resource. Stacks that set it earlier had their components named
// after it; the alias carries those over (children follow their component's alias).
const env = config.stack;
const named: pulumi.ComponentResourceOptions = config.environment === env ? {} : { aliases: [{ name: config.environment }] };

const cluster = new Cluster(env, config.cluster, named);
// Every Kubernetes object goes through the cluster's provider and, when this stack owns the
// cluster, is deleted with it instead of one by one.
const inCluster: pulumi.ComponentResourceOptions = { provider: cluster.provider, deletedWith: cluster.kubernetesCluster };

const database = config.database && new Database(env, { ...config.database, cluster }, named);

const environment = new EnvironmentNamespace(
    env,
    {
        namespace: config.namespace,
        adoptNamespace: config.adoptNamespace,
        lookUpNamespace: (name) => cluster.lookUpNamespace(name),
        environment: config.environment,
        registry: config.registry,
        secrets: database && { [database.secretName]: database.secretData },
        database: database?.destination,
        egress: config.networkPolicy?.egress,
    },
    { ...named, ...inCluster },
);

/** The service's image: built and pushed, promoted from another stack, or a reference pinned to its digest. */
function imageOf(name: string, image: ServiceConfig["image"]): pulumi.Input<string> {
    if ("build" in image) return new Image(name, image.build).ref;
    if ("promoteFrom" in image) return new PromotedImage(name, { promoteFrom: image.promoteFrom, service: name }).ref;
    // Only a reference by tag is looked up, so other stacks never need the docker provider.
    return digestPinned(image.ref) ? image.ref : new PinnedImage(name, { ref: image.ref, registry: config.registry }).ref;
}

const services = Object.entries(config.services).map(([name, svc]) => {
    const image = pulumi.output(imageOf(name, svc.image));
    const service = new WebService(
        name,
        {
            ...svc,
            image,
            namespace: environment.namespaceName,
            imagePullSecrets: [environment.pullSecretName],
            databaseSecretName: database && environment.secretNames[database.secretName],
            databaseSecretChecksum: database && environment.secretChecksums[database.secretName],
        },
        inCluster,
    );
    return { name, image, endpoint: service.endpoint };
});

if (config.github) {
    new GitHubEnvironment(
        env,
        {
            ...config.github,
            kubeconfig: cluster.kubeconfig,
            registryPushToken: config.registry.pushToken,
            stack: config.stack,
            variables: {
                ESTEIRA_NAMESPACE: environment.namespaceName,
                ...Object.fromEntries(services.map((s) => [`ESTEIRA_${s.name.toUpperCase().replace(/-/g, "_")}_URL`, s.endpoint])),
            },
        },
        named,
    );
}

export const namespace = environment.namespaceName;
export const endpoints = pulumi.output(Object.fromEntries(services.map((s) => [s.name, s.endpoint])));
/** Digest-pinned image per service: what `promoteFrom` in another stack reads. */
export const images = pulumi.output(Object.fromEntries(services.map((s) => [s.name, s.image])));
export const clusterId = cluster.clusterIdentifier;
// Outputs only some layouts have are exported only where they exist: an undefined output makes
// the engine warn on every run. Stacks that share this one's cluster read `kubeconfig` and
// `databaseClusterId` or `databaseAdminUrl` (the kubeconfig and the admin URL as secrets).
if (cluster.kubeconfig) module.exports.kubeconfig = cluster.kubeconfig;
if (database?.databaseClusterId) module.exports.databaseClusterId = database.databaseClusterId;
if (database?.adminUrl) module.exports.databaseAdminUrl = database.adminUrl;
