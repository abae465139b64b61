import {
  ComputeOptimizerClient,
  GetEC2InstanceRecommendationsCommand,
  GetEnrollmentStatusCommand,
  GetRDSDatabaseRecommendationsCommand,
} from '@aws-sdk/client-compute-optimizer';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  autoScalingGroupRecommendations,
  ComputeOptimizerNotEnrolled,
  ComputeOptimizerUnavailable,
  ec2InstanceRecommendations,
  enrollmentStatus,
  rdsDatabaseRecommendations,
} from '../../lambdas/aws/compute-optimizer';
import { Ec2Unavailable, nodeTypesByCluster, runningInstances } from '../../lambdas/aws/ec2-instances';
import { onDemandHourlyUsd, PricingUnavailable } from '../../lambdas/aws/pricing';
import { productFilters } from '../../lambdas/rightsizing/pricing';
import { SimulatedComputeOptimizer } from '../harness/rightsizing/simulated-compute-optimizer';
import { SimulatedEc2 } from '../harness/rightsizing/simulated-ec2';
import { productFamily, SimulatedPricing } from '../harness/rightsizing/simulated-pricing';

// Compute Optimizer and the Price List API as the right-sizing rehearsal simulates them: through the SDK as
// any caller sees them (shapes, pagination, errors), then through the runbook's own adapters, which must read
// what the simulation answers.

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
const optimizer = new SimulatedComputeOptimizer();
const pricing = new SimulatedPricing();
const ec2 = new SimulatedEc2();
const ec2Client = new EC2Client({ region: 'eu-west-1', credentials });
const co = new ComputeOptimizerClient({ region: 'eu-west-1', credentials });
const priceList = new PricingClient({ region: 'us-east-1', credentials });

afterAll(() => {
  optimizer.restore();
  pricing.restore();
  ec2.restore();
});
beforeEach(() => {
  optimizer.reset();
  pricing.reset();
  ec2.reset();
});

async function rejection(promise: Promise<unknown>): Promise<Error & { $fault?: string; code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('it answered');
}

describe('the simulated Compute Optimizer', () => {
  it('answers an opted-in account’s EC2 recommendations in the API’s shape, page by page', async () => {
    optimizer.pageSize = 2;
    for (const [index, finding] of (
      ['Overprovisioned', 'Underprovisioned', 'Optimized'] as const
    ).entries()) {
      optimizer.ec2.push({
        id: `i-0${index}abcdef012345678`,
        name: `node-${index}`,
        current: 'm5.2xlarge',
        finding,
        recommended:
          finding === 'Overprovisioned'
            ? 'm5.xlarge'
            : finding === 'Underprovisioned'
              ? 'm5.4xlarge'
              : undefined,
        reasons: finding === 'Overprovisioned' ? ['CPUOverprovisioned'] : [],
        cpuMaxPercent: 20 + index * 30,
      });
    }
    const first = await co.send(new GetEC2InstanceRecommendationsCommand({ maxResults: 1000 }));
    expect(first.instanceRecommendations).toHaveLength(2);
    expect(first.instanceRecommendations?.[0]).toMatchObject({
      instanceArn: 'arn:aws:ec2:eu-west-1:111122223333:instance/i-00abcdef012345678',
      instanceName: 'node-0',
      currentInstanceType: 'm5.2xlarge',
      finding: 'Overprovisioned',
      findingReasonCodes: ['CPUOverprovisioned'],
      utilizationMetrics: [{ name: 'Cpu', statistic: 'Maximum', value: 20 }],
      lookBackPeriodInDays: 14,
      recommendationOptions: [{ instanceType: 'm5.xlarge', rank: 1 }],
    });
    const second = await co.send(new GetEC2InstanceRecommendationsCommand({ nextToken: first.nextToken }));
    expect(second.instanceRecommendations?.map((r) => r.finding)).toEqual(['Optimized']);
    expect(second.nextToken).toBeUndefined();
    // Another operation's token is refused.
    expect(
      (await rejection(co.send(new GetRDSDatabaseRecommendationsCommand({ nextToken: first.nextToken }))))
        .name,
    ).toBe('InvalidParameterValueException');
  });

  it('answers OptInRequiredException to every recommendation call of an account not opted in', async () => {
    optimizer.enrollment = 'Inactive';
    expect((await co.send(new GetEnrollmentStatusCommand({}))).status).toBe('Inactive');
    expect(await rejection(co.send(new GetEC2InstanceRecommendationsCommand({})))).toMatchObject({
      name: 'OptInRequiredException',
    });
    await expect(enrollmentStatus(co)).resolves.toBe('Inactive');
    await expect(rdsDatabaseRecommendations(co)).rejects.toBeInstanceOf(ComputeOptimizerNotEnrolled);
  });

  it('is read by the runbook’s adapters: every page of each kind, throttling named', async () => {
    optimizer.pageSize = 1;
    optimizer.ec2.push(
      {
        id: 'i-0a',
        current: 'm5.xlarge',
        finding: 'Overprovisioned',
        recommended: 'm5.large',
        cpuMaxPercent: 12,
      },
      { id: 'i-0b', current: 'c5.large', finding: 'Optimized', cpuMaxPercent: 55 },
    );
    optimizer.autoScalingGroups.push({
      id: 'eks-general-2024',
      current: 'm5.2xlarge',
      finding: 'NotOptimized',
      recommended: 'm5.xlarge',
      cpuMaxPercent: 18,
      desiredCapacity: 6,
    });
    optimizer.rds.push({
      id: 'orders-prod',
      current: 'db.r6g.2xlarge',
      finding: 'Overprovisioned',
      recommended: 'db.r6g.xlarge',
      reasons: ['CPUOverprovisioned'],
      cpuMaxPercent: 14,
    });
    expect((await ec2InstanceRecommendations(co)).map((r) => r.currentInstanceType)).toEqual([
      'm5.xlarge',
      'c5.large',
    ]);
    expect(optimizer.callsTo('GetEC2InstanceRecommendations')).toBe(2);
    expect(await autoScalingGroupRecommendations(co)).toMatchObject([
      {
        autoScalingGroupName: 'eks-general-2024',
        finding: 'NotOptimized',
        currentConfiguration: { instanceType: 'm5.2xlarge', desiredCapacity: 6 },
        recommendationOptions: [{ configuration: { instanceType: 'm5.xlarge' }, rank: 1 }],
      },
    ]);
    expect(await rdsDatabaseRecommendations(co)).toMatchObject([
      {
        resourceArn: 'arn:aws:rds:eu-west-1:111122223333:db:orders-prod',
        currentDBInstanceClass: 'db.r6g.2xlarge',
        instanceFinding: 'Overprovisioned',
        instanceRecommendationOptions: [{ dbInstanceClass: 'db.r6g.xlarge', rank: 1 }],
      },
    ]);
    optimizer.injectFault({ operation: 'GetEC2InstanceRecommendations', name: 'ThrottlingException' });
    await expect(ec2InstanceRecommendations(co)).rejects.toBeInstanceOf(ComputeOptimizerUnavailable);
  });
});

describe('the simulated Price List API', () => {
  it('answers PriceList entries as JSON strings, only the product every TERM_MATCH filter names', async () => {
    pricing.add(...productFamily('ec2', 'm5.xlarge', 'eu-west-1', 0.214));
    const filters = productFilters(
      { service: 'ec2', instanceType: 'm5.xlarge', region: 'eu-west-1' },
      'EU (Ireland)',
    );
    const answer = await priceList.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonEC2',
        Filters: Object.entries(filters).map(([Field, Value]) => ({ Type: 'TERM_MATCH', Field, Value })),
        FormatVersion: 'aws_v1',
      }),
    );
    expect(answer.PriceList).toHaveLength(1);
    const entry = JSON.parse(answer.PriceList?.[0] as string) as {
      product: { attributes: Record<string, string> };
      terms: {
        OnDemand: Record<
          string,
          { priceDimensions: Record<string, { unit: string; pricePerUnit: { USD: string } }> }
        >;
      };
    };
    expect(entry.product.attributes).toMatchObject({
      instanceType: 'm5.xlarge',
      operatingSystem: 'Linux',
      tenancy: 'Shared',
    });
    const [dimension] = Object.values(Object.values(entry.terms.OnDemand)[0]?.priceDimensions ?? {});
    expect(dimension).toMatchObject({ unit: 'Hrs', pricePerUnit: { USD: '0.2140000000' } });
    // The looser query finds the neighbours too: Windows, dedicated, reservation, SQL.
    const loose = await priceList.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonEC2',
        Filters: [{ Type: 'TERM_MATCH', Field: 'instanceType', Value: 'm5.xlarge' }],
      }),
    );
    expect(loose.PriceList).toHaveLength(5);
  });

  it('answers nothing for a type nobody sells, and is read by the runbook’s adapter', async () => {
    pricing.add(
      ...productFamily('ec2', 'm5.xlarge', 'eu-west-1', 0.214),
      ...productFamily('rds', 'db.r6g.xlarge', 'eu-west-1', 0.52),
    );
    const price = (service: 'ec2' | 'rds', instanceType: string, multiAz = false) =>
      onDemandHourlyUsd(priceList, {
        serviceCode: service === 'ec2' ? 'AmazonEC2' : 'AmazonRDS',
        filters: productFilters({ service, instanceType, region: 'eu-west-1', multiAz }, 'EU (Ireland)'),
      });
    await expect(price('ec2', 'm5.xlarge')).resolves.toBe(0.214);
    await expect(price('rds', 'db.r6g.xlarge')).resolves.toBe(0.52);
    await expect(price('rds', 'db.r6g.xlarge', true)).resolves.toBe(1.04);
    await expect(price('ec2', 'x9z.huge')).resolves.toBeUndefined();
    pricing.injectFault({ name: 'ThrottlingException' });
    await expect(price('ec2', 'm5.xlarge')).rejects.toBeInstanceOf(PricingUnavailable);
  });

  it('pages with MaxResults and NextToken, and refuses another query’s token', async () => {
    for (const type of ['m5.large', 'm5.xlarge', 'm5.2xlarge'])
      pricing.add(...productFamily('ec2', type, 'eu-west-1', 0.1));
    const filter = [{ Type: 'TERM_MATCH' as const, Field: 'operatingSystem', Value: 'linux' }];
    const first = await priceList.send(
      new GetProductsCommand({ ServiceCode: 'AmazonEC2', Filters: filter, MaxResults: 5 }),
    );
    expect(first.PriceList).toHaveLength(5);
    const second = await priceList.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonEC2',
        Filters: filter,
        MaxResults: 5,
        NextToken: first.NextToken,
      }),
    );
    // Linux: 4 of each family of 5 (Windows is not): 12 in all.
    expect(second.PriceList).toHaveLength(5);
    expect(
      (
        await rejection(
          priceList.send(new GetProductsCommand({ ServiceCode: 'AmazonRDS', NextToken: first.NextToken })),
        )
      ).name,
    ).toBe('InvalidNextTokenException');
    expect(
      (await rejection(priceList.send(new GetProductsCommand({ ServiceCode: 'AmazonEC2', MaxResults: 101 }))))
        .name,
    ).toBe('InvalidParameterException');
  });

  it('has no endpoint outside us-east-1, eu-central-1 and ap-south-1', async () => {
    const local = new PricingClient({ region: 'eu-west-1', credentials });
    expect(await rejection(local.send(new GetProductsCommand({ ServiceCode: 'AmazonEC2' })))).toMatchObject({
      code: 'ENOTFOUND',
    });
    local.destroy();
  });
});

describe('the simulated EC2 DescribeInstances', () => {
  it('answers reservations with the tags EKS puts on a node group’s nodes, filtered and paged', async () => {
    ec2.addInstance({ id: 'i-0a1b2c3d4e5f60718', type: 'm5.2xlarge', name: 'bastion' });
    ec2.addInstance({ id: 'i-0fffffffffffffff0', type: 'm5.large', state: 'stopped' });
    const prod = ec2.addNodeGroup({
      name: 'eks-prod-general',
      type: 'm5.2xlarge',
      desiredCapacity: 6,
      cluster: 'prod-eks',
      nodegroup: 'general',
    });
    expect(prod).toHaveLength(6);
    expect(prod.every((id) => /^i-[0-9a-f]{17}$/.test(id))).toBe(true);
    const first = await ec2Client.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: 'instance-state-name', Values: ['running'] }],
        MaxResults: 5,
      }),
    );
    expect(first.Reservations?.flatMap((r) => r.Instances ?? [])).toHaveLength(5);
    expect(first.Reservations?.[1]?.Instances?.[0]).toMatchObject({
      InstanceType: 'm5.2xlarge',
      State: { Code: 16, Name: 'running' },
      Tags: expect.arrayContaining([
        { Key: 'eks:cluster-name', Value: 'prod-eks' },
        { Key: 'eks:nodegroup-name', Value: 'general' },
        { Key: 'aws:autoscaling:groupName', Value: 'eks-prod-general' },
        { Key: 'kubernetes.io/cluster/prod-eks', Value: 'owned' },
      ]),
    });
    const second = await ec2Client.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: 'instance-state-name', Values: ['running'] }],
        MaxResults: 5,
        NextToken: first.NextToken,
      }),
    );
    expect(second.Reservations).toHaveLength(2);
    expect(second.NextToken).toBeUndefined();
    const tagged = await ec2Client.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:eks:cluster-name', Values: ['prod-eks'] }] }),
    );
    expect(tagged.Reservations).toHaveLength(6);
  });

  it('refuses what EC2 refuses, with its error codes', async () => {
    ec2.addInstance({ id: 'i-0a1b2c3d4e5f60718', type: 'm5.large' });
    expect((await rejection(ec2Client.send(new DescribeInstancesCommand({ MaxResults: 4 })))).name).toBe(
      'InvalidParameterValue',
    );
    expect(
      (
        await rejection(
          ec2Client.send(
            new DescribeInstancesCommand({ InstanceIds: ['i-0a1b2c3d4e5f60718'], MaxResults: 5 }),
          ),
        )
      ).name,
    ).toBe('InvalidParameterCombination');
    expect(
      (
        await rejection(
          ec2Client.send(new DescribeInstancesCommand({ InstanceIds: ['i-0000000000000000f'] })),
        )
      ).name,
    ).toBe('InvalidInstanceID.NotFound');
    expect(
      (
        await rejection(
          ec2Client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'flavour', Values: ['x'] }] })),
        )
      ).name,
    ).toBe('InvalidParameterValue');
  });

  it('is read by the runbook’s adapter: running instances only, each cluster’s node type, throttling named', async () => {
    ec2.pageSize = 2;
    ec2.addInstance({ id: 'i-0a1b2c3d4e5f60718', type: 'm5.2xlarge', name: 'bastion' });
    ec2.addInstance({ id: 'i-0fffffffffffffff0', type: 'm5.large', state: 'stopped' });
    ec2.addNodeGroup({
      name: 'eks-prod-general',
      type: 'm5.2xlarge',
      desiredCapacity: 3,
      cluster: 'prod-eks',
    });
    ec2.addNodeGroup({
      name: 'eks-batch-compute',
      type: 'm5.xlarge',
      desiredCapacity: 2,
      cluster: 'batch-eks',
    });
    const running = await runningInstances(ec2Client);
    expect(running).toHaveLength(6);
    expect(running[0]).toMatchObject({ id: 'i-0a1b2c3d4e5f60718', name: 'bastion' });
    expect(nodeTypesByCluster(running)).toEqual({ 'prod-eks': 'm5.2xlarge', 'batch-eks': 'm5.xlarge' });
    expect(ec2.calls.length).toBe(3);
    ec2.injectFault({ operation: 'DescribeInstances', name: 'RequestLimitExceeded' });
    await expect(runningInstances(ec2Client)).rejects.toBeInstanceOf(Ec2Unavailable);
  });
});
