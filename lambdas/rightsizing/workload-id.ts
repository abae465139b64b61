import type { WorkloadInventory } from './model';

/**
 * A workload's line id (`cluster/namespace/Kind/name`), also the prefix of its series' keys. In a module of its
 * own so that the recommendation math does not pull the CloudWatch client into a bundle.
 */
export const workloadId = (workload: Pick<WorkloadInventory, 'cluster' | 'namespace' | 'kind' | 'name'>) =>
  `${workload.cluster}/${workload.namespace}/${workload.kind}/${workload.name}`;
