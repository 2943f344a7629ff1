/** Every policy of the pack, in the order the README's table lists them. */
import { Policies } from "@pulumi/policy";
import { multiReplicaPodDisruptionBudget } from "./availability";
import {
    databaseFirewallClusterOnly,
    prStackOwnsNoSharedInfrastructure,
    prodDatabaseStandby,
    prodHaControlPlane,
    prodPublicServiceTls,
    prodStatefulResourcesProtected,
} from "./environments";
import { actionsSecretValueIsSecret, kubernetesSecretDataIsSecret } from "./secrets";
import {
    deploymentMaxUnavailableZero,
    imagePinnedByDigest,
    workloadEphemeralStorage,
    workloadNoAddedCapabilities,
    workloadNonRoot,
    workloadProbes,
    workloadReadOnlyRootFilesystem,
    workloadResources,
} from "./workloads";

export const policies: Policies = [
    workloadProbes,
    workloadResources,
    workloadEphemeralStorage,
    workloadNonRoot,
    workloadReadOnlyRootFilesystem,
    workloadNoAddedCapabilities,
    imagePinnedByDigest,
    deploymentMaxUnavailableZero,
    multiReplicaPodDisruptionBudget,
    kubernetesSecretDataIsSecret,
    actionsSecretValueIsSecret,
    prodStatefulResourcesProtected,
    prodHaControlPlane,
    prodDatabaseStandby,
    databaseFirewallClusterOnly,
    prodPublicServiceTls,
    prStackOwnsNoSharedInfrastructure,
];
