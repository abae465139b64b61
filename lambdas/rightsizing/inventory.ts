import type { KubernetesClient, WorkloadResource } from '../kubernetes/client';
import {
  KubernetesNotFound,
  KubernetesTlsMismatch,
  KubernetesUnauthorized,
  KubernetesUnavailable,
} from '../kubernetes/errors';
import { cpuMillicores, memoryBytes } from '../kubernetes/quantity';
import type { HorizontalPodAutoscaler, Workload } from '../kubernetes/resources';
import { mapConcurrently } from '../shared/concurrency';
import type { ContainerResources, Resources, WorkloadInventory, WorkloadKind } from './model';
import type { SourceFailure } from './parts';

// One cluster's workloads in its granted namespaces, as the Kubernetes API describes them: their containers'
// requests and limits, their replicas, and whether an HPA scales them. A namespace that cannot be read is a
// failure the report names, not fatal: the other namespaces still make the report.

const KINDS: ReadonlyArray<{ resource: WorkloadResource; kind: WorkloadKind }> = [
  { resource: 'deployments', kind: 'Deployment' },
  { resource: 'statefulsets', kind: 'StatefulSet' },
  { resource: 'daemonsets', kind: 'DaemonSet' },
];

/**
 * Errors that say nothing about one namespace (the role is not authenticated, the server is not the cluster's,
 * the API server does not answer): reported once, located at the cluster, however many reads met them.
 */
const CLUSTER_WIDE_ERRORS = [KubernetesUnauthorized, KubernetesTlsMismatch, KubernetesUnavailable];

/** Lists in flight at once on one API server: light on its share for one user (API Priority and Fairness). */
const DEFAULT_CONCURRENCY = 8;

export interface WorkloadInventoryResult {
  workloads: WorkloadInventory[];
  failures: SourceFailure[];
}

const describe = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** A container's requests and limits; a quantity the API server could not have written is left out, and said. */
function containerResources(
  container: Workload['spec']['template']['spec']['containers'][number],
  problems: string[],
): ContainerResources {
  const read = (list: { cpu?: string | number; memory?: string | number } | undefined): Resources => {
    const resources: Resources = {};
    // Each on its own: an unreadable CPU quantity leaves the memory one usable.
    const parse = (
      value: string | number | undefined,
      assign: (parsed: number) => void,
      of: (v: string | number) => number,
    ) => {
      if (value === undefined) return;
      try {
        assign(of(value));
      } catch (error) {
        problems.push(`container ${container.name}: ${describe(error)}`);
      }
    };
    parse(list?.cpu, (parsed) => (resources.cpuMillicores = parsed), cpuMillicores);
    parse(list?.memory, (parsed) => (resources.memoryBytes = parsed), memoryBytes);
    return resources;
  };
  return {
    name: container.name,
    requests: read(container.resources?.requests),
    limits: read(container.resources?.limits),
  };
}

/** The HPA scaling a workload, by its target's kind and name. */
function hpaFor(hpas: HorizontalPodAutoscaler[], kind: WorkloadKind, name: string): WorkloadInventory['hpa'] {
  const hpa = hpas.find(
    (candidate) => candidate.spec.scaleTargetRef.kind === kind && candidate.spec.scaleTargetRef.name === name,
  );
  if (!hpa) return undefined;
  const cpu = hpa.spec.metrics?.find(
    (metric) => metric.type === 'Resource' && metric.resource?.name === 'cpu',
  )?.resource?.target.averageUtilization;
  return {
    minReplicas: hpa.spec.minReplicas ?? 1,
    maxReplicas: hpa.spec.maxReplicas,
    ...(cpu !== undefined && { targetCpuUtilizationPercent: cpu }),
  };
}

/**
 * Reads the workloads of `namespaces` in `cluster`, `concurrency` lists at a time. HPAs are optional per
 * namespace: a 404 (autoscaling/v2 not served) or a denied list reads as "no HPA" and is reported, so the
 * workloads are still sized.
 */
export async function collectWorkloadInventory(
  client: KubernetesClient,
  {
    cluster,
    namespaces,
    concurrency = DEFAULT_CONCURRENCY,
  }: { cluster: string; namespaces: readonly string[]; concurrency?: number },
): Promise<WorkloadInventoryResult> {
  const unique = [...new Set(namespaces)];
  const reads = unique.flatMap((namespace) => [
    ...KINDS.map((kind) => ({ namespace, kind })),
    { namespace, kind: 'hpa' as const },
  ]);
  const listings = await mapConcurrently(reads, concurrency, async ({ namespace, kind }) => {
    try {
      const items =
        kind === 'hpa'
          ? await client.listHorizontalPodAutoscalers(namespace)
          : await client.listWorkloads(namespace, kind.resource);
      return { ok: true as const, items };
    } catch (error) {
      return { ok: false as const, error };
    }
  });

  const workloads: WorkloadInventory[] = [];
  const failures: SourceFailure[] = [];
  const reportedClusterWide = new Set<string>();
  const fail = (namespace: string, error: unknown): void => {
    if (CLUSTER_WIDE_ERRORS.some((ErrorClass) => error instanceof ErrorClass)) {
      const { name } = error as Error;
      if (!reportedClusterWide.has(name))
        failures.push({ source: 'kubernetes', location: cluster, error: describe(error) });
      reportedClusterWide.add(name);
      return;
    }
    failures.push({ source: 'kubernetes', location: `${cluster}/${namespace}`, error: describe(error) });
  };
  for (const namespace of unique) {
    const hpaListing =
      listings[reads.findIndex((read) => read.namespace === namespace && read.kind === 'hpa')];
    let hpas: HorizontalPodAutoscaler[] = [];
    if (hpaListing?.ok) hpas = hpaListing.items as HorizontalPodAutoscaler[];
    else if (hpaListing && !(hpaListing.error instanceof KubernetesNotFound))
      fail(namespace, hpaListing.error);
    reads.forEach((read, index) => {
      if (read.namespace !== namespace || read.kind === 'hpa') return;
      const listing = listings[index];
      if (!listing) return;
      if (!listing.ok) {
        fail(namespace, listing.error);
        return;
      }
      for (const workload of listing.items as Workload[]) {
        const problems: string[] = [];
        const containers = workload.spec.template.spec.containers.map((container) =>
          containerResources(container, problems),
        );
        for (const problem of problems) {
          failures.push({
            source: 'kubernetes',
            location: `${cluster}/${namespace}/${read.kind.kind}/${workload.metadata.name}`,
            error: problem,
          });
        }
        const hpa = hpaFor(hpas, read.kind.kind, workload.metadata.name);
        workloads.push({
          cluster,
          namespace,
          kind: read.kind.kind,
          name: workload.metadata.name,
          replicas:
            read.kind.kind === 'DaemonSet'
              ? (workload.status?.desiredNumberScheduled ?? 0)
              : (workload.spec.replicas ?? 1),
          containers,
          ...(hpa && { hpa }),
        });
      }
    });
  }
  return { workloads, failures };
}
