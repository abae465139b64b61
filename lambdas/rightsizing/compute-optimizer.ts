import type { ComputeOptimizerClient } from '@aws-sdk/client-compute-optimizer';
import {
  type AsgRecommendation,
  autoScalingGroupRecommendations,
  ComputeOptimizerNotEnrolled,
  type Ec2Recommendation,
  ec2InstanceRecommendations,
  enrollmentStatus,
  type RdsRecommendation,
  rdsDatabaseRecommendations,
} from '../aws/compute-optimizer';
import { familyTypes, instanceFamily, instanceShape } from './instance-types';
import type { Finding, LineKind, RecommendationLine, UsageDistribution } from './model';
import { percentileOf } from './percentiles';

// EC2 instances, Auto Scaling groups and RDS instances: Compute Optimizer's recommendations where the account
// opted in (it is free, sees memory through the CloudWatch agent and knows more than we can compute), our own
// CloudWatch method where it has not. Each line says which source it came from.

const NOT_PRICED = { priceSource: 'none', method: 'not priced yet' } as const;

/** Compute Optimizer's finding in the report's words (`Overprovisioned`, `OVER_PROVISIONED` alike). */
function findingOf(
  finding: string | undefined,
  currentType: string,
  recommendedType: string | undefined,
): Finding {
  const normal = (finding ?? '').toLowerCase().replace(/[^a-z]/g, '');
  if (normal === 'overprovisioned') return 'over-provisioned';
  if (normal === 'underprovisioned') return 'under-provisioned';
  if (normal === 'optimized') return 'optimized';
  // `NotOptimized` (groups): under or over, told apart by the recommended size where the table knows both.
  const now = instanceShape(currentType)?.vcpus;
  const then = recommendedType === undefined ? undefined : instanceShape(recommendedType)?.vcpus;
  return now !== undefined && then !== undefined && then > now ? 'under-provisioned' : 'over-provisioned';
}

type Utilisation = { name?: string | undefined; statistic?: string | undefined; value?: number | undefined };
const projectedCpuMax = (metrics: Utilisation[]) =>
  metrics.find((metric) => metric.name?.toLowerCase() === 'cpu' && metric.statistic === 'Maximum')?.value;

/** The rank-1 option (the first when none is ranked). */
function best<T extends { rank?: number | undefined }>(options: T[]): T | undefined {
  return [...options].sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity))[0];
}

function computeOptimizerLine(
  base: { kind: LineKind; id: string; name: string; region: string; multiAz?: boolean; replicas?: number },
  current: string,
  recommended: string | undefined,
  finding: string | undefined,
  reasons: string[],
  projected: number | undefined,
): RecommendationLine {
  const ours = findingOf(finding, current, recommended);
  const move = recommended !== undefined && recommended !== current;
  const why = `Compute Optimizer finds it ${finding ?? 'unclassified'}${reasons.length ? ` (${reasons.join(', ')})` : ''}`;
  const projectedWords = projected === undefined ? '' : `, projected CPU max ${Math.round(projected)} %`;
  return {
    kind: base.kind,
    id: base.id,
    name: base.name,
    source: 'compute-optimizer',
    finding: ours,
    current: { instanceType: current, ...(base.replicas !== undefined && { replicas: base.replicas }) },
    recommended: { instanceType: move ? recommended : current },
    evidence: {
      computeOptimizer: {
        finding: finding ?? 'unknown',
        reasons,
        ...(projected !== undefined && { projectedCpuMaxPercent: projected }),
      },
    },
    reason: move
      ? `Move from ${current} to ${recommended}: ${why}${projectedWords}.`
      : `Keep ${current}: ${why}.`,
    cost: NOT_PRICED,
    region: base.region,
    ...(base.multiAz !== undefined && { multiAz: base.multiAz }),
  };
}

/** `arn:…:instance/i-0abc` → `i-0abc`; `arn:aws:rds:…:db:orders` → `orders`. */
const arnName = (arn: string) => arn.split(/[/:]/).pop() ?? arn;

export function ec2RecommendationLine(recommendation: Ec2Recommendation, region: string): RecommendationLine {
  const option = best(recommendation.recommendationOptions);
  const id = arnName(recommendation.instanceArn);
  return computeOptimizerLine(
    { kind: 'ec2', id, name: recommendation.instanceName || id, region },
    recommendation.currentInstanceType,
    option?.instanceType,
    recommendation.finding,
    recommendation.findingReasonCodes,
    option && projectedCpuMax(option.projectedUtilizationMetrics),
  );
}

export function asgRecommendationLine(recommendation: AsgRecommendation, region: string): RecommendationLine {
  const option = best(recommendation.recommendationOptions);
  const desired = recommendation.currentConfiguration.desiredCapacity;
  return computeOptimizerLine(
    {
      kind: 'asg',
      id: recommendation.autoScalingGroupName,
      name: recommendation.autoScalingGroupName,
      region,
      ...(desired !== undefined && { replicas: desired }),
    },
    recommendation.currentConfiguration.instanceType,
    option?.configuration?.instanceType,
    recommendation.finding,
    [],
    option && projectedCpuMax(option.projectedUtilizationMetrics),
  );
}

/** An RDS recommendation; `multiAz` comes from DescribeDBInstances (Compute Optimizer does not say). */
export function rdsRecommendationLine(
  recommendation: RdsRecommendation,
  region: string,
  multiAz?: boolean,
): RecommendationLine {
  const option = best(recommendation.instanceRecommendationOptions);
  const id = arnName(recommendation.resourceArn);
  return computeOptimizerLine(
    { kind: 'rds', id, name: id, region, ...(multiAz !== undefined && { multiAz }) },
    recommendation.currentDBInstanceClass,
    option?.dbInstanceClass,
    recommendation.instanceFinding,
    recommendation.instanceFindingReasonCodes,
    option && projectedCpuMax(option.projectedUtilizationMetrics),
  );
}

/**
 * Compute Optimizer's lines for the region (EC2, groups, RDS, as asked), or undefined when the account has not
 * opted in (GetEnrollmentStatus not `Active`, or OptInRequired on a call): the caller then sizes from
 * CloudWatch with recommendInstanceFromCpu. `multiAz` says which DB identifiers are Multi-AZ (pricing).
 */
export async function computeOptimizerLines(
  client: ComputeOptimizerClient,
  region: string,
  {
    ec2 = true,
    rds = true,
    multiAz = () => undefined,
  }: { ec2?: boolean; rds?: boolean; multiAz?: (dbId: string) => boolean | undefined } = {},
): Promise<RecommendationLine[] | undefined> {
  if ((await enrollmentStatus(client)) !== 'Active') return undefined;
  try {
    const [instances, groups, databases] = await Promise.all([
      ec2 ? ec2InstanceRecommendations(client) : [],
      ec2 ? autoScalingGroupRecommendations(client) : [],
      rds ? rdsDatabaseRecommendations(client) : [],
    ]);
    return [
      ...instances.map((each) => ec2RecommendationLine(each, region)),
      ...groups.map((each) => asgRecommendationLine(each, region)),
      ...databases.map((each) => rdsRecommendationLine(each, region, multiAz(arnName(each.resourceArn)))),
    ];
  } catch (error) {
    if (error instanceof ComputeOptimizerNotEnrolled) return undefined;
    throw error;
  }
}

/**
 * Our method where Compute Optimizer is not enabled, after its defaults (reference.md "Right-sizing"): the
 * P95 of CPUUtilization over a 14-day lookback, 20 % headroom, at least 30 hours of data.
 */
export const CLOUDWATCH_METHOD = {
  percentile: 95,
  headroomPercent: 20,
  lookbackDays: 14,
  minHours: 30,
} as const;

export interface InstanceUsage {
  kind: 'ec2' | 'rds' | 'asg';
  id: string;
  name: string;
  region: string;
  /** EC2 type or RDS class. */
  instanceType: string;
  /** CPUUtilization, percent of the instance's vCPUs; undefined when there was none. */
  cpu?: UsageDistribution;
  multiAz?: boolean;
  /** A group's desired capacity. */
  replicas?: number;
}

/**
 * The smallest type of the same family whose vCPUs hold the P95 CPU with the headroom:
 * needed vCPUs = current vCPUs × P95 % × (1 + headroom). Memory is not measured (EC2 reports it only with
 * the CloudWatch agent; RDS's FreeableMemory is not read), so a downsize halves memory too: the reason
 * says to check it.
 */
export function recommendInstanceFromCpu(
  usage: InstanceUsage,
  method: typeof CLOUDWATCH_METHOD = CLOUDWATCH_METHOD,
): RecommendationLine {
  const line = (
    finding: Finding,
    recommendedType: string | undefined,
    reason: string,
  ): RecommendationLine => ({
    kind: usage.kind,
    id: usage.id,
    name: usage.name,
    source: 'cloudwatch',
    finding,
    current: {
      instanceType: usage.instanceType,
      ...(usage.replicas !== undefined && { replicas: usage.replicas }),
    },
    recommended: recommendedType === undefined ? {} : { instanceType: recommendedType },
    evidence: usage.cpu ? { cpu: usage.cpu } : {},
    reason,
    cost: NOT_PRICED,
    region: usage.region,
    ...(usage.multiAz !== undefined && { multiAz: usage.multiAz }),
  });
  const hours = usage.cpu ? (usage.cpu.datapoints * usage.cpu.periodSeconds) / 3600 : 0;
  if (!usage.cpu || hours < method.minHours) {
    return line(
      'insufficient-data',
      undefined,
      `Not sized: ${Math.floor(hours)} hours of CPUUtilization in the window, fewer than the ${method.minHours} needed.`,
    );
  }
  const shape = instanceShape(usage.instanceType);
  const sizes = familyTypes(instanceFamily(usage.instanceType));
  if (!shape || sizes.length === 0) {
    return line(
      'insufficient-data',
      undefined,
      `Not sized: ${usage.instanceType} is not in the bundled table of instance sizes, so no smaller size of its family is known.`,
    );
  }
  const p95 = percentileOf(usage.cpu, method.percentile);
  const needed = shape.vcpus * (p95 / 100) * (1 + method.headroomPercent / 100);
  const fits = sizes.find((size) => size.vcpus >= needed) ?? sizes[sizes.length - 1];
  const chosen = fits ?? { type: usage.instanceType, ...shape };
  const projected = (p95 * shape.vcpus) / chosen.vcpus;
  const evidence = `CPU P${method.percentile} was ${p95.toFixed(1)} % of ${shape.vcpus} vCPUs over ${Math.round(hours)} hours, so it needs ${needed.toFixed(1)} vCPUs with ${method.headroomPercent} % headroom`;
  if (chosen.type === usage.instanceType || chosen.vcpus === shape.vcpus) {
    return line('optimized', usage.instanceType, `Keep ${usage.instanceType}: ${evidence}.`);
  }
  const grow = chosen.vcpus > shape.vcpus;
  return line(
    grow ? 'under-provisioned' : 'over-provisioned',
    chosen.type,
    `Move from ${usage.instanceType} to ${chosen.type}: ${evidence} (projected P${method.percentile} ${Math.round(projected)} %)${
      grow
        ? ''
        : `; memory goes from ${shape.memoryGiB} to ${chosen.memoryGiB} GiB and is not measured here, so check it first`
    }.`,
  );
}
