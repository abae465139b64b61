import type { S3Client } from '@aws-sdk/client-s3';
import { putObject } from '../aws/s3-objects';
import type { ObservedCertificate } from './certificate';
import { partKey, type PartName, type PartSummary, type SourceFailure } from './parts';

/** Writes one collecting step's findings where the report step reads them, and says where, in the state. */
export async function storePart(
  s3: S3Client,
  { bucket, executionName, part, now }: { bucket: string; executionName: string; part: PartName; now: Date },
  { certificates, failures }: { certificates: ObservedCertificate[]; failures: SourceFailure[] },
): Promise<PartSummary> {
  const key = partKey(executionName, part);
  await putObject(s3, { bucket, key }, { part, collectedAt: now.toISOString(), certificates, failures });
  return { part, bucket, key, certificates: certificates.length, failures: failures.length };
}
