/**
 * NetworkPolicies: a namespace denies all traffic by default and lets its pods reach only DNS, each
 * other, the environment's database and the destinations a stack adds; each workload admits
 * traffic on its own ports only. Images need no egress: the node's kubelet pulls them, not the pod.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { OWNED_BY_PULUMI } from "./ownership";

type Policy = k8s.networking.v1.NetworkPolicy;
type Rule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** An address range and the TCP ports connections to it may use. */
export interface NetworkDestination {
    /** An IPv4 range such as `10.10.0.0/16`; `0.0.0.0/0` is any address. */
    cidr: pulumi.Input<string>;
    ports: pulumi.Input<number>[];
}

/** Pods of a namespace, by name (the label Kubernetes sets on every namespace). */
export function namespacePeer(namespace: pulumi.Input<string>): Peer {
    return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } };
}

/** Pods of the given namespaces, by name: an environment's other namespaces. */
function namespacesPeer(namespaces: pulumi.Input<string>[]): Peer {
    return { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: namespaces }] } };
}

/** The namespace's own pods, and those of the environment's other namespaces when it has any. */
const environmentPeers = (peerNamespaces: pulumi.Input<string>[] | undefined): Peer[] => [
    { podSelector: {} },
    ...(peerNamespaces?.length ? [namespacesPeer(peerNamespaces)] : []),
];

const tcp = (ports: pulumi.Input<number>[]) => ports.map((port) => ({ protocol: "TCP", port }));
const to = (destination: NetworkDestination): Rule => ({ to: [{ ipBlock: { cidr: destination.cidr } }], ports: tcp(destination.ports) });

export interface NamespacePoliciesArgs {
    namespace: pulumi.Input<string>;
    labels: Record<string, pulumi.Input<string>>;
    /** Where the environment's database is reached. Default: none, so no pod reaches a database. */
    database?: NetworkDestination;
    /** Further destinations every pod may reach. Default: none. */
    egress?: NetworkDestination[];
    /** The environment's other namespaces, whose pods these may reach. Default: none. */
    peerNamespaces?: pulumi.Input<string>[];
}

/**
 * The namespace-wide policies: deny every ingress and egress, and allow DNS (kube-dns in
 * kube-system), connections to the namespace's own pods and to the environment's other namespaces
 * (each workload's ingress policy still limits them to its ports), the database, and the further
 * destinations given.
 */
export function namespacePolicies(name: string, args: NamespacePoliciesArgs, opts: pulumi.CustomResourceOptions): Policy[] {
    const policy = (role: string, objectName: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec, after: Policy[] = []) =>
        new k8s.networking.v1.NetworkPolicy(
            `${name}-${role}`,
            { metadata: { name: objectName, namespace: args.namespace, labels: args.labels, annotations: OWNED_BY_PULUMI }, spec },
            // No deleteBeforeReplace: the provider deletes first by itself when a replacement keeps the
            // name and namespace; in a new namespace the new policies go in before the old ones go.
            { ...opts, dependsOn: after },
        );
    const everyPod = {};
    const egress = (rules: Rule[]) => ({ podSelector: everyPod, policyTypes: ["Egress"], egress: rules });
    const allows = [
        policy(
            "allow-dns",
            "allow-dns",
            egress([
                {
                    to: [{ ...namespacePeer("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                    ports: [
                        { protocol: "UDP", port: 53 },
                        { protocol: "TCP", port: 53 },
                    ],
                },
            ]),
        ),
        policy("allow-namespace", "allow-namespace-egress", egress([{ to: environmentPeers(args.peerNamespaces) }])),
    ];
    if (args.database) allows.push(policy("allow-database", "allow-database", egress([to(args.database)])));
    if (args.egress?.length) allows.push(policy("allow-egress", "allow-egress", egress(args.egress.map(to))));
    // The deny goes in last: running pods never lose DNS or their database while the policies arrive.
    return [policy("default-deny", "default-deny", { podSelector: everyPod, policyTypes: ["Ingress", "Egress"] }, allows), ...allows];
}

export interface IngressPolicyArgs {
    metadata: k8s.types.input.meta.v1.ObjectMeta;
    /** The workload's pods. */
    selector: Record<string, pulumi.Input<string>>;
    /** The port the workload serves on, and who may connect to it: anyone, or the namespace's own pods. */
    port: number;
    public: boolean;
    /** The environment's other namespaces, whose pods may connect too. Default: none. */
    peerNamespaces?: pulumi.Input<string>[];
    /** The metrics port and the namespace of the scraper that may connect to it. Default: no scraper. */
    metrics?: { port: number; namespace: pulumi.Input<string> };
}

/**
 * The ingress a workload admits. A public one (behind a load balancer or a node port) takes its port
 * from anywhere: DigitalOcean's load balancers reach pods through the nodes, not from a fixed range.
 */
export function ingressPolicy(name: string, args: IngressPolicyArgs, opts: pulumi.CustomResourceOptions): Policy {
    const ingress: k8s.types.input.networking.v1.NetworkPolicyIngressRule[] = [
        { ports: tcp([args.port]), from: args.public ? undefined : environmentPeers(args.peerNamespaces) },
    ];
    if (args.metrics) ingress.push({ ports: tcp([args.metrics.port]), from: [namespacePeer(args.metrics.namespace)] });
    return new k8s.networking.v1.NetworkPolicy(
        name,
        { metadata: args.metadata, spec: { podSelector: { matchLabels: args.selector }, policyTypes: ["Ingress"], ingress } },
        // No deleteBeforeReplace, as for every workload part: see namespacePolicies.
        opts,
    );
}
