import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as os from "os";
import * as path from "path";

/** An existing cluster reached through a kubeconfig (kind, minikube, or any other cluster). */
export interface KubeconfigClusterArgs {
    mode: "kubeconfig";
    /** Kubeconfig contents (secret). Default: the file at `kubeconfigPath`, else the ambient kubeconfig. */
    kubeconfig?: pulumi.Input<string>;
    /** Path to a kubeconfig file; `~` is expanded. Default: the ambient kubeconfig ($KUBECONFIG or ~/.kube/config). */
    kubeconfigPath?: string;
    /** Context to use. Default: the kubeconfig's current context. */
    context?: string;
    /**
     * Stable name of the cluster. The Kubernetes provider is replaced — and with it every object
     * it manages — only when this changes, not when the kubeconfig's credentials do.
     * Default: the context, else `kubeconfig`.
     */
    clusterIdentifier?: string;
}

export type ClusterArgs = KubeconfigClusterArgs;

function expandHome(file: string): string {
    return file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
}

/**
 * The Kubernetes cluster an environment runs on, and the provider every namespaced resource uses.
 */
export class Cluster extends pulumi.ComponentResource {
    /** Provider for every Kubernetes object of the environment. */
    public readonly provider: k8s.Provider;
    /** Kubeconfig of the cluster when one was given as contents (secret); otherwise undefined. */
    public readonly kubeconfig?: pulumi.Output<string>;
    /** Stable identifier of the cluster. */
    public readonly clusterIdentifier: pulumi.Output<string>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("esteira:cluster:Cluster", name, {}, opts);

        const identifier = args.clusterIdentifier ?? args.context ?? "kubeconfig";
        this.kubeconfig = args.kubeconfig !== undefined ? pulumi.secret(args.kubeconfig) : undefined;
        this.clusterIdentifier = pulumi.output(identifier);
        this.provider = new k8s.Provider(
            `${name}-provider`,
            {
                kubeconfig: this.kubeconfig ?? (args.kubeconfigPath ? expandHome(args.kubeconfigPath) : undefined),
                context: args.context,
                clusterIdentifier: identifier,
            },
            { parent: this },
        );

        this.registerOutputs({
            provider: this.provider,
            kubeconfig: this.kubeconfig,
            clusterIdentifier: this.clusterIdentifier,
        });
    }
}
