import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';

// The runbooks' report bucket in a rehearsal: PutObject and GetObject, as the adapters in
// lambdas/aws/s3-objects.ts call them, answered in-process from memory through aws-sdk-client-mock (every
// S3Client's `send`), with S3's error classes and injectable faults. The SDK's own retries do not run: a
// fault reaches the adapter as the SDK would surface it after its retries. (test/harness/s3-server.ts is the
// loopback HTTP S3 for tests that need the SDK's wire handling; a rehearsal does not.)

export interface SimulatedObject {
  body: string;
  contentType?: string;
}

export type BucketOperation = 'PutObject' | 'GetObject';

/** S3 answering with an error instead of performing the operation. */
export interface BucketFault {
  operation: BucketOperation;
  /** S3's error code: throttling (`SlowDown`, 503), 5xx (`InternalError`, `ServiceUnavailable`), `AccessDenied` (403). */
  name: 'SlowDown' | 'InternalError' | 'ServiceUnavailable' | 'AccessDenied';
  /** Faulty answers left; Infinity for always. */
  times: number;
  /** Only this bucket; any when omitted. */
  bucket?: string;
}

const STATUS: Record<BucketFault['name'], number> = {
  SlowDown: 503,
  InternalError: 500,
  ServiceUnavailable: 503,
  AccessDenied: 403,
};

export interface SimulatedBucketsOptions {
  /**
   * Called before each operation is performed; it may throw (the owner's own fault injection, say). Its
   * error is what the caller sees.
   */
  beforeCall?: (operation: BucketOperation, bucket: string, key: string) => void;
}

/** Bodies as the SDK is given them: a string, or bytes (Buffer, Uint8Array). */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  if (body === undefined) return '';
  throw new Error(`The simulated bucket takes string or byte bodies, not ${typeof body}`);
}

/** The buckets given, empty; S3Client mocked until `restore()`. */
export class SimulatedBuckets {
  readonly buckets = new Map<string, Map<string, SimulatedObject>>();
  readonly faults: BucketFault[] = [];
  /** Every call, in order. */
  readonly calls: Array<{ operation: BucketOperation; bucket: string; key: string }> = [];
  private readonly mock: { restore: () => void };

  constructor(
    buckets: string[],
    private readonly options: SimulatedBucketsOptions = {},
  ) {
    for (const bucket of buckets) this.buckets.set(bucket, new Map());
    const s3 = mockClient(S3Client);
    this.mock = s3;
    s3.on(PutObjectCommand).callsFake(async (input) => {
      const objects = this.call('PutObject', input.Bucket, input.Key);
      objects.set(String(input.Key), {
        body: bodyText(input.Body),
        ...(input.ContentType !== undefined && { contentType: input.ContentType }),
      });
      return { ETag: `"${objects.size}"` };
    });
    s3.on(GetObjectCommand).callsFake(async (input) => {
      const object = this.call('GetObject', input.Bucket, input.Key).get(String(input.Key));
      if (!object) {
        throw new NoSuchKey({
          message: 'The specified key does not exist.',
          $metadata: { httpStatusCode: 404 },
        });
      }
      return {
        // What the adapter reads of a streaming body; the rest of the SDK's stream is not simulated.
        Body: { transformToString: () => Promise.resolve(object.body) } as never,
        ContentType: object.contentType,
      };
    });
  }

  /** The objects of a bucket given at construction, by key: read them, or seed them. */
  objects(bucket: string): Map<string, SimulatedObject> {
    const objects = this.buckets.get(bucket);
    if (!objects) throw new Error(`No simulated bucket ${bucket}`);
    return objects;
  }

  /** A JSON object's parsed body, or undefined when there is none. */
  json<T = unknown>(bucket: string, key: string): T | undefined {
    const object = this.objects(bucket).get(key);
    return object === undefined ? undefined : (JSON.parse(object.body) as T);
  }

  callsTo(operation: BucketOperation): number {
    return this.calls.filter((call) => call.operation === operation).length;
  }

  /** Empties every bucket (the buckets stay), the faults and the calls. */
  reset(): void {
    for (const objects of this.buckets.values()) objects.clear();
    this.faults.length = 0;
    this.calls.length = 0;
  }

  restore(): void {
    this.mock.restore();
  }

  private call(
    operation: BucketOperation,
    bucket: string | undefined,
    key: string | undefined,
  ): Map<string, SimulatedObject> {
    const name = String(bucket);
    this.calls.push({ operation, bucket: name, key: String(key) });
    this.options.beforeCall?.(operation, name, String(key));
    const fault = this.faults.find(
      (candidate) =>
        candidate.operation === operation &&
        (candidate.bucket === undefined || candidate.bucket === name) &&
        candidate.times > 0,
    );
    if (fault) {
      fault.times -= 1;
      const status = STATUS[fault.name];
      throw new S3ServiceException({
        name: fault.name,
        $fault: status >= 500 ? 'server' : 'client',
        message: `${fault.name} (simulated)`,
        $metadata: { httpStatusCode: status },
      });
    }
    const objects = this.buckets.get(name);
    if (!objects) {
      throw new S3ServiceException({
        name: 'NoSuchBucket',
        $fault: 'client',
        message: 'The specified bucket does not exist',
        $metadata: { httpStatusCode: 404 },
      });
    }
    return objects;
  }
}
