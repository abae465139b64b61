import type { RunbooksConfig } from '../../../lib/config/schema';
import type { ContainerSpec, SimulatedKubernetesApi } from '../kubernetes/server';
import type { Rehearsal, Scenario } from '../rehearsal';
import { REGION } from '../simulated-account';
import type { MetricIdentity, SampleSource } from '../simulated-metrics';
import { CLUSTERS, freshRightsizingPeers, type RightsizingPeers } from './peers';
import type { CoRecommendationSpec } from './simulated-compute-optimizer';
import { productFamily } from './simulated-pricing';
import { diurnal, MIB, scaled, since, steady, withSpike } from './usage-series';

// The right-sizing report's scenarios: one account of two clusters, their workloads, the EC2 instances, Auto
// Scaling groups and RDS instances beside them, fourteen days of usage in CloudWatch, Compute Optimizer and the
// Price List; each scenario changes what it is about (opted out, throttled, a cluster unreachable, a price
// missing). The workflow test runs each one and asserts on the report it leaves in S3, Slack and EventBridge.

type RightsizingScenario = Scenario<RunbooksConfig>;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MI = (mebibytes: number) => `${mebibytes}Mi`;

/** What the schedule sends (the construct's target input). */
export const SCHEDULED_START = {};

/** The Container Insights metrics the report reads (lambdas/rightsizing/metric-queries.ts, CONTAINER_INSIGHTS). */
export const POD_METRICS = {
  namespace: 'ContainerInsights',
  cpu: 'pod_cpu_usage_total',
  memory: 'pod_memory_working_set',
} as const;

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

/** A workload of the rehearsal's account: what the API server holds, and what CloudWatch measured of it. */
export interface FleetWorkload {
  cluster: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  containers: ContainerSpec[];
  /** Deployments and StatefulSets; a DaemonSet's nodes. */
  replicas: number;
  hpa?: { minReplicas: number; maxReplicas: number; cpuUtilization: number };
  /** Per pod: CPU in millicores, memory in MiB; undefined: nothing published (no series at all). */
  usage?: { cpu: SampleSource; memoryMiB: SampleSource };
  /** What the report should find, with the default strategy (KRR's). */
  expected:
    | 'over-provisioned'
    | 'under-provisioned'
    | 'optimized'
    | 'insufficient-data'
    | 'hpa-managed'
    | 'no-requests';
}

/** The report's id of a workload line: `cluster/namespace/Kind/name`. */
export const workloadLineId = (workload: Pick<FleetWorkload, 'cluster' | 'namespace' | 'kind' | 'name'>) =>
  `${workload.cluster}/${workload.namespace}/${workload.kind}/${workload.name}`;

const container = (name: string, cpu?: string, memory?: string, memoryLimit?: string): ContainerSpec => ({
  name,
  image: `registry.example.com/${name}:2026.11.3`,
  ...((cpu ?? memory) !== undefined && {
    resources: {
      requests: { ...(cpu !== undefined && { cpu }), ...(memory !== undefined && { memory }) },
      ...(memoryLimit !== undefined && { limits: { memory: memoryLimit } }),
    },
  }),
});

/**
 * The account's workloads, built at `now` (series relative to it): over- and under-provisioned, HPA-managed,
 * without requests, a single huge spike, deployed two hours ago, and one that publishes nothing.
 */
export function fleet(now: number): FleetWorkload[] {
  const prod = CLUSTERS.prod.name;
  const batch = CLUSTERS.batch.name;
  // Two hours before the last whole 5-minute period: 24 datapoints in a window ending there.
  const deployedAt = Math.floor(now / 300_000) * 300_000 - 2 * HOUR_MS;
  return [
    {
      // 4 pods asking 2 CPUs and 4 GiB; they use 0.2–0.5 CPU by the time of day and about 1.2 GiB.
      cluster: prod,
      namespace: 'checkout',
      kind: 'Deployment',
      name: 'storefront',
      containers: [container('storefront', '2', '4Gi', '4Gi'), container('envoy', '100m', MI(128))],
      replicas: 4,
      usage: {
        cpu: diurnal({ mean: 350, amplitude: 150, seed: 11 }),
        memoryMiB: diurnal({ mean: 1200, amplitude: 80, seed: 12 }),
      },
      expected: 'over-provisioned',
    },
    {
      // An HPA scales it on CPU: resizing its requests would move the HPA's target.
      cluster: prod,
      namespace: 'checkout',
      kind: 'Deployment',
      name: 'cart-api',
      containers: [container('cart-api', '500m', MI(512))],
      replicas: 3,
      hpa: { minReplicas: 3, maxReplicas: 12, cpuUtilization: 70 },
      usage: {
        cpu: diurnal({ mean: 300, amplitude: 120, seed: 21 }),
        memoryMiB: steady(380, { seed: 22 }),
      },
      expected: 'hpa-managed',
    },
    {
      // Deployed two hours ago: 24 five-minute datapoints, under the 100 the strategy needs.
      cluster: prod,
      namespace: 'checkout',
      kind: 'Deployment',
      name: 'promo-banner',
      containers: [container('promo-banner', '250m', MI(256))],
      replicas: 2,
      usage: {
        cpu: since(deployedAt, steady(40, { seed: 31 })),
        memoryMiB: since(deployedAt, steady(120, { seed: 32 })),
      },
      expected: 'insufficient-data',
    },
    {
      // Asks 250m and 256 MiB, uses 0.4–0.8 CPU and ~450 MiB: throttled and near its OOM kill.
      cluster: prod,
      namespace: 'payments',
      kind: 'Deployment',
      name: 'payments-worker',
      containers: [container('worker', '250m', MI(256), MI(512))],
      replicas: 3,
      usage: {
        cpu: diurnal({ mean: 600, amplitude: 200, seed: 41 }),
        memoryMiB: diurnal({ mean: 450, amplitude: 30, seed: 42 }),
      },
      expected: 'under-provisioned',
    },
    {
      // Idles at 120m with one four-minute spike to 3.8 CPUs three days ago: the spike is no reason to keep 1 CPU.
      cluster: prod,
      namespace: 'payments',
      kind: 'Deployment',
      name: 'fraud-scorer',
      containers: [container('fraud-scorer', '1', '1Gi')],
      replicas: 2,
      usage: {
        // Within one 5-minute period (its last four minutes): one datapoint of a 3,064m average, 3,800m maximum.
        cpu: withSpike(steady(120, { seed: 51 }), {
          at: Math.floor((now - 3 * DAY_MS) / 300_000) * 300_000 + 60_000,
          minutes: 4,
          peak: 3800,
        }),
        memoryMiB: steady(300, { seed: 52 }),
      },
      expected: 'over-provisioned',
    },
    {
      cluster: prod,
      namespace: 'payments',
      kind: 'StatefulSet',
      name: 'ledger',
      containers: [container('ledger', '1', '2Gi', '2Gi')],
      replicas: 3,
      usage: { cpu: steady(150, { seed: 61 }), memoryMiB: steady(600, { seed: 62 }) },
      expected: 'over-provisioned',
    },
    {
      // No requests at all: the scheduler places it anywhere; the report tells it what to ask for.
      cluster: batch,
      namespace: 'jobs',
      kind: 'Deployment',
      name: 'report-builder',
      containers: [container('report-builder')],
      replicas: 2,
      usage: {
        cpu: diurnal({ mean: 500, amplitude: 300, peakHourUtc: 3, seed: 71 }),
        memoryMiB: steady(700, { seed: 72 }),
      },
      expected: 'no-requests',
    },
    {
      // Sized about right: P95 CPU ≈ 480m against 500m, memory max + 15 % ≈ its 1 GiB.
      cluster: batch,
      namespace: 'jobs',
      kind: 'StatefulSet',
      name: 'queue',
      containers: [container('queue', '500m', '1Gi')],
      replicas: 3,
      usage: {
        cpu: diurnal({ mean: 400, amplitude: 80, noise: 5, seed: 81 }),
        memoryMiB: steady(880, { noise: 10, seed: 82 }),
      },
      expected: 'optimized',
    },
    {
      // Its pods publish nothing (the CloudWatch agent does not run on its nodes): no series at all.
      cluster: batch,
      namespace: 'jobs',
      kind: 'Deployment',
      name: 'ghost-exporter',
      containers: [container('exporter', '200m', MI(256))],
      replicas: 1,
      expected: 'insufficient-data',
    },
    {
      cluster: batch,
      namespace: 'observability',
      kind: 'DaemonSet',
      name: 'log-shipper',
      containers: [container('fluent-bit', '200m', MI(512), MI(512))],
      replicas: 5,
      usage: { cpu: steady(40, { seed: 91 }), memoryMiB: steady(180, { seed: 92 }) },
      expected: 'over-provisioned',
    },
  ];
}

/** A workload's Container Insights series (per pod, PodName = the workload's name). */
export const podMetric = (workload: FleetWorkload, resource: 'cpu' | 'memory'): MetricIdentity => ({
  namespace: POD_METRICS.namespace,
  metricName: POD_METRICS[resource],
  dimensions: { ClusterName: workload.cluster, Namespace: workload.namespace, PodName: workload.name },
});

/**
 * An EC2 instance, an EKS node group (an Auto Scaling group, whose instances are EC2 instances tagged with its
 * cluster) or an RDS instance of the account.
 */
export interface FleetMachine {
  kind: 'ec2' | 'asg' | 'rds';
  id: string;
  name?: string;
  type: string;
  /** A node group: its desired capacity, and the cluster its nodes serve. */
  count?: number;
  cluster?: string;
  /** Average CPU percent (each of a group's instances), for our own CloudWatch method. */
  cpu: SampleSource;
  /** What Compute Optimizer says of it where the account opted in. */
  computeOptimizer: Omit<CoRecommendationSpec, 'id' | 'current' | 'name' | 'desiredCapacity'>;
}

/** The account's EC2 instance, its two clusters' node groups and its databases. */
export function machines(): FleetMachine[] {
  return [
    {
      kind: 'ec2',
      id: 'i-0a1b2c3d4e5f60718',
      name: 'bastion',
      type: 'm5.2xlarge',
      cpu: steady(4, { seed: 101 }),
      computeOptimizer: {
        finding: 'Overprovisioned',
        recommended: 'm5.large',
        alternatives: ['t3.large'],
        reasons: ['CPUOverprovisioned', 'MemoryOverprovisioned'],
        cpuMaxPercent: 7,
        projectedCpuMaxPercent: 28,
        estimatedMonthlySavingsUsd: 210,
      },
    },
    {
      kind: 'asg',
      id: 'eks-prod-general',
      type: 'm5.2xlarge',
      count: 6,
      cluster: CLUSTERS.prod.name,
      cpu: diurnal({ mean: 18, amplitude: 8, seed: 102 }),
      computeOptimizer: {
        finding: 'NotOptimized',
        recommended: 'm5.xlarge',
        cpuMaxPercent: 31,
        projectedCpuMaxPercent: 62,
        estimatedMonthlySavingsUsd: 690,
      },
    },
    {
      kind: 'asg',
      id: 'eks-batch-compute',
      type: 'm5.xlarge',
      count: 3,
      cluster: CLUSTERS.batch.name,
      cpu: diurnal({ mean: 45, amplitude: 20, peakHourUtc: 3, seed: 103 }),
      computeOptimizer: { finding: 'Optimized', cpuMaxPercent: 71 },
    },
    {
      kind: 'rds',
      id: 'orders-prod',
      type: 'db.r6g.2xlarge',
      cpu: diurnal({ mean: 9, amplitude: 4, seed: 104 }),
      computeOptimizer: {
        finding: 'Overprovisioned',
        recommended: 'db.r6g.xlarge',
        reasons: ['CPUOverprovisioned'],
        cpuMaxPercent: 16,
        projectedCpuMaxPercent: 33,
        estimatedMonthlySavingsUsd: 330,
      },
    },
    {
      kind: 'rds',
      id: 'analytics-prod',
      type: 'db.m6g.large',
      cpu: diurnal({ mean: 78, amplitude: 15, seed: 105 }),
      computeOptimizer: {
        finding: 'Underprovisioned',
        recommended: 'db.m6g.xlarge',
        reasons: ['CPUUnderprovisioned'],
        cpuMaxPercent: 97,
        projectedCpuMaxPercent: 49,
      },
    },
  ];
}

/** On-demand prices the Price List answers, eu-west-1, USD an hour (each with its neighbours). */
export const PRICE_LIST: Array<[service: 'ec2' | 'rds', type: string, hourlyUsd: number]> = [
  ['ec2', 'm5.large', 0.107],
  ['ec2', 'm5.xlarge', 0.214],
  ['ec2', 'm5.2xlarge', 0.428],
  ['ec2', 't3.large', 0.0912],
  ['rds', 'db.r6g.xlarge', 0.52],
  ['rds', 'db.r6g.2xlarge', 1.04],
  ['rds', 'db.m6g.large', 0.178],
  ['rds', 'db.m6g.xlarge', 0.356],
];

export interface ArrangeOptions {
  /** Compute Optimizer's enrollment. @default 'Active' */
  enrollment?: 'Active' | 'Inactive';
  /** Leave out prices (by type) from the Price List. */
  withoutPrices?: string[];
  /** The workloads, changed. */
  workloads?: (workloads: FleetWorkload[]) => FleetWorkload[];
  /** The machines, changed. */
  machines?: (machines: FleetMachine[]) => FleetMachine[];
}

/** What a scenario arranged, for its test to assert against. */
export interface ArrangedAccount {
  peers: RightsizingPeers;
  workloads: FleetWorkload[];
  machines: FleetMachine[];
  /** Each node group's EC2 instance ids. */
  nodes: Record<string, string[]>;
}

function addWorkload(api: SimulatedKubernetesApi, workload: FleetWorkload): void {
  const { namespace, name, containers, replicas } = workload;
  if (workload.kind === 'Deployment')
    api.addDeployment({ namespace, name, replicas, revisions: [{ containers }] });
  if (workload.kind === 'StatefulSet') api.addStatefulSet({ namespace, name, replicas, containers });
  if (workload.kind === 'DaemonSet') api.addDaemonSet({ namespace, name, nodes: replicas, containers });
  if (workload.hpa) {
    api.addHorizontalPodAutoscaler({
      namespace,
      name,
      target: { kind: workload.kind === 'StatefulSet' ? 'StatefulSet' : 'Deployment', name },
      ...workload.hpa,
      currentReplicas: replicas,
    });
  }
}

/** The account: workloads in each cluster, their series, the machines, Compute Optimizer, prices. */
export function arrangeAccount(
  rehearsal: Rehearsal<RunbooksConfig>,
  options: ArrangeOptions = {},
): ArrangedAccount {
  const peers = freshRightsizingPeers(rehearsal);
  const now = Date.now();
  const workloads = (options.workloads ?? ((all) => all))(fleet(now));
  for (const workload of workloads) {
    addWorkload(rehearsal.cluster(workload.cluster), workload);
    if (workload.usage) {
      peers.metrics.put(podMetric(workload, 'cpu'), workload.usage.cpu);
      peers.metrics.put(podMetric(workload, 'memory'), scaled(workload.usage.memoryMiB, MIB));
    }
  }
  const fleetMachines = (options.machines ?? ((all) => all))(machines());
  peers.optimizer.enrollment = options.enrollment ?? 'Active';
  const ec2Metric = (id: string): MetricIdentity => ({
    namespace: 'AWS/EC2',
    metricName: 'CPUUtilization',
    dimensions: { InstanceId: id },
  });
  const nodes: Record<string, string[]> = {};
  for (const machine of fleetMachines) {
    const spec = { ...machine.computeOptimizer, id: machine.id, current: machine.type };
    if (machine.kind === 'ec2') {
      peers.ec2.addInstance({
        id: machine.id,
        type: machine.type,
        ...(machine.name !== undefined && { name: machine.name }),
      });
      peers.optimizer.ec2.push({ ...spec, ...(machine.name !== undefined && { name: machine.name }) });
      peers.metrics.put(ec2Metric(machine.id), machine.cpu);
    }
    if (machine.kind === 'asg') {
      const ids = peers.ec2.addNodeGroup({
        name: machine.id,
        type: machine.type,
        desiredCapacity: machine.count ?? 1,
        ...(machine.cluster !== undefined && {
          cluster: machine.cluster,
          nodegroup: `${machine.cluster}-nodes`,
        }),
      });
      nodes[machine.id] = ids;
      peers.optimizer.autoScalingGroups.push({ ...spec, desiredCapacity: machine.count ?? 1 });
      for (const id of ids) peers.metrics.put(ec2Metric(id), machine.cpu);
    }
    if (machine.kind === 'rds') {
      peers.optimizer.rds.push(spec);
      peers.rds.addInstance({ id: machine.id, instanceClass: machine.type, preexisting: true });
      peers.metrics.put(
        {
          namespace: 'AWS/RDS',
          metricName: 'CPUUtilization',
          dimensions: { DBInstanceIdentifier: machine.id },
        },
        machine.cpu,
      );
    }
  }
  const without = new Set(options.withoutPrices ?? []);
  for (const [service, type, hourly] of PRICE_LIST) {
    if (!without.has(type)) peers.pricing.add(...productFamily(service, type, REGION, hourly));
  }
  return { peers, workloads, machines: fleetMachines, nodes };
}

/** What each scenario arranged, by rehearsal: the test reads it after the run. */
const arranged = new WeakMap<object, ArrangedAccount>();

export function arrangedAccountOf(rehearsal: Rehearsal<RunbooksConfig>): ArrangedAccount {
  const found = arranged.get(rehearsal);
  if (!found) throw new Error('No right-sizing scenario has been arranged on this rehearsal.');
  return found;
}

const arrange = (rehearsal: Rehearsal<RunbooksConfig>, options: ArrangeOptions = {}) => {
  const account = arrangeAccount(rehearsal, options);
  arranged.set(rehearsal, account);
  return account;
};

/** The GetMetricData calls that throttle in `metrics-throttled`. */
export const THROTTLED_CALLS = 3;

/** A type in neither the Price List nor the bundled table, for `price-missing`. */
export const UNPRICED_RDS_CLASS = 'db.r7g.4xlarge';

export const rightsizingScenarios: RightsizingScenario[] = [
  {
    name: 'healthy',
    summary:
      "Two clusters, ten workloads with fourteen days of Container Insights data: over- and under-provisioned, one an HPA scales, one without requests, one with a single huge spike, one deployed two hours ago, one with no data. The account opted in to Compute Optimizer: the bastion, both node groups and both databases come from it; pods are priced at their nodes' type (from the nodes' EKS tags). Every type is in the Price List. The report (CSV, Markdown, HTML) lands in S3; Slack hears the total and the top 10 with a link.",
    arrange: async (rehearsal) => {
      arrange(rehearsal);
      return { events: [SCHEDULED_START] };
    },
  },
  {
    name: 'not-opted-in',
    summary:
      'The account has not opted in to Compute Optimizer: every running EC2 instance (the bastion and the nine nodes) and both databases are sized from their CloudWatch CPUUtilization instead, each line says so, and the node groups are not sized (the report says why).',
    arrange: async (rehearsal) => {
      arrange(rehearsal, { enrollment: 'Inactive' });
      return { events: [SCHEDULED_START] };
    },
  },
  {
    name: 'metrics-throttled',
    summary: `CloudWatch throttles GetMetricData ${THROTTLED_CALLS} times (Throttling, "Rate exceeded"); the collecting step is retried with backoff and the report is whole.`,
    arrange: async (rehearsal) => {
      const { peers } = arrange(rehearsal);
      peers.metrics.throttle(THROTTLED_CALLS);
      return { events: [SCHEDULED_START] };
    },
  },
  {
    name: 'cluster-unreachable',
    summary:
      "The batch cluster's API endpoint is private-only and the Lambdas run outside the VPC: its step fails by name (ClusterEndpointUnreachable), the report names the cluster, Slack says it needs attention, and the prod cluster's workloads, the EC2 and RDS lines are all there. The collector learns it from DescribeCluster, which a warm Lambda asks once per cluster: rehearse it first in a process (a fresh `npm run rehearse` is).",
    arrange: async (rehearsal) => {
      arrange(rehearsal);
      rehearsal.account.setEndpointAccess(CLUSTERS.batch.name, {
        endpointPublicAccess: false,
        endpointPrivateAccess: true,
      });
      return { events: [SCHEDULED_START] };
    },
  },
  {
    name: 'cluster-connection-reset',
    summary:
      "The batch cluster's API server resets every connection (a load balancer in front of it failing): each list it could not read is named in the report; the prod cluster, EC2 and RDS lines are all there.",
    arrange: async (rehearsal) => {
      arrange(rehearsal);
      rehearsal.cluster(CLUSTERS.batch.name).injectFault({ reset: true, times: Number.POSITIVE_INFINITY });
      return { events: [SCHEDULED_START] };
    },
  },
  {
    name: 'price-missing',
    summary: `The analytics database runs on ${UNPRICED_RDS_CLASS}, a class neither the Price List nor the bundled table knows: its line says it is not priced and claims no savings; the totals leave it out.`,
    arrange: async (rehearsal) => {
      arrange(rehearsal, {
        machines: (all) =>
          all.map((machine) =>
            machine.id === 'analytics-prod'
              ? {
                  ...machine,
                  type: UNPRICED_RDS_CLASS,
                  computeOptimizer: {
                    ...machine.computeOptimizer,
                    finding: 'Overprovisioned',
                    recommended: 'db.r7g.2xlarge',
                    reasons: ['CPUOverprovisioned'],
                    cpuMaxPercent: 20,
                  },
                }
              : machine,
          ),
      });
      return { events: [SCHEDULED_START] };
    },
  },
];
