import { createKubernetesClient, type KubernetesClient } from '../../lambdas/kubernetes/client';
import { createEksToken } from '../../lambdas/kubernetes/token';
import type { SimulatedKubernetesApi } from './kubernetes/server';

/** The production client, pointed at a simulated API server and signing EKS tokens with test credentials. */
export function clientForSimulatedApi(
  sim: SimulatedKubernetesApi,
  credentials: { accessKeyId: string; secretAccessKey: string },
  { timeoutMs = 2000, cluster = 'prod-eks', region = 'eu-west-1' } = {},
): KubernetesClient {
  return createKubernetesClient({
    endpoint: sim.endpoint,
    caData: sim.caData,
    timeoutMs,
    token: async () => (await createEksToken({ clusterName: cluster, region, credentials })).token,
  });
}
