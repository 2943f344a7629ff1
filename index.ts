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
import { DatabaseBackups } from "./components/database-backups";
import { EnvironmentAccess } from "./components/environment-access";
import { EnvironmentNamespace } from "./components/environment-namespace";
import { GitHubEnvironment, refuseClaimedEnvironment } from "./components/github-environment";
import { GitHubRepository } from "./components/github-repository";
import { Image } from "./components/image";
import { Monitoring } from "./components/monitoring";
import { NamespaceDatabase } from "./components/namespace-database";
import { digestPinned, PinnedImage } from "./components/pinned-image";
import { PromotedImage } from "./components/promoted-image";
import { RepositorySettings } from "./components/repository-settings";
import { ScheduledJob } from "./components/scheduled-job";
import { TenantPolicy } from "./components/tenant-policy";
import { WebService } from "./components/web-service";
import { Worker } from "./components/worker";
import { deployedCommit, loadConfig, otherStackReads, type EsteiraConfig } from "./config";
import { previousOwnOutput, readStacksFirst, StackOutputs } from "./components/stack-reference";
import { watchSettingsOf } from "./vocabulary/defaults";

/** What the environment's parts share: the configuration, the cluster, the namespaces and the database. */
interface Platform {
    config: EsteiraConfig;
    env: string;
    named: pulumi.ComponentResourceOptions;
    cluster: Cluster;
    inCluster: pulumi.ComponentResourceOptions;
    database?: Database | NamespaceDatabase;
    namespaces: Map<string | undefined, EnvironmentNamespace>;
    outputs: StackOutputs;
}

/** The cluster, the database and the namespaces, from the configuration and the other stacks' outputs read first. */
function platformOf(config: EsteiraConfig, outputs: StackOutputs): Platform {
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
                  {
                      ...config.database,
                      image: imageOf({ config, outputs }, `${env}-postgres`, { ref: config.database.image }),
                      namespaceName: config.namespace,
                  },
                  named,
              )
            : new Database(env, { ...config.database, cluster }, named));
    const platform: Platform = { config, env, named, cluster, inCluster, database, namespaces: new Map(), outputs };
    for (const namespace of config.namespaces) platform.namespaces.set(namespace.key, namespaceOf(platform, namespace));
    if (database instanceof NamespaceDatabase) {
        const environment = platform.namespaces.get(undefined)!;
        database.serve(environment.namespaceName, environment.pullSecretName && [environment.pullSecretName], inNamespace(platform));
    }
    return platform;
}

/**
 * Options for objects in one of the stack's namespaces: deleted with it when the stack owns it
 * (see {@link EnvironmentNamespace.contentsDeletedWith}); an adopted one's are deleted one by one.
 */
function inNamespace({ inCluster, namespaces }: Platform, key?: string): pulumi.ComponentResourceOptions {
    return { ...inCluster, deletedWith: namespaces.get(key)!.contentsDeletedWith };
}

/** The Secrets a namespace holds: the database's where its workloads read it, and those of esteira:secrets they read. */
function secretsOf({ config, database }: Platform, namespace: NamespaceConfig): Record<string, Record<string, pulumi.Input<string>>> {
    return {
        ...(database && namespace.database ? { [database.secretName]: database.secretData } : {}),
        ...Object.fromEntries(namespace.secrets.map((name) => [name, config.appSecrets[name]])),
    };
}

/** An environment's namespaces reach each other; a single namespace has no peers. */
const peersOf = (config: EsteiraConfig, namespace: NamespaceConfig) =>
    config.namespaces.map((n) => n.name).filter((name) => name !== namespace.name);

/**
 * The stack's own namespace is named after the stack; each other one after its key too. Each is
 * refused when it exists already and is not this stack's, unless adopted.
 */
function namespaceOf(platform: Platform, namespace: NamespaceConfig): EnvironmentNamespace {
    const { config, env, cluster, database } = platform;
    return new EnvironmentNamespace(
        namespace.key === undefined ? env : `${env}-${namespace.key}`,
        {
            namespace: namespace.name,
            adoptNamespace: namespace.adoptNamespace,
            lookUpNamespace: (name) => cluster.lookUpNamespace(name),
            configKeys: namespace.configKeys,
            environment: config.environment,
            registry: config.registry,
            secrets: secretsOf(platform, namespace),
            database: namespace.database ? database?.destination : undefined,
            egress: config.networkPolicy?.egress,
            peerNamespaces: peersOf(config, namespace),
        },
        // Only the stack's own namespace was ever named after the environment.
        { ...(namespace.key === undefined ? platform.named : {}), ...platform.inCluster },
    );
}

/**
 * A workload's image: built and pushed, promoted from another stack or stage, or a reference pinned
 * to its digest (esteira:pins among them).
 */
function imageOf(
    { config, outputs }: Pick<Platform, "config" | "outputs">,
    name: string,
    image: Configured<unknown>["image"],
): pulumi.Output<string> {
    if ("build" in image) return new Image(name, image.build).ref;
    if ("promoteFrom" in image) return new PromotedImage(name, { ...image, outputs }).ref;
    if ("verifiedIn" in image) return new PromotedImage(name, image).ref;
    // Only a reference by tag is looked up, so other stacks never need the docker provider.
    return digestPinned(image.ref) ? pulumi.output(image.ref) : new PinnedImage(name, { ref: image.ref, registry: config.registry }).ref;
}

/**
 * What every workload runs with: its image, the namespace, its pull secret and the database
 * secret; a Secret the stack creates is referenced through that Secret, so pods start after it
 * exists, and its checksum rolls the pods when its data changes.
 */
function wiring<W extends Configured<{ secretEnv?: Record<string, SecretKeyRef> }>>(platform: Platform, name: string, workload: W) {
    const { config, database } = platform;
    const namespace = platform.namespaces.get(workload.namespace)!;
    const own = config.namespaces.find((n) => n.key === workload.namespace)!;
    const { secretNames, secretChecksums } = namespace;
    const read = new Set(Object.values(workload.secretEnv ?? {}).map((ref) => ref.secretName as string));
    return {
        ...workload,
        image: imageOf(platform, name, workload.image),
        namespace: namespace.namespaceName,
        imagePullSecrets: namespace.pullSecretName && [namespace.pullSecretName],
        peerNamespaces: peersOf(config, own),
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

/** A workload as the outputs and the GitHub environment see it. */
interface Running {
    name: string;
    image: pulumi.Output<string>;
    namespace: pulumi.Output<string>;
    /** A service's endpoint; workers and jobs have none. */
    service?: { endpoint: pulumi.Output<string> };
}

/** The services, workers and jobs; services first. */
function workloadsOf(platform: Platform): Running[] {
    const { config } = platform;
    const services = Object.entries(config.services).map(([name, svc]) => {
        const args = wiring(platform, name, svc);
        const service = new WebService(name, args, inNamespace(platform, svc.namespace));
        return { name, image: args.image, namespace: args.namespace, service: { endpoint: service.endpoint } };
    });
    const workers = Object.entries(config.workers).map(([name, worker]) => {
        const args = wiring(platform, name, worker);
        new Worker(name, args, inNamespace(platform, worker.namespace));
        return { name, image: args.image, namespace: args.namespace };
    });
    const jobs = Object.entries(config.jobs).map(([name, job]) => {
        const args = wiring(platform, name, job);
        new ScheduledJob(name, args, inNamespace(platform, job.namespace));
        return { name, image: args.image, namespace: args.namespace };
    });
    return [...services, ...workers, ...jobs];
}

/**
 * The database's dumps, their restore and the restore drill, where the stack keeps them: in the
 * stack's own namespace, reading its database Secret; the drill runs the migrations of the service
 * the stack names (else of its one service with `migrate`), on that service's image.
 */
function backupsOf(platform: Platform, workloads: Running[]): Running | undefined {
    const { config, env, database } = platform;
    if (!config.backups || !database) return undefined;
    const environment = platform.namespaces.get(undefined)!;
    const { image, restoreDrillService, ...backups } = config.backups;
    const migrating = restoreDrillService ?? Object.keys(config.services).find((name) => config.services[name].migrate);
    const migration =
        migrating === undefined
            ? undefined
            : {
                  image: workloads.find((w) => w.name === migrating)!.image,
                  command: config.services[migrating].migrate!.command,
              };
    const ref = imageOf(platform, "backup", image);
    new DatabaseBackups(
        env,
        {
            ...backups,
            image: ref,
            namespace: environment.namespaceName,
            imagePullSecrets: environment.pullSecretName && [environment.pullSecretName],
            databaseSecretName: environment.secretNames[database.secretName],
            databaseSecretChecksum: environment.secretChecksums[database.secretName],
            adminUrl: adminUrlOf(config.database, database),
            databaseName: `${config.project}_${env}`.replace(/-/g, "_"),
            migration,
            digitaloceanToken: config.cluster.mode === "digitalocean" ? config.cluster.apiToken : undefined,
        },
        inNamespace(platform),
    );
    // In the images output as `backup`: marked, attested and promoted like the workloads' images.
    return { name: "backup", image: ref, namespace: environment.namespaceName };
}

/**
 * The server's admin connection the restore and the drill make their scratch databases with, where
 * the stack has one: a managed cluster's doadmin over the private network, or the secret
 * esteira:databaseAdminUrl of `database.mode: server`. Handed to the backups alone, never an output.
 */
function adminUrlOf(settings: EsteiraConfig["database"], database: Platform["database"]): pulumi.Output<string> | undefined {
    if (settings?.mode === "server") return pulumi.secret(settings.adminUrl);
    const cluster = database && "databaseCluster" in database ? database.databaseCluster : undefined;
    return cluster && pulumi.secret(cluster.privateUri);
}

/**
 * The identities the workflows and hosted stacks use: never the cloud account's token. A base
 * stack (esteira:tenants) may run no workload of its own, and then has nothing to smoke-test.
 */
function accessOf({ config, env, cluster, namespaces, inCluster }: Platform, workloads: Running[]) {
    const environment = namespaces.get(undefined)!;
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
    return { access, tenants };
}

/** The GitHub environment, repository and repository settings, and the monitoring, each where the stack asks for it. */
function aroundOf(platform: Platform, workloads: Running[], access: EnvironmentAccess | undefined): void {
    const { config, env, database, cluster } = platform;
    const services = workloads.flatMap((w) => (w.service ? [{ name: w.name, endpoint: w.service.endpoint }] : []));
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
                    ESTEIRA_NAMESPACE: platform.namespaces.get(undefined)!.namespaceName,
                    ...Object.fromEntries(services.map((s) => [`ESTEIRA_${s.name.toUpperCase().replace(/-/g, "_")}_URL`, s.endpoint])),
                    ...environmentVariables,
                },
            },
            platform.named,
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
}

/**
 * The stack's outputs. Outputs only some layouts have are exported only where they exist: an
 * undefined output makes the engine warn on every run. `kubeconfig` is the environment's
 * least-privilege one (what its smoke test uses); `tenantKubeconfig` is a base's tenant issuer,
 * for scripts/pr-stack.sh's base side only, never read by a stack. Both are secrets; no database
 * admin connection is ever exported.
 */
function exportsOf(
    platform: Platform,
    workloads: Running[],
    access: ReturnType<typeof accessOf>,
    backup?: Running,
): Record<string, unknown> {
    const { database } = platform;
    const services = workloads.flatMap((w) => (w.service ? [{ name: w.name, endpoint: w.service.endpoint }] : []));
    return {
        namespace: platform.namespaces.get(undefined)!.namespaceName,
        endpoints: pulumi.output(Object.fromEntries(services.map((s) => [s.name, s.endpoint]))),
        /**
         * Digest-pinned image per service, worker and job, and the backups' as `backup`: what
         * `promoteFrom` in another stack reads, and what the next stage verifies and promotes.
         */
        images: pulumi.output(Object.fromEntries([...workloads, ...(backup ? [backup] : [])].map((w) => [w.name, w.image]))),
        /** The namespace each service, worker and job runs in (`namespace` is the stack's own). */
        workloadNamespaces: pulumi.output(Object.fromEntries(workloads.map((w) => [w.name, w.namespace]))),
        clusterId: platform.cluster.clusterIdentifier,
        /** What the next deployment compares its names with, so a rename never replaces data unasked (config/renames.ts). */
        statefulNames: platform.config.statefulNames,
        /** What scripts/watch.sh watches after a deploy, every default applied. */
        watch: watchSettingsOf(platform.config.watch),
        ...(access.access?.kubeconfig ? { kubeconfig: access.access.kubeconfig } : {}),
        ...(access.tenants?.kubeconfig ? { tenantKubeconfig: access.tenants.kubeconfig } : {}),
        ...(database?.databaseClusterId ? { databaseClusterId: database.databaseClusterId } : {}),
    };
}

/**
 * The names this stack deployed last time; the configuration, validated against them; then everything this stack reads from outside its own file (other
 * stacks' outputs, the GitHub environment's owner), read and checked; only then the first resource.
 */
async function main(): Promise<Record<string, unknown>> {
    // The names of what holds data as deployed last time: a change of one is refused unless acknowledged.
    const previous = (await previousOwnOutput("statefulNames")) as Record<string, string> | undefined;
    const config = loadConfig(deployedCommit(), previous);
    const outputs = await readStacksFirst(otherStackReads(config));
    if (config.github && config.github.managedBy === undefined) await refuseClaimedEnvironment({ ...config.github, stack: config.stack });
    const platform = platformOf(config, outputs);
    const workloads = workloadsOf(platform);
    const backup = backupsOf(platform, workloads);
    const access = accessOf(platform, workloads);
    aroundOf(platform, workloads, access.access);
    return exportsOf(platform, workloads, access, backup);
}

export = main();
