import { describe, expect, it } from 'vitest';
import type { KubernetesClient, WorkloadResource } from '../../lambdas/kubernetes/client';
import {
  KubernetesForbidden,
  KubernetesNotFound,
  KubernetesUnauthorized,
} from '../../lambdas/kubernetes/errors';
import type { HorizontalPodAutoscaler, Workload } from '../../lambdas/kubernetes/resources';
import { collectWorkloadInventory } from '../../lambdas/rightsizing/inventory';

// The store (what each namespace holds, or the error its list answers) apart from the behaviour under test.
type Listed<T> = T[] | Error;
interface Namespace {
  deployments?: Listed<Workload>;
  statefulsets?: Listed<Workload>;
  daemonsets?: Listed<Workload>;
  hpas?: Listed<HorizontalPodAutoscaler>;
}

function fakeClient(namespaces: Record<string, Namespace>): KubernetesClient {
  const answer = <T>(listed: Listed<T> | undefined): Promise<T[]> =>
    listed instanceof Error ? Promise.reject(listed) : Promise.resolve(listed ?? []);
  const unused = () => Promise.reject(new Error('not used by the inventory'));
  return {
    getDeployment: unused,
    listReplicaSets: unused,
    patchDeployment: unused,
    listCertificates: unused,
    getIngress: unused,
    patchIngress: unused,
    getHttpRoute: unused,
    patchHttpRoute: unused,
    getService: unused,
    listTargetGroupBindings: unused,
    listWorkloads: (namespace: string, kind: WorkloadResource) => answer(namespaces[namespace]?.[kind]),
    listHorizontalPodAutoscalers: (namespace: string) => answer(namespaces[namespace]?.hpas),
  };
}

const workload = (
  namespace: string,
  name: string,
  containers: Array<{ name: string; requests?: Record<string, string>; limits?: Record<string, string> }>,
  replicas?: number,
): Workload => ({
  metadata: { name, namespace },
  spec: {
    ...(replicas !== undefined && { replicas }),
    template: {
      spec: {
        containers: containers.map((container) => ({
          name: container.name,
          resources: {
            ...(container.requests && { requests: container.requests }),
            ...(container.limits && { limits: container.limits }),
          },
        })),
      },
    },
  },
});

describe('collectWorkloadInventory', () => {
  it('reads every kind with its containers in millicores and bytes, replicas and the HPA that scales it', async () => {
    const client = fakeClient({
      checkout: {
        deployments: [
          workload(
            'checkout',
            'api',
            [{ name: 'app', requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } }],
            3,
          ),
        ],
        statefulsets: [
          workload('checkout', 'cache', [{ name: 'redis', requests: { cpu: '1', memory: '2Gi' } }], 2),
        ],
        daemonsets: [
          {
            ...workload('checkout', 'agent', [{ name: 'agent' }]),
            status: { desiredNumberScheduled: 5 },
          },
        ],
        hpas: [
          {
            metadata: { name: 'api', namespace: 'checkout' },
            spec: {
              scaleTargetRef: { kind: 'Deployment', name: 'api' },
              minReplicas: 2,
              maxReplicas: 10,
              metrics: [
                {
                  type: 'Resource',
                  resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
                },
              ],
            },
          },
        ],
      },
    });
    const { workloads, failures } = await collectWorkloadInventory(client, {
      cluster: 'prod',
      namespaces: ['checkout'],
    });
    expect(failures).toEqual([]);
    expect(workloads).toEqual([
      {
        cluster: 'prod',
        namespace: 'checkout',
        kind: 'Deployment',
        name: 'api',
        replicas: 3,
        containers: [
          {
            name: 'app',
            requests: { cpuMillicores: 500, memoryBytes: 512 * 2 ** 20 },
            limits: { memoryBytes: 2 ** 30 },
          },
        ],
        hpa: { minReplicas: 2, maxReplicas: 10, targetCpuUtilizationPercent: 70 },
      },
      expect.objectContaining({ kind: 'StatefulSet', name: 'cache', replicas: 2 }),
      expect.objectContaining({
        kind: 'DaemonSet',
        name: 'agent',
        replicas: 5,
        containers: [{ name: 'agent', requests: {}, limits: {} }],
      }),
    ]);
  });

  it('reports a namespace it may not read and still reads the others', async () => {
    const client = fakeClient({
      payments: { deployments: new KubernetesForbidden('deployments is forbidden in payments') },
      checkout: { deployments: [workload('checkout', 'api', [{ name: 'app' }], 1)] },
    });
    const { workloads, failures } = await collectWorkloadInventory(client, {
      cluster: 'prod',
      namespaces: ['payments', 'checkout'],
    });
    expect(workloads.map((item) => item.name)).toEqual(['api']);
    expect(failures).toEqual([
      {
        source: 'kubernetes',
        location: 'prod/payments',
        error: expect.stringContaining('KubernetesForbidden'),
      },
    ]);
  });

  it('reports a cluster-wide refusal once, not once per namespace and kind', async () => {
    const refused = new KubernetesUnauthorized('the role is not authenticated');
    const client = fakeClient(
      Object.fromEntries(
        ['a', 'b'].map((namespace) => [
          namespace,
          { deployments: refused, statefulsets: refused, daemonsets: refused, hpas: refused },
        ]),
      ),
    );
    const { failures } = await collectWorkloadInventory(client, { cluster: 'prod', namespaces: ['a', 'b'] });
    expect(failures).toEqual([
      { source: 'kubernetes', location: 'prod', error: expect.stringContaining('KubernetesUnauthorized') },
    ]);
  });

  it('sizes workloads without HPAs where autoscaling/v2 is not served, and names a quantity it cannot read', async () => {
    const client = fakeClient({
      checkout: {
        deployments: [
          workload('checkout', 'api', [{ name: 'app', requests: { cpu: 'lots', memory: '1Gi' } }], 1),
        ],
        hpas: new KubernetesNotFound('the server could not find the requested resource'),
      },
    });
    const { workloads, failures } = await collectWorkloadInventory(client, {
      cluster: 'prod',
      namespaces: ['checkout'],
    });
    expect(workloads[0]?.hpa).toBeUndefined();
    expect(workloads[0]?.containers[0]?.requests).toEqual({ memoryBytes: 2 ** 30 });
    expect(failures).toEqual([
      {
        source: 'kubernetes',
        location: 'prod/checkout/Deployment/api',
        error: expect.stringContaining('"lots" is not a resource quantity'),
      },
    ]);
  });
});
