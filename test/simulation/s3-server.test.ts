import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsClientOptions } from '../../lambdas/aws/client-options';
import { putObject, S3Unavailable } from '../../lambdas/aws/s3-objects';
import { startS3Server, type S3Server, type StoredObject } from '../harness/s3-server';

const BUCKET = 'reports';
const credentials = { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test' };

let s3: S3Server;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3Server({ buckets: [BUCKET, 'other'] });
  // No forcePathStyle: the SDK addresses an IP endpoint path style by itself (checked below).
  client = new S3Client({ endpoint: s3.endpoint, region: 'eu-west-1', credentials });
});

afterAll(async () => {
  client.destroy();
  await s3.close();
});

beforeEach(() => s3.reset());

/** The error a call fails with. */
async function failure(call: Promise<unknown>): Promise<S3ServiceException> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof S3ServiceException)) throw new Error(`expected an S3 error, got ${String(error)}`);
  return error;
}

/** An object as a test seeds it straight into the store. */
const stored = (body: string, contentType = 'text/plain'): StoredObject => ({
  body: Buffer.from(body),
  contentType,
  metadata: {},
  lastModified: new Date(),
  checksums: {},
});

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

describe('the S3 emulator with the AWS SDK v3 client', () => {
  it('stores what PutObject sends and GetObject returns it, addressed path style', async () => {
    const body = JSON.stringify({ certificates: ['ü', 'ß'] });
    const put = await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'runs/a b/endpoints.json',
        Body: body,
        ContentType: 'application/json',
        Metadata: { part: 'endpoints' },
      }),
    );
    expect(put.ETag).toBe(`"${md5(body)}"`);

    const got = await client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'runs/a b/endpoints.json', ChecksumMode: 'ENABLED' }),
    );
    expect(await got.Body?.transformToString('utf8')).toBe(body);
    expect(got).toMatchObject({
      ContentType: 'application/json',
      ContentLength: Buffer.byteLength(body),
      ETag: put.ETag,
      Metadata: { part: 'endpoints' },
      // The CRC32 the SDK sent by default, returned and validated by the SDK on the way back.
      ChecksumCRC32: put.ChecksumCRC32,
    });
    expect(got.LastModified?.getTime()).toBeGreaterThan(Date.now() - 5_000);

    const stored = s3.objects(BUCKET).get('runs/a b/endpoints.json');
    expect(stored?.body.toString('utf8')).toBe(body);
    expect(stored?.contentType).toBe('application/json');
    const [request] = s3.requests;
    expect(request).toMatchObject({
      method: 'PUT',
      operation: 'PutObject',
      bucket: BUCKET,
      key: 'runs/a b/endpoints.json',
      status: 200,
    });
    expect(request?.headers.host).toBe(new URL(s3.endpoint).host);
  });

  it('decodes the aws-chunked body the SDK sends for a stream, and verifies its trailing checksum', async () => {
    const text = 'x'.repeat(100_000);
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'stream.txt',
        Body: Readable.from([Buffer.from(text.slice(0, 60_000)), Buffer.from(text.slice(60_000))]),
        ContentLength: text.length,
      }),
    );
    expect(s3.requests[0]?.headers['content-encoding']).toContain('aws-chunked');
    const stored = s3.objects(BUCKET).get('stream.txt');
    expect(stored?.body.toString('utf8')).toBe(text);
    // The SDK's own content type for a stream body.
    expect(stored?.contentType).toBe('application/octet-stream');
    expect(Object.keys(stored?.checksums ?? {})).toEqual(['x-amz-checksum-crc32']);
  });

  it('refuses a body whose checksum does not match, as BadDigest', async () => {
    const error = await failure(
      client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'data', ChecksumCRC32: 'AAAAAA==' }),
      ),
    );
    expect(error.name).toBe('BadDigest');
    expect(s3.objects(BUCKET).has('k')).toBe(false);
  });

  it('answers a missing key NoSuchKey (HeadObject: a bare 404, NotFound)', async () => {
    const error = await failure(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'missing.json' })));
    expect(error).toBeInstanceOf(NoSuchKey);
    expect(error.$fault).toBe('client');
    expect(error.$metadata.httpStatusCode).toBe(404);
    expect(error.message).toBe('The specified key does not exist.');

    const head = await failure(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'missing.json' })));
    expect(head.name).toBe('NotFound');
    expect(head.$metadata.httpStatusCode).toBe(404);
  });

  it('heads and deletes objects; deleting a missing key succeeds, as in S3', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'a.txt', Body: 'abc', ContentType: 'text/plain' }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'a.txt' }));
    expect(head).toMatchObject({ ContentLength: 3, ContentType: 'text/plain', ETag: `"${md5('abc')}"` });
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'a.txt' }));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'a.txt' }));
    expect(s3.objects(BUCKET).size).toBe(0);
    expect(s3.requests.map((request) => request.status)).toEqual([200, 200, 204, 204]);
  });

  it('answers injected 503 SlowDown faults, which the SDK retries until the write succeeds', async () => {
    s3.faults.push({ operation: 'PutObject', code: 'SlowDown', status: 503, times: 2 });
    const put = await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'retried', Body: 'ok' }));
    expect(put.$metadata.attempts).toBe(3);
    expect(s3.requests.map((request) => [request.status, request.error])).toEqual([
      [503, 'SlowDown'],
      [503, 'SlowDown'],
      [200, undefined],
    ]);
    expect(s3.faults).toEqual([]);
    expect(s3.objects(BUCKET).get('retried')?.body.toString()).toBe('ok');
  });

  it('surfaces a fault outlasting the retries with its code and a server $fault, as the runbooks see it', async () => {
    s3.faults.push({ operation: 'PutObject', code: 'SlowDown', status: 503, times: 3 });
    // Built as the Lambdas build theirs: 3 attempts.
    const lambdaClient = new S3Client({
      ...awsClientOptions(),
      endpoint: s3.endpoint,
      region: 'eu-west-1',
      credentials,
    });
    const error = await putObject(lambdaClient, { bucket: BUCKET, key: 'k' }, { a: 1 }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    lambdaClient.destroy();
    expect(error).toBeInstanceOf(S3Unavailable);
    const cause = (error as S3Unavailable).cause as S3ServiceException;
    expect([cause.name, cause.$fault, cause.$metadata.httpStatusCode]).toEqual(['SlowDown', 'server', 503]);
  });

  it('matches a fault to its bucket and key only', async () => {
    s3.faults.push({ operation: 'GetObject', code: 'InternalError', status: 500, key: 'b', times: 5 });
    s3.objects(BUCKET).set('a', stored('seeded'));
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a' }));
    expect(await got.Body?.transformToString()).toBe('seeded');
    expect(s3.faults[0]?.times).toBe(5);
  });

  it('lists 2,500 keys in pages of 1,000 with continuation tokens, in key order, under a prefix', async () => {
    const objects = s3.objects(BUCKET);
    const keys = Array.from({ length: 2_500 }, (_, index) => `runs/${String(index).padStart(4, '0')}.json`);
    for (const key of [...keys].reverse()) {
      objects.set(key, stored(key, 'application/json'));
    }
    objects.set('other/x.json', stored('x'));

    const pages = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: BUCKET, Prefix: 'runs/' }))
      pages.push(page);
    expect(pages.map((page) => [page.KeyCount, page.IsTruncated])).toEqual([
      [1000, true],
      [1000, true],
      [500, false],
    ]);
    expect(pages.flatMap((page) => page.Contents ?? []).map((object) => object.Key)).toEqual(keys);
    expect(pages[0]?.Contents?.[0]).toMatchObject({ Size: keys[0]?.length, ETag: `"${md5(keys[0] ?? '')}"` });

    const small = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 7, StartAfter: 'runs/0100.json' }),
    );
    expect(small.Contents?.map((object) => object.Key)).toEqual(keys.slice(101, 108));
    expect(small.NextContinuationToken).toBeDefined();
  });

  it('rolls keys up into common prefixes at a delimiter, across pages', async () => {
    const objects = s3.objects(BUCKET);
    for (const key of ['a/1', 'a/2', 'b/1', 'c', 'd/1', 'd/2/x']) {
      objects.set(key, stored(key));
    }
    const pages = [];
    for await (const page of paginateListObjectsV2(
      { client, pageSize: 2 },
      { Bucket: BUCKET, Delimiter: '/' },
    )) {
      pages.push([
        ...(page.CommonPrefixes ?? []).map((common) => common.Prefix),
        ...(page.Contents ?? []).map((object) => object.Key),
      ]);
    }
    expect(pages).toEqual([
      ['a/', 'b/'],
      ['d/', 'c'],
    ]);
  });

  it('answers NoSuchBucket for a bucket not created (HeadBucket: NotFound)', async () => {
    const put = await failure(client.send(new PutObjectCommand({ Bucket: 'nowhere', Key: 'k', Body: 'x' })));
    expect(put).toBeInstanceOf(NoSuchBucket);
    expect(put.$metadata.httpStatusCode).toBe(404);
    const list = await failure(client.send(new ListObjectsV2Command({ Bucket: 'nowhere' })));
    expect(list).toBeInstanceOf(NoSuchBucket);
    const head = await failure(client.send(new HeadBucketCommand({ Bucket: 'nowhere' })));
    expect(head.name).toBe('NotFound');
    await expect(client.send(new HeadBucketCommand({ Bucket: 'other' }))).resolves.toBeDefined();
    expect(() => s3.objects('nowhere')).toThrow(/no bucket nowhere/);
  });

  it('is reached through AWS_ENDPOINT_URL_S3 by a client built without an endpoint, as a Lambda bundle builds it', async () => {
    const before = process.env.AWS_ENDPOINT_URL_S3;
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    try {
      const fromEnvironment = new S3Client({ region: 'eu-west-1', credentials });
      await fromEnvironment.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'env', Body: 'x' }));
      fromEnvironment.destroy();
    } finally {
      if (before === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
      else process.env.AWS_ENDPOINT_URL_S3 = before;
    }
    expect(s3.objects(BUCKET).has('env')).toBe(true);
  });

  it('answers an unsigned request AccessDenied and an unimplemented one NotImplemented, in S3 XML', async () => {
    const anonymous = await fetch(`${s3.endpoint}/${BUCKET}/k`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toMatch(/<Error><Code>AccessDenied<\/Code>/);
    const multipart = await fetch(`${s3.endpoint}/${BUCKET}/k?uploads`, {
      method: 'POST',
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTESTTEST/test' },
    });
    expect(multipart.status).toBe(501);
    expect(await multipart.text()).toMatch(/<Code>NotImplemented<\/Code>/);
    expect(s3.requests.map((request) => request.error)).toEqual(['AccessDenied', 'NotImplemented']);
  });
});
