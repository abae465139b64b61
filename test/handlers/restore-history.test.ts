import { GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { S3Unavailable } from '../../lambdas/aws/s3-objects';
import { readHistory } from '../../lambdas/restore-test/history';

const s3 = new S3Client({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test' },
});
const mock = mockClient(s3);
afterEach(() => mock.reset());

// The part of an S3 body stream the adapter reads (as test/harness/simulated-buckets.ts answers).
const body = (text: string) => ({ Body: { transformToString: () => Promise.resolve(text) } as never });

describe('readHistory', () => {
  it('reads the history the report step wrote', async () => {
    const history = {
      database: 'orders',
      runs: [
        {
          execution: 'run-1',
          startedAt: '2026-11-01T03:00:00Z',
          passed: true,
          counts: { 'public.orders': 9 },
        },
      ],
    };
    mock
      .on(GetObjectCommand, { Key: 'restore-test/history/orders.json' })
      .resolves(body(JSON.stringify(history)));
    await expect(readHistory(s3, 'reports', 'orders')).resolves.toEqual(history);
  });

  it('treats a missing history as a first run', async () => {
    mock
      .on(GetObjectCommand)
      .rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    await expect(readHistory(s3, 'reports', 'orders')).resolves.toBeUndefined();
  });

  it.each([
    ['not JSON', '{"database": "orders", "runs": ['],
    ['not a history', JSON.stringify({ database: 'orders', runs: [{ passed: 'yes' }] })],
  ])('goes on without a history that is %s, rather than stopping the test', async (_, text) => {
    mock.on(GetObjectCommand).resolves(body(text));
    await expect(readHistory(s3, 'reports', 'orders')).resolves.toBeUndefined();
  });

  it('names S3 not answering S3Unavailable, for the workflow to retry', async () => {
    mock
      .on(GetObjectCommand)
      .rejects(
        new S3ServiceException({ name: 'SlowDown', $fault: 'server', message: 'slow down', $metadata: {} }),
      );
    await expect(readHistory(s3, 'reports', 'orders')).rejects.toThrow(S3Unavailable);
  });
});
