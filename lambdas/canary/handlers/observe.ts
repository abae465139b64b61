import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { awsClientOptions } from '../../aws/client-options';
import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { correlateWithExecution, logger } from '../../shared/logger';
import { observe, readObserveRequest, type Observation } from '../observe';

const kubernetes = clusterAccessFromEnvironment();
const elb = new ElasticLoadBalancingV2Client(awsClientOptions());

export async function handler(event: unknown): Promise<Observation> {
  const request = readObserveRequest(event);
  correlateWithExecution(request.run.executionArn);
  const observation = await observe(request, { kubernetes, elb, now: () => new Date() });
  logger.info('observed', { what: request.what, observation });
  return observation;
}
