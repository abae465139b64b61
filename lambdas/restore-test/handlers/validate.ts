import { readFileSync } from 'node:fs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { readDatabaseCredentials } from '../../aws/database-credentials';
import { InvalidSetting, requiredEnv } from '../../shared/env';
import { parseOrThrow } from '../../shared/errors';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { endpointSchema, planSchema } from '../plan';
import { validateRestoredDatabase, type ValidationResult } from '../validate';

const caBundlePath = requiredEnv('CA_BUNDLE_PATH');
/** Read once: the RDS CAs (in AWS, the runtime's /var/runtime/ca-cert.pem, which holds them). */
const caPem = (() => {
  try {
    return readFileSync(caBundlePath, 'utf8');
  } catch (error) {
    throw new InvalidSetting(`CA_BUNDLE_PATH ${caBundlePath} cannot be read: ${(error as Error).message}`);
  }
})();
const secrets = new SecretsManagerClient(awsClientOptions());

const inputSchema = z.object({ execution: executionSchema, plan: planSchema, endpoint: endpointSchema });

export interface ValidateResult extends ValidationResult {
  /** When the checks ended: the RTO's end for a run that passed. */
  validatedAt: string;
}

export async function handler(input: unknown): Promise<ValidateResult> {
  const { execution, plan, endpoint } = parseOrThrow(inputSchema, input, 'The validate input');
  correlateWithExecution(execution.id);
  const { database } = plan;
  const credentials = await readDatabaseCredentials(secrets, database.credentialsSecretArn);
  const result = await validateRestoredDatabase(
    {
      host: endpoint.address,
      port: endpoint.port,
      database: database.databaseName,
      user: credentials.username,
      password: credentials.password,
      caPem,
    },
    database.checks,
    {
      connectTimeoutMs: database.connectTimeoutSeconds * 1000,
      statementTimeoutMs: database.statementTimeoutSeconds * 1000,
      // The data's age is measured when the run started: that is when a real restore would have begun.
      now: new Date(plan.startedAt),
      ...(plan.previousCounts && { previousCounts: plan.previousCounts }),
    },
  );
  logger.info(result.passed ? 'restored data validated' : 'restored data failed its checks', {
    passed: result.passed,
    failed: [...result.tables, ...result.assertions, ...(result.freshness ? [result.freshness] : [])]
      .filter((check) => !check.passed)
      .map((check) => ('name' in check ? check.name : check.table)),
    rpoSeconds: result.rpoSeconds,
    durationMs: result.durationMs,
  });
  return { ...result, validatedAt: new Date().toISOString() };
}
