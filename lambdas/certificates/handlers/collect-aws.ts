import { ACMClient } from '@aws-sdk/client-acm';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { parseOrThrow } from '../../shared/errors';
import { jsonEnv, requiredEnv } from '../../shared/env';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { storePart } from '../collect';
import {
  collectAcmCertificate,
  collectAwsCertificates,
  type AwsInventory,
  type RegionClients,
} from '../inventory';
import type { PartSummary } from '../parts';
import { checkedRegions, regionsSetting } from '../trigger';

const bucket = requiredEnv('REPORT_BUCKET');
const regions = checkedRegions(requiredEnv('AWS_REGION'), jsonEnv('REGIONS', regionsSetting));
const s3 = new S3Client(awsClientOptions());
// IAM is global; its endpoint is in us-east-1.
const iam = new IAMClient({ ...awsClientOptions(), region: 'us-east-1' });
// One pair per region for the life of the warm function: their connections are reused between runs.
const regionClients = new Map<string, RegionClients>();
const clientsFor = (region: string): RegionClients => {
  let clients = regionClients.get(region);
  if (!clients) {
    clients = {
      acm: new ACMClient({ ...awsClientOptions(), region }),
      elasticLoadBalancing: new ElasticLoadBalancingV2Client({ ...awsClientOptions(), region }),
    };
    regionClients.set(region, clients);
  }
  return clients;
};

const inputSchema = z.object({
  execution: executionSchema,
  trigger: z.union([
    z.object({ kind: z.literal('schedule') }),
    z.object({
      kind: z.literal('acm-event'),
      certificateArn: z.string().check(z.minLength(1)),
      region: z.string().check(z.minLength(1)),
    }),
  ]),
});

export async function handler(input: unknown): Promise<PartSummary> {
  const { execution, trigger } = parseOrThrow(inputSchema, input, 'The collect-aws input');
  correlateWithExecution(execution.id);
  const now = new Date();
  const inventory: AwsInventory =
    trigger.kind === 'schedule'
      ? await collectAwsCertificates({ regions, clientsFor, iam }, { now })
      : await collectAcmCertificate({ clientsFor }, { arn: trigger.certificateArn, region: trigger.region });
  const summary = await storePart(
    s3,
    { bucket, executionName: execution.name, part: 'aws', now },
    {
      certificates: inventory.certificates,
      failures: inventory.failures.map(({ source, region, error }) => ({ source, location: region, error })),
    },
  );
  logger.info('AWS certificates collected', { ...summary, failedSources: inventory.failures });
  return summary;
}
