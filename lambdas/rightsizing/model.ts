// The cost right-sizing report's model: what the collecting steps find and what the report prints, shared by
// the recommendation math, the pricing, the report renderers and the workflow's steps.

/** CPU in millicores, memory in bytes: the units Kubernetes requests are compared in. */
export interface Resources {
  cpuMillicores?: number;
  memoryBytes?: number;
}

export interface ContainerResources {
  name: string;
  requests: Resources;
  limits: Resources;
}

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

/** A workload as the Kubernetes API describes it. */
export interface WorkloadInventory {
  cluster: string;
  namespace: string;
  kind: WorkloadKind;
  name: string;
  /** Desired replicas (a DaemonSet: the scheduled pods). */
  replicas: number;
  containers: ContainerResources[];
  /** A HorizontalPodAutoscaler scales it: its replica count moves with load. */
  hpa?: { minReplicas: number; maxReplicas: number; targetCpuUtilizationPercent?: number };
}

/** A distribution of measured values, with how it was measured: every recommendation shows it. */
export interface UsageDistribution {
  /** The CloudWatch statistic and period each datapoint is, e.g. `Average` over 300 s. */
  statistic: string;
  periodSeconds: number;
  datapoints: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  /** Other percentiles a strategy asked for (its CPU percentile when not 50/90/95/99), keyed by the number: `"97.5"`. */
  quantiles?: Record<string, number>;
}

export type LineKind = 'workload' | 'ec2' | 'asg' | 'rds';
export type LineSource = 'cloudwatch' | 'compute-optimizer';
export type Finding =
  | 'over-provisioned'
  | 'under-provisioned'
  | 'optimized'
  | 'insufficient-data'
  | 'hpa-managed'
  | 'no-requests';

export interface MonthlyCost {
  /** USD a month (hourly × 730) at the current size, the recommended size, and the difference. */
  current?: number;
  recommended?: number;
  savings?: number;
  /** Where the prices came from; `none` when neither source knows the type. */
  priceSource: 'price-list' | 'bundled' | 'none';
  /** How the cost was derived, in words (a pod's share of its node's price, an instance's on-demand price…). */
  method: string;
}

/** One line of the report: one workload, instance, Auto Scaling group or database. */
export interface RecommendationLine {
  kind: LineKind;
  /** Unique in the report: `cluster/namespace/Kind/name`, an instance id, a group name, a DB identifier. */
  id: string;
  cluster?: string;
  namespace?: string;
  name: string;
  source: LineSource;
  finding: Finding;
  /** Per pod for workloads; the instance type for EC2, ASG and RDS. */
  current: Resources & { instanceType?: string; replicas?: number };
  recommended: Resources & { instanceType?: string };
  /** The numbers behind it. */
  evidence: {
    cpu?: UsageDistribution;
    memory?: UsageDistribution;
    /** Compute Optimizer's own words and projected utilisation, when it is the source. */
    computeOptimizer?: { finding: string; reasons: string[]; projectedCpuMaxPercent?: number };
  };
  /** One sentence a person can act on: what to change, and why. */
  reason: string;
  cost: MonthlyCost;
  /** The region it runs in: prices are per region. */
  region?: string;
  /** Workloads: the instance type of the nodes its pods run on, whose price a pod takes a share of. */
  nodeInstanceType?: string;
  /** RDS: a Multi-AZ deployment (priced at its own, about double, rate). */
  multiAz?: boolean;
  /**
   * Workloads: the pod recommendation split over its containers (by their share of the current requests;
   * equally where none is set), since usage is measured per pod (Container Insights' PodName is the workload).
   */
  containers?: Array<{ name: string; current: Resources; recommended: Resources }>;
}
