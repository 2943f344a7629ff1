/** Policies on what an environment owns: prod's durability and exposure, pull-request stacks' reach, the database's firewall. */
import { UNKNOWN, read, readArray, readObject } from "../known";
import { resourcePolicy } from "../resource-policy";

const KUBERNETES_CLUSTER = "digitalocean:index/kubernetesCluster:KubernetesCluster";
const DATABASE_CLUSTER = "digitalocean:index/databaseCluster:DatabaseCluster";
const DATABASE = "digitalocean:index/databaseDb:DatabaseDb";
const VPC = "digitalocean:index/vpc:Vpc";
const DATABASE_FIREWALL = "digitalocean:index/databaseFirewall:DatabaseFirewall";

/** `KubernetesCluster` from `digitalocean:index/kubernetesCluster:KubernetesCluster`. */
const shortType = (type: string) => type.slice(type.lastIndexOf(":") + 1);

export const prodStatefulResourcesProtected = resourcePolicy({
    name: "prod-stateful-resources-protected",
    description:
        "In prod the Kubernetes cluster, the database cluster and the database carry the protect option, so no destroy, stack removal or replacing change can delete them and their data.",
    enforcementLevel: "mandatory",
    appliesTo: [KUBERNETES_CLUSTER, DATABASE_CLUSTER, DATABASE],
    otherwise: "not a cluster or database",
    environment: "prod",
    validate: (args, report) => {
        if (!args.opts.protect) report(`${shortType(args.type)} is not protected: set the protect resource option (esteira:protect: true)`);
    },
});

export const prodHaControlPlane = resourcePolicy({
    name: "prod-ha-control-plane",
    description:
        "In prod the Kubernetes cluster has a highly available control plane, so a control-plane failure or upgrade does not stop deploys, autoscaling and self-healing.",
    enforcementLevel: "mandatory",
    appliesTo: [KUBERNETES_CLUSTER],
    otherwise: "not a Kubernetes cluster",
    environment: "prod",
    validate: (args, report) => {
        const ha = read(() => args.props.ha);
        if (ha !== UNKNOWN && ha !== true) report("ha is not true: prod needs a highly available control plane (esteira:cluster.ha: true)");
    },
});

export const prodDatabaseStandby = resourcePolicy({
    name: "prod-database-standby",
    description:
        "In prod the database cluster has at least two nodes, so a standby takes over when the primary fails instead of an outage and a restore from backup.",
    enforcementLevel: "mandatory",
    appliesTo: [DATABASE_CLUSTER],
    otherwise: "not a database cluster",
    environment: "prod",
    validate: (args, report) => {
        const nodeCount = read(() => args.props.nodeCount);
        if (nodeCount !== UNKNOWN && !(typeof nodeCount === "number" && nodeCount >= 2)) {
            report(
                `nodeCount is ${JSON.stringify(nodeCount ?? null)}: prod needs at least 2, a primary and a standby (esteira:database.nodeCount)`,
            );
        }
    },
});

export const databaseFirewallClusterOnly = resourcePolicy({
    name: "database-firewall-cluster-only",
    description:
        "A database firewall admits only the Kubernetes cluster (rules of type k8s): any other rule opens the database to addresses outside the cluster, and a firewall without rules admits everyone.",
    enforcementLevel: "mandatory",
    appliesTo: [DATABASE_FIREWALL],
    otherwise: "not a database firewall",
    validate: (args, report) => {
        const rules = readArray(() => args.props.rules);
        if (rules === UNKNOWN) return;
        if (rules.length === 0)
            report("has no rules: a DigitalOcean database without trusted sources accepts connections from any address");
        rules.forEach((rule, index) => {
            const type = read(() => rule?.type);
            if (type === UNKNOWN || type === "k8s") return;
            const value = read(() => rule?.value);
            const shown = value === UNKNOWN ? "(value not known yet)" : JSON.stringify(value ?? null);
            report(`rules[${index}] admits ${JSON.stringify(type ?? null)} ${shown}: only rules of type "k8s" (the cluster) are allowed`);
        });
    },
});

// DigitalOcean's load-balancer annotations (service.beta.kubernetes.io/do-loadbalancer-*).
const DO = "service.beta.kubernetes.io/do-loadbalancer-";
export const TLS_WAIVER_ANNOTATION = "esteira.dev/tls-waiver";

export const prodPublicServiceTls = resourcePolicy({
    name: "prod-public-service-tls",
    description:
        "In prod a LoadBalancer Service terminates TLS on 443 with a certificate and redirects HTTP to HTTPS, so users' requests and cookies never cross the internet in clear; an esteira.dev/tls-waiver annotation with a reason records a reviewed exception.",
    enforcementLevel: "mandatory",
    appliesTo: /^kubernetes:core\/v1:Service$/,
    otherwise: "not a Service",
    environment: "prod",
    validate: (args, report) => {
        const type = read(() => args.props.spec?.type);
        if (type !== "LoadBalancer") return;
        const annotations = readObject(() => args.props.metadata?.annotations);
        if (annotations === UNKNOWN) return;
        const annotation = (name: string) => read(() => annotations[name]);
        // Unknown counts as present: it is checked again at `up`, known.
        const present = (value: unknown) => value === UNKNOWN || (typeof value === "string" && value.trim() !== "");
        if (present(annotation(TLS_WAIVER_ANNOTATION))) return;

        const missing: string[] = [];
        if (!present(annotation(`${DO}certificate-id`)) && !present(annotation(`${DO}certificate-name`))) {
            missing.push(`annotation ${DO}certificate-id or ${DO}certificate-name`);
        }
        const tlsPorts = annotation(`${DO}tls-ports`);
        if (
            tlsPorts !== UNKNOWN &&
            !(
                typeof tlsPorts === "string" &&
                tlsPorts
                    .split(",")
                    .map((p) => p.trim())
                    .includes("443")
            )
        ) {
            missing.push(`annotation ${DO}tls-ports including "443"`);
        }
        const redirect = annotation(`${DO}redirect-http-to-https`);
        if (redirect !== UNKNOWN && redirect !== "true") missing.push(`annotation ${DO}redirect-http-to-https: "true"`);
        const ports = readArray(() => args.props.spec?.ports);
        if (ports !== UNKNOWN && !ports.some((port) => [443, UNKNOWN].includes(read(() => port?.port)))) missing.push("port 443");
        if (missing.length > 0) {
            report(
                `public LoadBalancer without TLS; missing: ${missing.join("; ")} ` +
                    `(or record a reviewed exception with the annotation ${TLS_WAIVER_ANNOTATION}: "<reason>")`,
            );
        }
    },
});

export const prStackOwnsNoSharedInfrastructure = resourcePolicy({
    name: "pr-stack-owns-no-shared-infrastructure",
    description:
        "A pull-request stack creates no cluster, VPC or database cluster of its own but deploys into its base's cluster, in the namespace granted to it, with a PostgreSQL in that namespace, so each pull request costs a namespace, not minutes of provisioning and a bill that outlives a forgotten stack.",
    enforcementLevel: "mandatory",
    // Analyze sees only resources a stack registers, never ones it reads (homolog's, through `get`).
    appliesTo: [KUBERNETES_CLUSTER, VPC, DATABASE_CLUSTER],
    otherwise: "not a cluster, VPC or database cluster",
    environment: "pr",
    validate: (args, report) => {
        report(
            `a pull-request stack must not own a ${shortType(args.type)}: deploy into the review base's cluster with the kubeconfig \`scripts/pr-stack.sh grant\` prints (esteira:cluster mode kubeconfig) and a PostgreSQL in the namespace (esteira:database mode namespace), as stacks/pr.template.yaml does`,
        );
    },
});
