import type { PricingClient } from '@aws-sdk/client-pricing';
import { onDemandHourlyUsd, PricingUnavailable } from '../aws/pricing';
import { instanceShape, type InstanceShape } from './instance-types';
import type { MonthlyCost, RecommendationLine, Resources } from './model';
import { EC2_HOURLY, RDS_POSTGRESQL_SINGLE_AZ_HOURLY } from './prices';

// Prices for the report's lines: the Price List API first (cached per type and region for the run), the
// bundled table (prices.ts, approximate) when the API cannot answer or does not know the type, and no price
// at all otherwise: such a line says so and claims no savings. Monthly = hourly × 730 (reference.md).

export const HOURS_PER_MONTH = 730;

/**
 * The Price List API's `location` attribute of each region (its long name). A region missing here is priced
 * from the bundled table only.
 */
export const REGION_LOCATIONS: Record<string, string> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-east-2': 'US East (Ohio)',
  'us-west-1': 'US West (N. California)',
  'us-west-2': 'US West (Oregon)',
  'ca-central-1': 'Canada (Central)',
  'eu-west-1': 'EU (Ireland)',
  'eu-west-2': 'EU (London)',
  'eu-west-3': 'EU (Paris)',
  'eu-central-1': 'EU (Frankfurt)',
  'eu-north-1': 'EU (Stockholm)',
  'eu-south-1': 'EU (Milan)',
  'ap-south-1': 'Asia Pacific (Mumbai)',
  'ap-southeast-1': 'Asia Pacific (Singapore)',
  'ap-southeast-2': 'Asia Pacific (Sydney)',
  'ap-northeast-1': 'Asia Pacific (Tokyo)',
  'ap-northeast-2': 'Asia Pacific (Seoul)',
  'sa-east-1': 'South America (Sao Paulo)',
};

export interface PriceKey {
  service: 'ec2' | 'rds';
  instanceType: string;
  region: string;
  /** RDS only. @default false */
  multiAz?: boolean;
}

export interface Price {
  hourlyUsd: number;
  source: 'price-list' | 'bundled';
}

/** The GetProducts TERM_MATCH filters of one EC2 type or RDS for PostgreSQL class (reference.md "Right-sizing"). */
export function productFilters(key: PriceKey, location: string): Record<string, string> {
  return key.service === 'ec2'
    ? {
        instanceType: key.instanceType,
        location,
        operatingSystem: 'Linux',
        tenancy: 'Shared',
        preInstalledSw: 'NA',
        capacitystatus: 'Used',
      }
    : {
        instanceType: key.instanceType,
        location,
        databaseEngine: 'PostgreSQL',
        deploymentOption: key.multiAz ? 'Multi-AZ' : 'Single-AZ',
      };
}

/** The bundled table's price, Multi-AZ RDS at twice Single-AZ; undefined when it does not list the type. */
export function bundledHourlyUsd(key: PriceKey): number | undefined {
  if (key.service === 'ec2') return EC2_HOURLY[key.region]?.[key.instanceType];
  const single = RDS_POSTGRESQL_SINGLE_AZ_HOURLY[key.region]?.[key.instanceType];
  return single === undefined ? undefined : single * (key.multiAz ? 2 : 1);
}

/**
 * On-demand prices for one run: the Price List API (when a client is given), cached per key, else the bundled
 * table. A Price List outage (PricingUnavailable) is not fatal: the run goes on with the bundled table and
 * stops asking the API.
 */
export class PriceBook {
  private readonly cache = new Map<string, Promise<Price | undefined>>();
  private apiDown = false;
  /** GetProducts lookups made (distinct keys asked of the API). */
  apiLookups = 0;

  constructor(private readonly pricing?: PricingClient) {}

  price(key: PriceKey): Promise<Price | undefined> {
    const id = `${key.service}|${key.region}|${key.instanceType}|${key.multiAz ? 'multi' : 'single'}`;
    let cached = this.cache.get(id);
    if (!cached) {
      cached = this.lookUp(key);
      this.cache.set(id, cached);
    }
    return cached;
  }

  private async lookUp(key: PriceKey): Promise<Price | undefined> {
    const location = REGION_LOCATIONS[key.region];
    if (this.pricing && location && !this.apiDown) {
      try {
        this.apiLookups += 1;
        const hourlyUsd = await onDemandHourlyUsd(this.pricing, {
          serviceCode: key.service === 'ec2' ? 'AmazonEC2' : 'AmazonRDS',
          filters: productFilters(key, location),
        });
        if (hourlyUsd !== undefined) return { hourlyUsd, source: 'price-list' };
      } catch (error) {
        if (!(error instanceof PricingUnavailable)) throw error;
        this.apiDown = true;
      }
    }
    const bundled = bundledHourlyUsd(key);
    return bundled === undefined ? undefined : { hourlyUsd: bundled, source: 'bundled' };
  }
}

const round2 = (usd: number) => Math.round(usd * 100) / 100;
const usd = (amount: number) => `$${Math.abs(amount).toLocaleString('en-US', { maximumFractionDigits: 0 })}`;

/**
 * A node's price split into a price per vCPU-hour and per GiB-hour, in the ratio AWS itself prices the two
 * for Fargate (us-east-1 Linux/x86: $0.04048 a vCPU-hour, $0.004445 a GB-hour, about 9.1 : 1): a pod pays
 * for what its requests reserve of each, whichever the node runs out of first. (Kubecost splits the same
 * way by default, with its own ratio.)
 */
export function nodeResourceRates(shape: InstanceShape, nodeHourlyUsd: number) {
  const cpuWeight = shape.vcpus * 0.04048;
  const memoryWeight = shape.memoryGiB * 0.004445;
  const cpuShare = cpuWeight / (cpuWeight + memoryWeight);
  return {
    perVcpuHour: (nodeHourlyUsd * cpuShare) / shape.vcpus,
    perGiBHour: (nodeHourlyUsd * (1 - cpuShare)) / shape.memoryGiB,
  };
}

/** The hourly price of what one pod's requests reserve on its node (unset requests reserve nothing). */
export function podHourlyUsd(requests: Resources, shape: InstanceShape, nodeHourlyUsd: number): number {
  const rates = nodeResourceRates(shape, nodeHourlyUsd);
  return (
    ((requests.cpuMillicores ?? 0) / 1000) * rates.perVcpuHour +
    ((requests.memoryBytes ?? 0) / 1024 ** 3) * rates.perGiBHour
  );
}

/** Replaces the final full stop of a line's reason with `; <clause>.`: the reason stays one sentence. */
const withClause = (reason: string, clause: string) => `${reason.replace(/\.$/, '')}; ${clause}.`;

function unpriced(line: RecommendationLine, what: string): RecommendationLine {
  return {
    ...line,
    cost: { priceSource: 'none', method: `no price: ${what}` },
    reason: withClause(line.reason, `no price is known for ${what}, so no savings are claimed`),
  };
}

/**
 * Prices a workload line: each pod's share of its node's price (nodeResourceRates) × replicas × 730, now and
 * as recommended; a resource not sized keeps its current request. A workload that sets no requests reserves
 * nothing today, so its recommendation costs more (negative savings).
 */
export function priceWorkloadLine(line: RecommendationLine, node: Price | undefined): RecommendationLine {
  const type = line.nodeInstanceType;
  const region = line.region ?? 'its region';
  const shape = type === undefined ? undefined : instanceShape(type);
  if (type === undefined) return unpriced(line, 'its nodes (their instance type is not known)');
  if (!node || !shape)
    return unpriced(line, `${type} in ${region} (neither the Price List API nor the bundled table)`);
  const replicas = line.current.replicas ?? 1;
  const recommendedRequests: Resources = { ...line.current, ...line.recommended };
  const current = podHourlyUsd(line.current, shape, node.hourlyUsd) * replicas * HOURS_PER_MONTH;
  const recommended = podHourlyUsd(recommendedRequests, shape, node.hourlyUsd) * replicas * HOURS_PER_MONTH;
  const cost: MonthlyCost = {
    current: round2(current),
    recommended: round2(recommended),
    savings: round2(current - recommended),
    priceSource: node.source,
    method: `${replicas} pod${replicas === 1 ? '' : 's'} × their requests' share of a ${type} node ($${node.hourlyUsd}/h, split per vCPU and GiB in Fargate's price ratio) × 730 h`,
  };
  const savings = current - recommended;
  const reason =
    Math.abs(savings) < 1
      ? line.reason
      : withClause(
          line.reason,
          savings > 0 ? `saves about ${usd(savings)} a month` : `costs about ${usd(savings)} a month more`,
        );
  return { ...line, cost, reason };
}

/**
 * Prices an EC2, Auto Scaling group or RDS line: the instance's on-demand price × count × 730 (count: the
 * group's desired capacity in `current.replicas`, else 1).
 */
export function priceInstanceLine(
  line: RecommendationLine,
  current: Price | undefined,
  recommended: Price | undefined,
): RecommendationLine {
  const region = line.region ?? 'its region';
  const currentType = line.current.instanceType ?? 'its type';
  if (!current)
    return unpriced(line, `${currentType} in ${region} (neither the Price List API nor the bundled table)`);
  const count = line.current.replicas ?? 1;
  const monthly = (price: Price) => price.hourlyUsd * count * HOURS_PER_MONTH;
  const changes =
    line.recommended.instanceType !== undefined &&
    line.recommended.instanceType !== line.current.instanceType;
  if (changes && !recommended) {
    return {
      ...unpriced(
        line,
        `${line.recommended.instanceType} in ${region} (neither the Price List API nor the bundled table)`,
      ),
      cost: {
        current: round2(monthly(current)),
        priceSource: 'none',
        method: `no price for ${line.recommended.instanceType}`,
      },
    };
  }
  const after = changes && recommended ? monthly(recommended) : monthly(current);
  const savings = monthly(current) - after;
  const sources = new Set([current.source, ...(changes && recommended ? [recommended.source] : [])]);
  return {
    ...line,
    cost: {
      current: round2(monthly(current)),
      recommended: round2(after),
      savings: round2(savings),
      // Bundled when either price came from the table: the figure is only as good as its weaker source.
      priceSource: sources.has('bundled') ? 'bundled' : 'price-list',
      method: `on-demand ${line.kind === 'rds' ? (line.multiAz ? 'Multi-AZ ' : 'Single-AZ ') : ''}hourly price${count === 1 ? '' : ` × ${count} instances`} × 730 h`,
    },
    reason:
      Math.abs(savings) < 1
        ? line.reason
        : withClause(
            line.reason,
            savings > 0 ? `saves about ${usd(savings)} a month` : `costs about ${usd(savings)} a month more`,
          ),
  };
}

/** Prices every line with one PriceBook (the report step's call). */
export async function priceLines(
  lines: readonly RecommendationLine[],
  book: PriceBook,
): Promise<RecommendationLine[]> {
  return Promise.all(
    lines.map(async (line) => {
      const region = line.region ?? '';
      if (line.kind === 'workload') {
        const node =
          line.nodeInstanceType === undefined
            ? undefined
            : await book.price({ service: 'ec2', instanceType: line.nodeInstanceType, region });
        return priceWorkloadLine(line, node);
      }
      const service = line.kind === 'rds' ? 'rds' : 'ec2';
      const multiAz = line.multiAz ?? false;
      const priceOf = (instanceType: string | undefined) =>
        instanceType === undefined
          ? Promise.resolve(undefined)
          : book.price({ service, instanceType, region, multiAz });
      const [current, recommended] = await Promise.all([
        priceOf(line.current.instanceType),
        priceOf(line.recommended.instanceType),
      ]);
      return priceInstanceLine(line, current, recommended);
    }),
  );
}

/**
 * The monthly totals of priced lines: what shrinking saves, what growing (under-provisioned, no requests)
 * costs, and the net. Lines without a price count nothing.
 */
export function costTotals(lines: readonly RecommendationLine[]): {
  savings: number;
  added: number;
  net: number;
} {
  let savings = 0;
  let added = 0;
  for (const line of lines) {
    const each = line.cost.savings ?? 0;
    if (each > 0) savings += each;
    else added -= each;
  }
  return { savings: round2(savings), added: round2(added), net: round2(savings - added) };
}
