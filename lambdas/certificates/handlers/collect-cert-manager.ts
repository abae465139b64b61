import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { clusterAccessFromEnvironment } from '../../kubernetes/lambda-cluster-access';
import { parseOrThrow } from '../../shared/errors';
import { jsonEnv, requiredEnv } from '../../shared/env';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { collectCertManagerCertificates } from '../cert-manager';
import { storePart } from '../collect';
import type { PartSummary } from '../parts';

const name = z.string().check(z.minLength(1));

/** As the stack writes it (lib/config/certificates.ts): `[]` when no cluster is read. */
const clustersSetting = z.array(z.object({ name, namespaces: z.array(name) }));

const bucket = requiredEnv('REPORT_BUCKET');
const clusters = jsonEnv('CERT_MANAGER_CLUSTERS', clustersSetting);
const kubernetes = clusterAccessFromEnvironment();
const s3 = new S3Client(awsClientOptions());

const inputSchema = z.object({ execution: executionSchema });

/** Throws only for its input, its settings or S3: a cluster that cannot be read is a failure inside the part. */
export async function handler(input: unknown): Promise<PartSummary> {
  const { execution } = parseOrThrow(inputSchema, input, 'The collect-cert-manager input');
  correlateWithExecution(execution.id);
  const now = new Date();
  const inventory = await collectCertManagerCertificates(
    { clusters, clientFor: (cluster) => kubernetes.clientFor(cluster) },
    { now },
  );
  const summary = await storePart(
    s3,
    { bucket, executionName: execution.name, part: 'cert-manager', now },
    inventory,
  );
  logger.info('cert-manager certificates collected', { ...summary, failedSources: inventory.failures });
  return summary;
}
