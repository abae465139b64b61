import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { $ZodType, output } from 'zod/v4/core';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';

// The report bucket as the runbooks use it: JSON documents between steps (too large for a state's 256 KB)
// and the reports people read. Reads are parsed with a schema: a document that does not match is an error
// that names the object, never a half-read report.

/** S3 did not answer (throttled, 5xx, timed out): the workflow retries. */
export class S3Unavailable extends RunbookError {
  override name = 'S3Unavailable';
}

/** An object that is missing or does not hold what the step expects. */
export class S3InvalidObject extends RunbookError {
  override name = 'S3InvalidObject';
}

export interface ObjectLocation {
  bucket: string;
  key: string;
}

/** Writes `body` (a string, or any value as JSON) with the content type a browser opens it with. */
export async function putObject(
  s3: S3Client,
  { bucket, key }: ObjectLocation,
  body: string | unknown,
  contentType = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
): Promise<void> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  await sendNamingFaults(
    `PutObject s3://${bucket}/${key}`,
    () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: contentType })),
    S3Unavailable,
  );
}

/** Reads a JSON object and parses it with `schema`; a missing or malformed object is S3InvalidObject. */
export async function getJsonObject<T extends $ZodType>(
  s3: S3Client,
  { bucket, key }: ObjectLocation,
  schema: T,
): Promise<output<T>> {
  const where = `s3://${bucket}/${key}`;
  let text: string;
  try {
    const answer = await sendNamingFaults(
      `GetObject ${where}`,
      () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
      S3Unavailable,
    );
    if (!answer.Body) throw new S3InvalidObject(`${where} has no body`);
    text = await answer.Body.transformToString('utf8');
  } catch (error) {
    if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey') {
      throw new S3InvalidObject(`${where} does not exist`, { cause: error });
    }
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new S3InvalidObject(`${where} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseOrThrow(schema, value, where, S3InvalidObject);
}

/** The object in the S3 console, where a person with access opens or downloads it. */
export function s3ConsoleUrl(bucket: string, key: string, region: string): string {
  return `https://s3.console.aws.amazon.com/s3/object/${encodeURIComponent(bucket)}?region=${encodeURIComponent(region)}&bucketType=general&prefix=${encodeURIComponent(key)}`;
}
