import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import { REGION } from './simulated-account';

/**
 * A workload lock table on dynalite and nothing else: for tests that mock other AWS clients themselves
 * (SimulatedAccount mocks Step Functions and Secrets Manager for every client, which such a test cannot share).
 */
export async function startLockTable(
  tableName: string,
): Promise<{ dynamodb: DynamoDBClient; close(): Promise<void> }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dynamodb = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: REGION,
    credentials: { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test-secret-access-key' },
  });
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: 'workload', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'workload', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return {
    dynamodb,
    async close() {
      dynamodb.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
