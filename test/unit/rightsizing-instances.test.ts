import { describe, expect, it } from 'vitest';
import { CLOUDWATCH_METHOD, recommendInstanceFromCpu } from '../../lambdas/rightsizing/compute-optimizer';
import { familyTypes, instanceShape } from '../../lambdas/rightsizing/instance-types';
import { distributionOf } from '../../lambdas/rightsizing/percentiles';

const cpu = (n: number, value: (i: number) => number, periodSeconds = 300) =>
  distributionOf(
    Float64Array.from({ length: n }, (_, i) => value(i)),
    { statistic: 'Average', periodSeconds },
  );

const base = { kind: 'ec2' as const, id: 'i-1', name: 'node-1', region: 'us-east-1' };

describe('our CloudWatch method for EC2 and RDS (Compute Optimizer not enabled)', () => {
  it("follows Compute Optimizer's defaults: P95, 20 % headroom, 14 days, at least 30 hours", () => {
    expect(CLOUDWATCH_METHOD).toEqual({
      percentile: 95,
      headroomPercent: 20,
      lookbackDays: 14,
      minHours: 30,
    });
  });

  it('knows the sizes of a family, smallest first, for EC2 types and RDS classes alike', () => {
    expect(instanceShape('m5.2xlarge')).toEqual({ vcpus: 8, memoryGiB: 32 });
    expect(instanceShape('db.r6g.large')).toEqual({ vcpus: 2, memoryGiB: 16 });
    expect(
      familyTypes('db.m5')
        .slice(0, 2)
        .map((size) => size.type),
    ).toEqual(['db.m5.large', 'db.m5.xlarge']);
  });

  it('picks the smallest type of the family whose vCPUs hold P95 with the headroom', () => {
    // 8 vCPUs at P95 30 % → 2.4 vCPUs, × 1.2 = 2.88 → m5.xlarge (4 vCPUs).
    const line = recommendInstanceFromCpu({ ...base, instanceType: 'm5.2xlarge', cpu: cpu(4032, () => 30) });
    expect(line).toMatchObject({
      source: 'cloudwatch',
      finding: 'over-provisioned',
      current: { instanceType: 'm5.2xlarge' },
      recommended: { instanceType: 'm5.xlarge' },
    });
    expect(line.reason).toBe(
      'Move from m5.2xlarge to m5.xlarge: CPU P95 was 30.0 % of 8 vCPUs over 336 hours, so it needs 2.9 vCPUs with 20 % headroom (projected P95 60 %); memory goes from 32 to 16 GiB and is not measured here, so check it first.',
    );
    expect(line.evidence.cpu?.datapoints).toBe(4032);
  });

  it('tells a busy instance to grow, and keeps one that fits', () => {
    expect(
      recommendInstanceFromCpu({
        ...base,
        kind: 'rds',
        instanceType: 'db.r5.large',
        cpu: cpu(500, () => 90),
        multiAz: true,
      }),
    ).toMatchObject({
      finding: 'under-provisioned',
      recommended: { instanceType: 'db.r5.xlarge' },
      multiAz: true,
    });
    expect(
      recommendInstanceFromCpu({ ...base, instanceType: 'm5.large', cpu: cpu(500, () => 60) }),
    ).toMatchObject({
      finding: 'optimized',
      recommended: { instanceType: 'm5.large' },
    });
  });

  it('needs 30 hours of data, and a type it knows', () => {
    const short = recommendInstanceFromCpu({ ...base, instanceType: 'm5.large', cpu: cpu(300, () => 5) }); // 25 h
    expect(short).toMatchObject({ finding: 'insufficient-data', recommended: {} });
    expect(short.reason).toBe(
      'Not sized: 25 hours of CPUUtilization in the window, fewer than the 30 needed.',
    );
    expect(recommendInstanceFromCpu({ ...base, instanceType: 'm5.large' }).finding).toBe('insufficient-data');
    expect(
      recommendInstanceFromCpu({ ...base, instanceType: 'x9z.huge', cpu: cpu(500, () => 5) }).reason,
    ).toMatch(/x9z\.huge is not in the bundled table/);
  });
});
