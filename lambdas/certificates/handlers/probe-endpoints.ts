import { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { awsClientOptions } from '../../aws/client-options';
import { InvalidInput, parseOrThrow } from '../../shared/errors';
import { requiredEnv } from '../../shared/env';
import { executionSchema } from '../../shared/execution';
import { correlateWithExecution, logger } from '../../shared/logger';
import { storePart } from '../collect';
import type { PartSummary } from '../parts';
import { probeEndpoints } from '../probe';

const bucket = requiredEnv('REPORT_BUCKET');
const s3 = new S3Client(awsClientOptions());

/**
 * The configured endpoints travel in the state machine definition, not in the environment (4 KB): the
 * construct substitutes them as a JSON document inside an ASL string, parsed here.
 */
const settingsSchema = z.object({
  endpoints: z.array(
    z.object({
      host: z.string().check(z.minLength(1)),
      port: z.int().check(z.gte(1), z.lte(65_535)),
      servername: z.optional(z.string().check(z.minLength(1))),
    }),
  ),
  trustedCas: z.array(z.string()),
  timeoutMs: z.int().check(z.positive()),
  concurrency: z.int().check(z.positive()),
});

const inputSchema = z.object({ execution: executionSchema, settingsJson: z.string() });

export async function handler(input: unknown): Promise<PartSummary> {
  const { execution, settingsJson } = parseOrThrow(inputSchema, input, 'The probe-endpoints input');
  correlateWithExecution(execution.id);
  let raw: unknown;
  try {
    raw = JSON.parse(settingsJson);
  } catch (error) {
    throw new InvalidInput(`The probe settings (settingsJson) are not JSON: ${(error as Error).message}`);
  }
  const settings = parseOrThrow(settingsSchema, raw, 'The probe settings (settingsJson)');
  const started = performance.now();
  const certificates = await probeEndpoints(settings.endpoints, {
    concurrency: settings.concurrency,
    timeoutMs: settings.timeoutMs,
    trustedCa: settings.trustedCas,
  });
  const summary = await storePart(
    s3,
    { bucket, executionName: execution.name, part: 'endpoints', now: new Date() },
    { certificates, failures: [] },
  );
  logger.info('endpoints probed', {
    ...summary,
    unreachable: certificates.filter((line) => line.problems.some((p) => p.code === 'unreachable')).length,
    ms: Math.round(performance.now() - started),
  });
  return summary;
}
