import { RDSClient } from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import { RestoreTestTag } from '../../../lib/config/restore-tests';
import { awsClientOptions } from '../../aws/client-options';
import { startRestore } from '../../aws/rds-restore';
import { requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { planSchema, type RestoreStarted } from '../plan';
import { restoreTestTags } from '../tags';

const environment = requiredEnv('ENVIRONMENT_NAME');
const subnetGroupName = requiredEnv('DB_SUBNET_GROUP_NAME');
const securityGroupId = requiredEnv('DB_SECURITY_GROUP_ID');
const rds = new RDSClient(awsClientOptions());

const inputSchema = z.object({ execution: executionSchema, plan: planSchema });

export async function handler(input: unknown): Promise<RestoreStarted> {
  const { execution, plan } = parseOrThrow(inputSchema, input, 'The restore input');
  correlateWithExecution(execution.id);
  const now = new Date();
  const { restore } = plan;
  const { created, firstStartedAt } = await startRestore(rds, {
    source: plan.source,
    from:
      restore.mode === 'snapshot'
        ? { mode: 'snapshot', snapshotId: restore.snapshotId, engine: restore.engine }
        : { mode: 'point-in-time', restoreTime: new Date(restore.restoreTime), engine: restore.engine },
    instanceId: plan.identifiers.instance,
    ...(plan.identifiers.cluster !== undefined && { clusterId: plan.identifiers.cluster }),
    instanceClass: plan.database.instanceClass,
    port: plan.database.port,
    subnetGroupName,
    securityGroupId,
    tags: restoreTestTags({ environment, executionId: execution.id, database: plan.database.name, now }),
    executionTag: RestoreTestTag.execution,
    createdAtTag: RestoreTestTag.createdAt,
  });
  logger.info(created ? 'restore started' : 'restore already started by this run', {
    identifiers: plan.identifiers,
  });
  // A retried step measures the RTO from its first attempt, which started the restore.
  return { startedAt: (firstStartedAt ?? now).toISOString(), created };
}
