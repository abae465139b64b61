import {
  ComputeOptimizerClient,
  ComputeOptimizerServiceException,
  GetAutoScalingGroupRecommendationsCommand,
  GetEC2InstanceRecommendationsCommand,
  GetEnrollmentStatusCommand,
  GetRDSDatabaseRecommendationsCommand,
  type InstanceRecommendation,
} from '@aws-sdk/client-compute-optimizer';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  autoScalingGroupRecommendations,
  ComputeOptimizerInvalidResponse,
  ComputeOptimizerNotEnrolled,
  ComputeOptimizerUnavailable,
  ec2InstanceRecommendations,
  enrollmentStatus,
  rdsDatabaseRecommendations,
} from '../../lambdas/aws/compute-optimizer';
import {
  asgRecommendationLine,
  computeOptimizerLines,
  ec2RecommendationLine,
  rdsRecommendationLine,
} from '../../lambdas/rightsizing/compute-optimizer';

const client = new ComputeOptimizerClient({ region: 'eu-west-1' });
const mock = mockClient(client);
afterEach(() => mock.reset());

const fault = (name: string, $fault: 'client' | 'server' = 'client') =>
  new ComputeOptimizerServiceException({ name, $fault, $metadata: {}, message: name });

describe('Compute Optimizer adapter', () => {
  it('reads the enrollment status', async () => {
    mock.on(GetEnrollmentStatusCommand).resolves({ status: 'Active' });
    await expect(enrollmentStatus(client)).resolves.toBe('Active');
    mock.on(GetEnrollmentStatusCommand).resolves({});
    await expect(enrollmentStatus(client)).resolves.toBe('Inactive');
  });

  it('follows nextToken through every page of EC2 recommendations', async () => {
    const instance = (id: string): InstanceRecommendation => ({
      instanceArn: `arn:aws:ec2:eu-west-1:111122223333:instance/${id}`,
      instanceName: `node-${id}`,
      currentInstanceType: 'm5.2xlarge',
      finding: 'Overprovisioned',
      findingReasonCodes: ['CPUOverprovisioned'],
      recommendationOptions: [
        { instanceType: 'm5.large', rank: 2 },
        {
          instanceType: 'm5.xlarge',
          rank: 1,
          projectedUtilizationMetrics: [{ name: 'Cpu', statistic: 'Maximum', value: 61.5 }],
        },
      ],
    });
    mock
      .on(GetEC2InstanceRecommendationsCommand)
      .resolvesOnce({ instanceRecommendations: [instance('i-1')], nextToken: 't' })
      .resolvesOnce({ instanceRecommendations: [instance('i-2')] });
    const found = await ec2InstanceRecommendations(client);
    expect(found.map((each) => each.instanceArn)).toHaveLength(2);
    expect(mock.commandCalls(GetEC2InstanceRecommendationsCommand)[1]?.args[0].input).toMatchObject({
      nextToken: 't',
    });
    const line = ec2RecommendationLine(found[0] as (typeof found)[number], 'eu-west-1');
    expect(line).toMatchObject({
      kind: 'ec2',
      id: 'i-1',
      name: 'node-i-1',
      source: 'compute-optimizer',
      finding: 'over-provisioned',
      current: { instanceType: 'm5.2xlarge' },
      recommended: { instanceType: 'm5.xlarge' },
      evidence: {
        computeOptimizer: {
          finding: 'Overprovisioned',
          reasons: ['CPUOverprovisioned'],
          projectedCpuMaxPercent: 61.5,
        },
      },
      region: 'eu-west-1',
    });
    expect(line.reason).toBe(
      'Move from m5.2xlarge to m5.xlarge: Compute Optimizer finds it Overprovisioned (CPUOverprovisioned), projected CPU max 62 %.',
    );
  });

  it('maps Auto Scaling groups (desired capacity as the count) and RDS instances', async () => {
    mock.on(GetAutoScalingGroupRecommendationsCommand).resolves({
      autoScalingGroupRecommendations: [
        {
          autoScalingGroupArn:
            'arn:aws:autoscaling:eu-west-1:1:autoScalingGroup:x:autoScalingGroupName/nodes-a',
          autoScalingGroupName: 'nodes-a',
          finding: 'NotOptimized',
          currentConfiguration: { instanceType: 'm5.large', desiredCapacity: 6 },
          recommendationOptions: [{ configuration: { instanceType: 'm5.xlarge' }, rank: 1 }],
        },
      ],
    });
    mock.on(GetRDSDatabaseRecommendationsCommand).resolves({
      rdsDBRecommendations: [
        {
          resourceArn: 'arn:aws:rds:eu-west-1:1:db:orders',
          engine: 'postgres',
          currentDBInstanceClass: 'db.r5.2xlarge',
          instanceFinding: 'Optimized',
          instanceRecommendationOptions: [],
        },
      ],
    });
    const [group] = await autoScalingGroupRecommendations(client);
    const [database] = await rdsDatabaseRecommendations(client);
    expect(asgRecommendationLine(group as NonNullable<typeof group>, 'eu-west-1')).toMatchObject({
      kind: 'asg',
      id: 'nodes-a',
      finding: 'under-provisioned',
      current: { instanceType: 'm5.large', replicas: 6 },
      recommended: { instanceType: 'm5.xlarge' },
    });
    const rds = rdsRecommendationLine(database as NonNullable<typeof database>, 'eu-west-1', true);
    expect(rds).toMatchObject({
      kind: 'rds',
      id: 'orders',
      finding: 'optimized',
      multiAz: true,
      recommended: { instanceType: 'db.r5.2xlarge' },
    });
    expect(rds.reason).toBe('Keep db.r5.2xlarge: Compute Optimizer finds it Optimized.');
  });

  it('names an account that has not opted in, throttling, and a malformed answer', async () => {
    mock.on(GetEC2InstanceRecommendationsCommand).rejects(fault('OptInRequiredException'));
    await expect(ec2InstanceRecommendations(client)).rejects.toBeInstanceOf(ComputeOptimizerNotEnrolled);
    mock.on(GetEC2InstanceRecommendationsCommand).rejects(fault('ThrottlingException'));
    await expect(ec2InstanceRecommendations(client)).rejects.toBeInstanceOf(ComputeOptimizerUnavailable);
    mock
      .on(GetEC2InstanceRecommendationsCommand)
      .resolves({ instanceRecommendations: [{ finding: 'Optimized' }] });
    await expect(ec2InstanceRecommendations(client)).rejects.toBeInstanceOf(ComputeOptimizerInvalidResponse);
  });

  it('answers undefined when the account has not opted in, so the caller sizes from CloudWatch', async () => {
    mock.on(GetEnrollmentStatusCommand).resolves({ status: 'Inactive' });
    await expect(computeOptimizerLines(client, 'eu-west-1')).resolves.toBeUndefined();
    expect(mock.commandCalls(GetEC2InstanceRecommendationsCommand)).toHaveLength(0);
    mock.on(GetEnrollmentStatusCommand).resolves({ status: 'Active' });
    mock.on(GetEC2InstanceRecommendationsCommand).rejects(fault('OptInRequiredException'));
    mock.on(GetAutoScalingGroupRecommendationsCommand).resolves({});
    mock.on(GetRDSDatabaseRecommendationsCommand).resolves({});
    await expect(computeOptimizerLines(client, 'eu-west-1')).resolves.toBeUndefined();
  });

  it('collects every kind when the account opted in, Multi-AZ from the caller', async () => {
    mock.on(GetEnrollmentStatusCommand).resolves({ status: 'Active' });
    mock.on(GetEC2InstanceRecommendationsCommand).resolves({});
    mock.on(GetAutoScalingGroupRecommendationsCommand).resolves({});
    mock.on(GetRDSDatabaseRecommendationsCommand).resolves({
      rdsDBRecommendations: [
        {
          resourceArn: 'arn:aws:rds:eu-west-1:1:db:orders',
          currentDBInstanceClass: 'db.m5.large',
          instanceFinding: 'Optimized',
        },
      ],
    });
    const lines = await computeOptimizerLines(client, 'eu-west-1', { multiAz: (id) => id === 'orders' });
    expect(lines).toEqual([
      expect.objectContaining({ kind: 'rds', id: 'orders', multiAz: true, source: 'compute-optimizer' }),
    ]);
  });
});
