import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { timelineNow } from './virtual-clock';

// A loopback S3 for tests and benchmarks: the REST API as the AWS SDK v3 speaks it, on 127.0.0.1, with the
// objects in memory. Enough for the report bucket's use (put, get, head, list, delete), answered the way S3
// answers, so the SDK's own parsing, error classes, retries and checksums run unchanged.
//
//   const s3 = await startS3Server({ buckets: ['reports'] });
//   const client = new S3Client({ endpoint: s3.endpoint, region: 'eu-west-1', credentials: dummy });
//   // or, for code that builds its own client (a Lambda bundle): AWS_ENDPOINT_URL_S3=<s3.endpoint>
//   s3.objects('reports').get('a/b.json')?.body;         // the live store: read it, or seed it
//   s3.faults.push({ operation: 'PutObject', code: 'SlowDown', status: 503, times: 2 });
//   s3.requests;                                          // every request, as answered
//   s3.reset();                                           // objects, faults and log emptied; buckets kept
//   await s3.close();
//
// - Addressing: path style (`/bucket/key`). The SDK uses it by itself for an IP endpoint such as
//   http://127.0.0.1:port (test/simulation/s3-server.test.ts checks it); no `forcePathStyle` is needed.
// - Operations: PutObject, GetObject, HeadObject, DeleteObject, ListObjectsV2 (prefix, delimiter, start-after,
//   max-keys up to 1,000, continuation-token) and HeadBucket, on the buckets given at start. A bucket not
//   given is `NoSuchBucket`. Anything else (CopyObject, multipart, Range, ACLs, tagging, versions…) is
//   answered 501 `NotImplemented`, never half-done.
// - Errors: S3's XML `<Error>` body with the S3 code, so the SDK throws its modelled class (`NoSuchKey`,
//   `NoSuchBucket`) or a ServiceException named by the code, with `$fault` from the status; HEAD errors have
//   no body, as with S3, and the SDK names them by status (`NotFound`).
// - Bodies: plain, or `aws-chunked` (what the SDK sends for a stream body, the checksum in a trailer). A
//   CRC32, SHA-1 or SHA-256 checksum or Content-MD5 the client sends is verified (`BadDigest`), kept, and
//   returned by GetObject and HeadObject when the client asks (`x-amz-checksum-mode: ENABLED`), so the SDK
//   validates what it reads back. Content type and `x-amz-meta-*` are kept; other headers are not.
// - Signatures are not verified: any Authorization header (or presigned query) is accepted; a request with
//   neither is `AccessDenied`, as S3 answers an anonymous request to a private bucket.

export type S3Operation =
  'PutObject' | 'GetObject' | 'HeadObject' | 'DeleteObject' | 'ListObjectsV2' | 'HeadBucket';

export interface StoredObject {
  body: Buffer;
  /** As sent; `binary/octet-stream` (S3's default) when none was. */
  contentType: string;
  /** `x-amz-meta-*` headers, by their name without the prefix (lower case). */
  metadata: Record<string, string>;
  /** Whole seconds, as S3 keeps it. */
  lastModified: Date;
  /** The checksums the client sent, by header (`x-amz-checksum-crc32` → base64 value). */
  checksums: Record<string, string>;
}

/** An error S3 answers instead of performing the operation, e.g. throttling or a 500. */
export interface S3Fault {
  operation: S3Operation;
  /** S3's error code: `SlowDown`, `InternalError`, `ServiceUnavailable`, `AccessDenied`… */
  code: string;
  status: number;
  /** How many matching requests get it; then it is removed. @default 1 */
  times?: number;
  /** Only requests to this bucket (and key). @default any */
  bucket?: string;
  key?: string;
  /** @default a message naming the code */
  message?: string;
}

export interface S3Request {
  /** When it arrived (`timelineNow()`): the same clock as the other simulated peers. */
  at: number;
  method: string;
  /** The operation it was taken for; undefined when the emulator does not implement it. */
  operation?: S3Operation;
  bucket?: string;
  key?: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The payload, decoded from aws-chunked, in bytes. */
  bytes: number;
  status: number;
  /** The error code answered, if any. */
  error?: string;
}

export interface S3Server {
  /** `http://127.0.0.1:<port>`: the client's `endpoint`, or AWS_ENDPOINT_URL_S3. */
  readonly endpoint: string;
  /** A bucket's objects by key: the live store, to read after a run or seed before it. Throws for a bucket not created. */
  objects(bucket: string): Map<string, StoredObject>;
  /** Faults still to be answered, in the order they are matched; push to add. */
  readonly faults: S3Fault[];
  /** Every request received (once its body is in), with what it was answered. */
  readonly requests: readonly S3Request[];
  /** Empties the buckets, the faults and the request log; the buckets themselves stay. */
  reset(): void;
  close(): Promise<void>;
}

export interface S3ServerOptions {
  /** The buckets that exist. */
  buckets: string[];
}

/** An S3 error answer: status, code and message as S3 sends them. */
class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly resource: { bucket?: string; key?: string } = {},
  ) {
    super(message);
  }
}

const notImplemented = (what: string) =>
  new S3Error(
    501,
    'NotImplemented',
    `A header or query you provided implies functionality that is not implemented (${what}).`,
  );

const MAX_KEYS = 1_000;

/** The checksums S3 verifies and can return, by header; CRC32C and CRC64NVME are kept unverified. */
const CHECKSUMS: Record<string, ((body: Buffer) => string) | undefined> = {
  'x-amz-checksum-crc32': (body) => {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(crc32(body));
    return bytes.toString('base64');
  },
  'x-amz-checksum-sha1': (body) => createHash('sha1').update(body).digest('base64'),
  'x-amz-checksum-sha256': (body) => createHash('sha256').update(body).digest('base64'),
  'x-amz-checksum-crc32c': undefined,
  'x-amz-checksum-crc64nvme': undefined,
};

/** Starts the emulator on 127.0.0.1 with a random port. */
export async function startS3Server({ buckets: names }: S3ServerOptions): Promise<S3Server> {
  const buckets = new Map(names.map((name) => [name, new Map<string, StoredObject>()]));
  const faults: S3Fault[] = [];
  const requests: S3Request[] = [];

  const server = createServer((req, res) => {
    const at = timelineNow();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://s3');
      const entry: S3Request = {
        at,
        method: req.method ?? '',
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        bytes: 0,
        status: 0,
      };
      requests.push(entry);
      try {
        const [bucket = '', ...rest] = url.pathname.slice(1).split('/').map(decodePath);
        if (bucket) entry.bucket = bucket;
        const key = rest.join('/');
        if (key) entry.key = key;
        const operation = operationOf(entry.method, bucket, entry.key, url.searchParams, req.headers);
        entry.operation = operation;
        if (!req.headers.authorization && !url.searchParams.has('X-Amz-Signature')) {
          throw new S3Error(403, 'AccessDenied', 'Access Denied');
        }
        const body = payloadOf(Buffer.concat(chunks), req.headers);
        entry.bytes = body.length;
        takeFault(faults, operation, bucket, entry.key);
        const objects = buckets.get(bucket);
        if (!objects)
          throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { bucket });
        entry.status = perform(
          operation,
          { bucket, key: entry.key ?? '', objects },
          req,
          res,
          url.searchParams,
          body,
        );
      } catch (caught) {
        // Anything but an S3 answer is a bug of the emulator: said so in a 500, which the client surfaces.
        const error =
          caught instanceof S3Error
            ? caught
            : new S3Error(
                500,
                'InternalError',
                `S3 emulator bug: ${(caught as Error).stack ?? String(caught)}`,
              );
        entry.status = error.status;
        entry.error = error.code;
        sendError(req, res, error);
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    objects(bucket) {
      const objects = buckets.get(bucket);
      if (!objects) throw new Error(`the S3 emulator has no bucket ${bucket} (it has ${names.join(', ')})`);
      return objects;
    },
    faults,
    requests,
    reset() {
      for (const objects of buckets.values()) objects.clear();
      faults.length = 0;
      requests.length = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** A path segment, percent-decoded; a malformed escape is S3's InvalidURI. */
function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new S3Error(400, 'InvalidURI', `Couldn't parse the specified URI.`);
  }
}

/** Which operation a request is, from its method, path and query, as S3 routes it. */
function operationOf(
  method: string,
  bucket: string,
  key: string | undefined,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
): S3Operation {
  // The SDK names the operation in `x-id`; a presigned URL carries its signature in X-Amz-* parameters.
  const subresources = [...query.keys()].filter((name) => name !== 'x-id' && !name.startsWith('X-Amz-'));
  if (!bucket) throw notImplemented('ListBuckets');
  if (key === undefined || key === '') {
    if (method === 'HEAD' && subresources.length === 0) return 'HeadBucket';
    if (method === 'GET' && query.get('list-type') === '2') {
      const unknown = subresources.find(
        (name) =>
          !['list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after'].includes(
            name,
          ),
      );
      if (unknown) throw notImplemented(`ListObjectsV2 ${unknown}`);
      return 'ListObjectsV2';
    }
    throw notImplemented(
      `${method} on a bucket${subresources.length ? ` with ${subresources.join(', ')}` : ''}`,
    );
  }
  if (subresources.length > 0) throw notImplemented(`${method} on an object with ${subresources.join(', ')}`);
  if (headers.range) throw notImplemented('Range');
  switch (method) {
    case 'PUT':
      if (headers['x-amz-copy-source']) throw notImplemented('CopyObject');
      return 'PutObject';
    case 'GET':
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return 'DeleteObject';
    default:
      throw new S3Error(
        405,
        'MethodNotAllowed',
        'The specified method is not allowed against this resource.',
      );
  }
}

/** Throws the first fault matching the request, counting it down. */
function takeFault(faults: S3Fault[], operation: S3Operation, bucket?: string, key?: string): void {
  const index = faults.findIndex(
    (fault) =>
      fault.operation === operation &&
      (fault.bucket === undefined || fault.bucket === bucket) &&
      (fault.key === undefined || fault.key === key),
  );
  const fault = faults[index];
  if (!fault) return;
  fault.times = (fault.times ?? 1) - 1;
  if (fault.times <= 0) faults.splice(index, 1);
  throw new S3Error(fault.status, fault.code, fault.message ?? `${fault.code} (injected)`, { bucket, key });
}

/**
 * The object's bytes: the body itself, or the data of its aws-chunked encoding (`<hex size>[;signature]\r\n`
 * chunks, a zero-size chunk, then trailer headers), its trailer checksum moved into the headers.
 */
function payloadOf(raw: Buffer, headers: IncomingHttpHeaders): Buffer {
  const chunked =
    String(headers['content-encoding'] ?? '').includes('aws-chunked') ||
    String(headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
  if (!chunked) return raw;
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', offset);
    if (lineEnd < 0)
      throw new S3Error(400, 'IncompleteBody', 'The aws-chunked body ends inside a chunk header.');
    const size = Number.parseInt(raw.subarray(offset, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isInteger(size))
      throw new S3Error(400, 'InvalidChunkSizeError', 'A chunk size is not hexadecimal.');
    offset = lineEnd + 2;
    if (size === 0) break;
    parts.push(raw.subarray(offset, offset + size));
    offset += size + 2;
  }
  for (const line of raw.subarray(offset).toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = Buffer.concat(parts);
  const declared = headers['x-amz-decoded-content-length'];
  if (declared !== undefined && Number(declared) !== body.length) {
    throw new S3Error(
      400,
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header.',
    );
  }
  return body;
}

/** The checksums the client sent, each verified where S3 can. */
function checksumsOf(body: Buffer, headers: IncomingHttpHeaders, key: string): Record<string, string> {
  const md5 = headers['content-md5'];
  if (md5 !== undefined && md5 !== createHash('md5').update(body).digest('base64')) {
    throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', {
      key,
    });
  }
  const checksums: Record<string, string> = {};
  for (const [header, compute] of Object.entries(CHECKSUMS)) {
    const sent = headers[header];
    if (typeof sent !== 'string') continue;
    if (compute && compute(body) !== sent) {
      const name = header.slice('x-amz-checksum-'.length).toUpperCase();
      throw new S3Error(
        400,
        'BadDigest',
        `The ${name} you specified did not match the calculated checksum.`,
        { key },
      );
    }
    checksums[header] = sent;
  }
  return checksums;
}

const etagOf = (body: Buffer): string => `"${createHash('md5').update(body).digest('hex')}"`;

/** Performs an operation on an existing bucket and answers it; returns the status sent. */
function perform(
  operation: S3Operation,
  { bucket, key, objects }: { bucket: string; key: string; objects: Map<string, StoredObject> },
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  body: Buffer,
): number {
  switch (operation) {
    case 'HeadBucket':
      return answer(res, 200, {});
    case 'ListObjectsV2':
      return answer(res, 200, { 'content-type': 'application/xml' }, listObjectsV2(bucket, objects, query));
    case 'PutObject': {
      const checksums = checksumsOf(body, req.headers, key);
      const metadata = Object.fromEntries(
        Object.entries(req.headers)
          .filter(([name]) => name.startsWith('x-amz-meta-'))
          .map(([name, value]) => [name.slice('x-amz-meta-'.length), String(value)]),
      );
      objects.set(key, {
        body,
        contentType: req.headers['content-type'] ?? 'binary/octet-stream',
        metadata,
        lastModified: new Date(Math.floor(Date.now() / 1000) * 1000),
        checksums,
      });
      return answer(res, 200, { etag: etagOf(body), ...checksums });
    }
    case 'DeleteObject':
      // S3 answers 204 whether or not the key existed.
      objects.delete(key);
      return answer(res, 204, {});
    case 'GetObject':
    case 'HeadObject': {
      const object = objects.get(key);
      if (!object) throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { key });
      const headers: Record<string, string> = {
        'content-type': object.contentType,
        'content-length': String(object.body.length),
        etag: etagOf(object.body),
        'last-modified': object.lastModified.toUTCString(),
        'accept-ranges': 'bytes',
        ...Object.fromEntries(
          Object.entries(object.metadata).map(([name, value]) => [`x-amz-meta-${name}`, value]),
        ),
        ...(req.headers['x-amz-checksum-mode'] === 'ENABLED' && {
          ...object.checksums,
          ...(Object.keys(object.checksums).length > 0 && { 'x-amz-checksum-type': 'FULL_OBJECT' }),
        }),
      };
      return answer(res, 200, headers, operation === 'GetObject' ? object.body : undefined);
    }
  }
}

function answer(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body?: Buffer | string,
): number {
  res.writeHead(status, {
    'x-amz-request-id': requestId(),
    'x-amz-id-2': randomBytes(24).toString('base64'),
    ...headers,
  });
  res.end(body);
  return status;
}

const requestId = (): string => randomBytes(8).toString('hex').toUpperCase();

function sendError(req: IncomingMessage, res: ServerResponse, error: S3Error): void {
  const id = requestId();
  const headers = { 'x-amz-request-id': id, 'x-amz-id-2': randomBytes(24).toString('base64') };
  // A HEAD answer has no body: the status alone tells the client what went wrong.
  if (req.method === 'HEAD') {
    res.writeHead(error.status, headers).end();
    return;
  }
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message>` +
    (error.resource.bucket !== undefined
      ? `<BucketName>${escapeXml(error.resource.bucket)}</BucketName>`
      : '') +
    (error.resource.key !== undefined ? `<Key>${escapeXml(error.resource.key)}</Key>` : '') +
    `<RequestId>${id}</RequestId><HostId>${headers['x-amz-id-2']}</HostId></Error>`;
  res.writeHead(error.status, { ...headers, 'content-type': 'application/xml' }).end(xml);
}

/**
 * One page of ListObjectsV2, in key order (UTF-8 bytes, as S3 sorts): keys under `prefix`, those with the
 * `delimiter` after it rolled up into common prefixes, each prefix counting as one of `max-keys` (at most
 * 1,000). The continuation token is opaque to the client: here the page's last key, or last common prefix,
 * whose keys the next page skips.
 */
function listObjectsV2(bucket: string, objects: Map<string, StoredObject>, query: URLSearchParams): string {
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeysText = query.get('max-keys');
  const maxKeys = maxKeysText === null ? MAX_KEYS : Number(maxKeysText);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    throw new S3Error(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      bucket,
    });
  }
  const token = query.get('continuation-token');
  let after = Buffer.from(query.get('start-after') ?? '');
  let skipUnder: string | undefined;
  if (token !== null) {
    const decoded = /^([kp]):(.*)$/s.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (!decoded)
      throw new S3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect', { bucket });
    after = Buffer.from(decoded[2] ?? '');
    if (decoded[1] === 'p') skipUnder = decoded[2];
  }

  const keys = [...objects.keys()]
    .filter((key) => key.startsWith(prefix))
    .map((key) => ({ key, bytes: Buffer.from(key) }))
    .filter(({ bytes }) => Buffer.compare(bytes, after) > 0)
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  const contents: string[] = [];
  const commonPrefixes: string[] = [];
  let last: { kind: 'k' | 'p'; value: string } | undefined;
  let truncated = false;
  for (const { key } of keys) {
    if (skipUnder !== undefined && key.startsWith(skipUnder)) continue;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const common = cut >= 0 ? key.slice(0, cut + delimiter.length) : undefined;
    // The keys under one common prefix are adjacent in key order: the first stands for them all.
    if (common !== undefined && common === commonPrefixes.at(-1)) continue;
    if (contents.length + commonPrefixes.length >= Math.min(maxKeys, MAX_KEYS)) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      commonPrefixes.push(common);
      last = { kind: 'p', value: common };
    } else {
      const object = objects.get(key) as StoredObject;
      contents.push(
        `<Contents><Key>${escapeXml(key)}</Key><LastModified>${object.lastModified.toISOString()}</LastModified>` +
          `<ETag>${escapeXml(etagOf(object.body))}</ETag><Size>${object.body.length}</Size>` +
          '<StorageClass>STANDARD</StorageClass></Contents>',
      );
      last = { kind: 'k', value: key };
    }
  }
  const element = (name: string, value: string | null | undefined) =>
    value === null || value === undefined ? '' : `<${name}>${escapeXml(value)}</${name}>`;
  const next =
    truncated && last ? Buffer.from(`${last.kind}:${last.value}`).toString('base64url') : undefined;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    element('Name', bucket) +
    element('Prefix', prefix) +
    element('Delimiter', delimiter || null) +
    element('StartAfter', query.get('start-after')) +
    element('ContinuationToken', token) +
    element('NextContinuationToken', next) +
    `<KeyCount>${contents.length + commonPrefixes.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
    `<IsTruncated>${next !== undefined}</IsTruncated>` +
    contents.join('') +
    commonPrefixes.map((common) => `<CommonPrefixes>${element('Prefix', common)}</CommonPrefixes>`).join('') +
    '</ListBucketResult>'
  );
}

const escapeXml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[char] ?? char,
  );
