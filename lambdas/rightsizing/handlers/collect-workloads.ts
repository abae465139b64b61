import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { awsClientOptions } from '../../aws/client-options';
import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { correlateWithExecution, logger } from '../../shared/logger';
import { sizeClusterWorkloads } from '../collect';
import { storePart, type PartSummary } from '../parts';
import { clusterInputSchema } from '../settings';

const bucket = requiredEnv('REPORT_BUCKET');
const region = requiredEnv('AWS_REGION');
const kubernetes = clusterAccessFromEnvironment();
// GetMetricData answers pages of up to 100,800 datapoints: give a page longer than the default 5 s.
const cloudwatch = new CloudWatchClient(awsClientOptions({ requestTimeoutMs: 20_000 }));
const s3 = new S3Client(awsClientOptions());

/**
 * One cluster of the Map. A cluster it cannot reach throws (the workflow names it in the report); a namespace
 * it cannot read is a failure inside the part.
 */
export async function handler(input: unknown): Promise<PartSummary> {
  const { execution, settings, cluster } = parseOrThrow(
    clusterInputSchema,
    input,
    'The collect-workloads input',
  );
  correlateWithExecution(execution.id);
  const now = new Date();
  const client = await kubernetes.clientFor(cluster.name);
  const collected = await sizeClusterWorkloads(
    { kubernetes: client, cloudwatch },
    { cluster: cluster.name, namespaces: cluster.namespaces, settings, region, now },
  );
  const summary = await storePart(
    s3,
    { bucket, executionName: execution.name, part: 'workloads', cluster: cluster.name, now },
    collected,
    { metricCalls: collected.metricCalls, metricCallsLowerBound: collected.metricCallsLowerBound },
  );
  logger.info('cluster workloads sized', { ...summary, failedSources: collected.failures });
  return summary;
}
