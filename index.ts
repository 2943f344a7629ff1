/**
 * esteira: one environment of the delivery line per stack. This file only wires: the stack's
 * configuration hands each component its Args (bad config fails before any resource exists), and
 * each component's outputs flow into the next.
 */
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import type { SecretKeyRef } from "./components/parts/pod-spec";
import type { Configured, NamespaceConfig } from "./config/parse";
import { Database } from "./components/database";
import { EnvironmentAccess } from "./components/environment-access";
import { EnvironmentNamespace } from "./components/environment-namespace";
import { GitHubEnvironment } from "./components/github-environment";
import { GitHubRepository } from "./components/github-repository";
import { Image } from "./components/image";
import { Monitoring } from "./components/monitoring";
import { NamespaceDatabase } from "./components/namespace-database";
import { digestPinned, PinnedImage } from "./components/pinned-image";
import { PromotedImage } from "./components/promoted-image";
import { RepositorySettings } from "./components/repository-settings";
import { ScheduledJob } from "./components/scheduled-job";
import { WebService } from "./components/web-service";
import { TenantPolicy } from "./components/tenant-policy";
import { Worker } from "./components/worker";
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

// A pull request's throwaway PostgreSQL lives in its namespace (served below, once that exists);
// every other mode is a server elsewhere.
const database =
    config.database &&
    (config.database.mode === "namespace"
        ? new NamespaceDatabase(
              env,
              { ...config.database, image: imageOf(`${env}-postgres`, { ref: config.database.image }), namespaceName: config.namespace },
              named,
          )
        : new Database(env, { ...config.database, cluster }, named));

/** The Secrets a namespace holds: the database's where its workloads read it, and those of esteira:secrets they read. */
function secretsOf(namespace: NamespaceConfig): Record<string, Record<string, pulumi.Input<string>>> {
    return {
        ...(database && namespace.database ? { [database.secretName]: database.secretData } : {}),
        ...Object.fromEntries(namespace.secrets.map((name) => [name, config.appSecrets[name]])),
    };
}

/** An environment's namespaces reach each other; a single namespace has no peers. */
const peersOf = (namespace: NamespaceConfig) => config.namespaces.map((n) => n.name).filter((name) => name !== namespace.name);

// The stack's own namespace is named after the stack; each other one after its key too. Each is
// refused when it exists already and is not this stack's, unless adopted.
const namespaces = new Map(
    config.namespaces.map((namespace) => [
        namespace.key,
        new EnvironmentNamespace(
            namespace.key === undefined ? env : `${env}-${namespace.key}`,
            {
                namespace: namespace.name,
                adoptNamespace: namespace.adoptNamespace,
                lookUpNamespace: (name) => cluster.lookUpNamespace(name),
                configKeys: namespace.configKeys,
                environment: config.environment,
                registry: config.registry,
                secrets: secretsOf(namespace),
                database: namespace.database ? database?.destination : undefined,
                egress: config.networkPolicy?.egress,
                peerNamespaces: peersOf(namespace),
            },
            // Only the stack's own namespace was ever named after the environment.
            { ...(namespace.key === undefined ? named : {}), ...inCluster },
        ),
    ]),
);
const environment = namespaces.get(undefined)!;
if (database instanceof NamespaceDatabase) {
    database.serve(environment.namespaceName, environment.pullSecretName && [environment.pullSecretName], inCluster);
}

/**
 * A workload's image: built and pushed, promoted from another stack or stage, or a reference pinned
 * to its digest (esteira:pins among them).
 */
function imageOf(name: string, image: Configured<unknown>["image"]): pulumi.Output<string> {
    if ("build" in image) return new Image(name, image.build).ref;
    if ("promoteFrom" in image || "verifiedIn" in image) return new PromotedImage(name, image).ref;
    // Only a reference by tag is looked up, so other stacks never need the docker provider.
    return digestPinned(image.ref) ? pulumi.output(image.ref) : new PinnedImage(name, { ref: image.ref, registry: config.registry }).ref;
}

/**
 * What every workload runs with: its image, the namespace, its pull secret and the database
 * secret; a Secret the stack creates is referenced through that Secret, so pods start after it
 * exists, and its checksum rolls the pods when its data changes.
 */
function wiring<W extends Configured<{ secretEnv?: Record<string, SecretKeyRef> }>>(name: string, workload: W) {
    const namespace = namespaces.get(workload.namespace)!;
    const own = config.namespaces.find((n) => n.key === workload.namespace)!;
    const { secretNames, secretChecksums } = namespace;
    const read = new Set(Object.values(workload.secretEnv ?? {}).map((ref) => ref.secretName as string));
    return {
        ...workload,
        image: imageOf(name, workload.image),
        namespace: namespace.namespaceName,
        imagePullSecrets: namespace.pullSecretName && [namespace.pullSecretName],
        peerNamespaces: peersOf(own),
        databaseSecretName: database && secretNames[database.secretName],
        databaseSecretChecksum: database && secretChecksums[database.secretName],
        secretEnv: Object.fromEntries(
            Object.entries(workload.secretEnv ?? {}).map(([variable, ref]) => [
                variable,
                { ...ref, secretName: secretNames[ref.secretName as string] ?? ref.secretName },
            ]),
        ),
        secretChecksums: Object.fromEntries(Object.entries(secretChecksums).filter(([secretName]) => read.has(secretName))),
    };
}

const services = Object.entries(config.services).map(([name, svc]) => {
    const args = wiring(name, svc);
    const service = new WebService(name, args, inCluster);
    return { name, image: args.image, namespace: args.namespace, endpoint: service.endpoint };
});
const otherWorkloads = [
    ...Object.entries(config.workers).map(([name, worker]) => {
        const args = wiring(name, worker);
        new Worker(name, args, inCluster);
        return { name, image: args.image, namespace: args.namespace };
    }),
    ...Object.entries(config.jobs).map(([name, job]) => {
        const args = wiring(name, job);
        new ScheduledJob(name, args, inCluster);
        return { name, image: args.image, namespace: args.namespace };
    }),
];
const workloads = [...services, ...otherWorkloads];

// The identities the workflows and hosted stacks use: never the cloud account's token. A base
// stack (esteira:tenants) may run no workload of its own, and then has nothing to smoke-test.
const endpoint = { server: cluster.endpoint, certificateAuthorityData: cluster.certificateAuthorityData };
const access =
    workloads.length > 0 && config.smokeTestIdentity
        ? new EnvironmentAccess(
              env,
              {
                  role: "environment",
                  namespace: environment.namespaceName,
                  // The smoke test reads each workload where it runs.
                  namespaces: Object.fromEntries(
                      [...namespaces].filter(([key]) => key !== undefined).map(([key, ns]) => [key!, ns.namespaceName]),
                  ),
                  ...endpoint,
              },
              inCluster,
          )
        : undefined;
const tenants =
    config.tenants &&
    new EnvironmentAccess(
        `${env}-tenants`,
        { role: "tenants", namespace: environment.namespaceName, ...config.tenants, ...endpoint },
        inCluster,
    );
// What the API server holds the tenant issuer and every pull request's identity to.
if (tenants) {
    new TenantPolicy(
        `${env}-tenants`,
        {
            issuer: { namespace: environment.namespaceName, serviceAccountName: tenants.serviceAccountName },
            namespacePrefix: `${config.project}-pr-`,
        },
        inCluster,
    );
}

// An environment another stack manages (github.managedBy) is that stack's to write: this stack's
// jobs then hold no GitHub token, which could rewrite every environment's secrets, prod's included.
if (config.github && config.github.managedBy === undefined) {
    const { environmentVariables, managedBy: _managedBy, deployOn: _deployOn, ...github } = config.github;
    new GitHubEnvironment(
        env,
        {
            ...github,
            kubeconfig: access?.kubeconfig,
            registryPushToken: config.registry?.pushToken,
            stack: config.stack,
            variables: {
                ESTEIRA_NAMESPACE: environment.namespaceName,
                ...Object.fromEntries(services.map((s) => [`ESTEIRA_${s.name.toUpperCase().replace(/-/g, "_")}_URL`, s.endpoint])),
                ...environmentVariables,
            },
        },
        named,
    );
}
if (config.githubRepository) new GitHubRepository(config.githubRepository.repository, config.githubRepository);

if (config.monitoring) {
    const { checks, ...monitoring } = config.monitoring;
    const endpoints = new Map(services.map((s) => [s.name, s.endpoint]));
    new Monitoring(env, {
        ...monitoring,
        endpoints: Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, { ...check, url: endpoints.get(name)! }])),
        databaseClusterId: database?.databaseClusterId,
        kubernetesClusterId: cluster.kubernetesCluster?.id,
    });
}

if (config.repository) new RepositorySettings(config.project, config.repository);

export const namespace = environment.namespaceName;
export const endpoints = pulumi.output(Object.fromEntries(services.map((s) => [s.name, s.endpoint])));
/** Digest-pinned image per service, worker and job: what `promoteFrom` in another stack reads. */
export const images = pulumi.output(Object.fromEntries(workloads.map((w) => [w.name, w.image])));
/** The namespace each service, worker and job runs in (`namespace` is the stack's own). */
export const workloadNamespaces = pulumi.output(Object.fromEntries(workloads.map((w) => [w.name, w.namespace])));
export const clusterId = cluster.clusterIdentifier;
// Outputs only some layouts have are exported only where they exist: an undefined output makes
// the engine warn on every run. `kubeconfig` is the environment's least-privilege one (what its
// smoke test uses); stacks this one hosts read `tenantKubeconfig`, `clusterId`, and
// `databaseClusterId` or `databaseAdminUrl`. The kubeconfigs and the admin URL are secrets.
if (access?.kubeconfig) module.exports.kubeconfig = access.kubeconfig;
if (tenants?.kubeconfig) module.exports.tenantKubeconfig = tenants.kubeconfig;
if (database?.databaseClusterId) module.exports.databaseClusterId = database.databaseClusterId;
if (database?.adminUrl) module.exports.databaseAdminUrl = database.adminUrl;
