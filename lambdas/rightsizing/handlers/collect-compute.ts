import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ComputeOptimizerClient } from '@aws-sdk/client-compute-optimizer';
import { EC2Client } from '@aws-sdk/client-ec2';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { awsClientOptions } from '../../aws/client-options';
import { requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { correlateWithExecution, logger } from '../../shared/logger';
import { sizeCompute } from '../collect';
import { storePart, type PartSummary } from '../parts';
import { stepInputSchema } from '../settings';

const bucket = requiredEnv('REPORT_BUCKET');
const region = requiredEnv('AWS_REGION');
const clients = {
  computeOptimizer: new ComputeOptimizerClient(awsClientOptions()),
  ec2: new EC2Client(awsClientOptions()),
  rds: new RDSClient(awsClientOptions()),
  cloudwatch: new CloudWatchClient(awsClientOptions({ requestTimeoutMs: 20_000 })),
};
const s3 = new S3Client(awsClientOptions());

export interface ComputePartSummary extends PartSummary {
  /** Each cluster's most common node type: the report prices pods with it. */
  nodeTypes: Record<string, string>;
  source: 'compute-optimizer' | 'cloudwatch';
}

export async function handler(input: unknown): Promise<ComputePartSummary> {
  const { execution, settings } = parseOrThrow(stepInputSchema, input, 'The collect-compute input');
  correlateWithExecution(execution.id);
  const now = new Date();
  const collected = await sizeCompute(clients, { settings, region, now });
  const summary = await storePart(
    s3,
    { bucket, executionName: execution.name, part: 'compute', now },
    collected,
    {
      metricCalls: collected.metricCalls,
      metricCallsLowerBound: collected.metricCallsLowerBound,
    },
  );
  logger.info('instances and databases sized', {
    ...summary,
    source: collected.source,
    nodeTypes: collected.nodeTypes,
  });
  return { ...summary, nodeTypes: collected.nodeTypes, source: collected.source };
}
