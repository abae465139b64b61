import { describe, expect, it } from 'vitest';
import type { RecommendationLine } from '../../lambdas/rightsizing/model';
import {
  bundledHourlyUsd,
  costTotals,
  nodeResourceRates,
  PriceBook,
  podHourlyUsd,
  priceInstanceLine,
  priceLines,
  priceWorkloadLine,
} from '../../lambdas/rightsizing/pricing';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

const workloadLine = (overrides: Partial<RecommendationLine> = {}): RecommendationLine => ({
  kind: 'workload',
  id: 'prod/shop/Deployment/checkout',
  name: 'checkout',
  source: 'cloudwatch',
  finding: 'over-provisioned',
  current: { replicas: 4, cpuMillicores: 2000, memoryBytes: 8 * GIB },
  recommended: { cpuMillicores: 1000, memoryBytes: 4 * GIB },
  evidence: {},
  reason: 'Lower CPU from 2,000m to 1,000m and lower memory from 8,192 MiB to 4,096 MiB per pod: because.',
  cost: { priceSource: 'none', method: 'not priced yet' },
  region: 'us-east-1',
  nodeInstanceType: 'm5.xlarge',
  ...overrides,
});

const rdsLine = (overrides: Partial<RecommendationLine> = {}): RecommendationLine => ({
  kind: 'rds',
  id: 'orders',
  name: 'orders',
  source: 'cloudwatch',
  finding: 'over-provisioned',
  current: { instanceType: 'db.r5.xlarge' },
  recommended: { instanceType: 'db.r5.large' },
  evidence: {},
  reason: 'Move from db.r5.xlarge to db.r5.large: because.',
  cost: { priceSource: 'none', method: 'not priced yet' },
  region: 'us-east-1',
  multiAz: true,
  ...overrides,
});

describe('pod cost: its requests’ share of its node', () => {
  it("splits the node's price between vCPU and memory in Fargate's ratio, so a full node costs the node", () => {
    const shape = { vcpus: 4, memoryGiB: 16 };
    const rates = nodeResourceRates(shape, 0.192);
    expect(rates.perVcpuHour * 4 + rates.perGiBHour * 16).toBeCloseTo(0.192, 10);
    expect(rates.perVcpuHour / rates.perGiBHour).toBeCloseTo(0.04048 / 0.004445, 6);
    expect(podHourlyUsd({ cpuMillicores: 4000, memoryBytes: 16 * GIB }, shape, 0.192)).toBeCloseTo(0.192, 10);
    expect(podHourlyUsd({}, shape, 0.192)).toBe(0);
  });

  it('prices a workload line monthly: pods × share × 730, with the method and the savings in the reason', () => {
    const line = priceWorkloadLine(workloadLine(), { hourlyUsd: 0.192, source: 'bundled' });
    // Half of a full m5.xlarge's requests, 4 pods: each pod frees half a node.
    expect(line.cost.current).toBeCloseTo(0.096 * 4 * 730, 1);
    expect(line.cost.recommended).toBeCloseTo(0.048 * 4 * 730, 1);
    expect(line.cost.savings).toBeCloseTo(0.048 * 4 * 730, 1);
    expect(line.cost.priceSource).toBe('bundled');
    expect(line.cost.method).toMatch(/^4 pods × their requests' share of a m5\.xlarge node \(\$0\.192\/h/);
    expect(line.reason).toMatch(/; saves about \$140 a month\.$/);
  });

  it('keeps the current request for a resource not sized, and prices a line that sets none as a cost', () => {
    const partial = priceWorkloadLine(workloadLine({ recommended: { cpuMillicores: 1000 } }), {
      hourlyUsd: 0.192,
      source: 'price-list',
    });
    expect(partial.cost.savings).toBeGreaterThan(0);
    const none = priceWorkloadLine(
      workloadLine({
        finding: 'no-requests',
        current: { replicas: 2 },
        recommended: { cpuMillicores: 500, memoryBytes: GIB },
      }),
      { hourlyUsd: 0.192, source: 'price-list' },
    );
    expect(none.cost.current).toBe(0);
    expect(none.cost.savings).toBeLessThan(0);
    expect(none.reason).toMatch(/costs about \$\d+ a month more\.$/);
  });

  it('claims no savings for a node type missing from both sources, and says so in the reason', () => {
    const line = priceWorkloadLine(workloadLine({ nodeInstanceType: 'x9z.huge' }), undefined);
    expect(line.cost).toEqual({
      priceSource: 'none',
      method: 'no price: x9z.huge in us-east-1 (neither the Price List API nor the bundled table)',
    });
    expect(line.reason).toMatch(
      /; no price is known for x9z\.huge in us-east-1 .*, so no savings are claimed\.$/,
    );
    expect(priceWorkloadLine(workloadLine({ nodeInstanceType: undefined }), undefined).cost.priceSource).toBe(
      'none',
    );
  });
});

describe('instance lines', () => {
  it('price RDS at the Multi-AZ rate from the bundled table (twice Single-AZ)', async () => {
    expect(
      bundledHourlyUsd({ service: 'rds', instanceType: 'db.r5.large', region: 'us-east-1', multiAz: true }),
    ).toBe(0.5);
    const [line] = await priceLines([rdsLine()], new PriceBook());
    expect(line?.cost).toMatchObject({
      current: 730,
      recommended: 365,
      savings: 365,
      priceSource: 'bundled',
    });
    expect(line?.cost.method).toBe('on-demand Multi-AZ hourly price × 730 h');
  });

  it('multiply a group by its desired capacity', () => {
    const line = priceInstanceLine(
      {
        ...rdsLine(),
        kind: 'asg',
        multiAz: undefined,
        current: { instanceType: 'm5.2xlarge', replicas: 10 },
        recommended: { instanceType: 'm5.xlarge' },
      },
      { hourlyUsd: 0.384, source: 'price-list' },
      { hourlyUsd: 0.192, source: 'price-list' },
    );
    expect(line.cost).toMatchObject({
      current: 2803.2,
      recommended: 1401.6,
      savings: 1401.6,
      priceSource: 'price-list',
    });
  });

  it('claim no savings when the recommended type has no price in either source', async () => {
    const [line] = await priceLines(
      [rdsLine({ recommended: { instanceType: 'db.x9.large' } })],
      new PriceBook(),
    );
    expect(line?.cost).toMatchObject({ current: 730, priceSource: 'none' });
    expect(line?.cost.savings).toBeUndefined();
    expect(line?.reason).toMatch(/no price is known for db\.x9\.large in us-east-1/);
  });

  it('total savings, added cost and net', () => {
    const lines = [
      { ...workloadLine(), cost: { savings: 100, priceSource: 'bundled' as const, method: '' } },
      { ...workloadLine(), cost: { savings: -30, priceSource: 'bundled' as const, method: '' } },
      { ...workloadLine(), cost: { priceSource: 'none' as const, method: '' } },
    ];
    expect(costTotals(lines)).toEqual({ savings: 100, added: 30, net: 70 });
  });
});
