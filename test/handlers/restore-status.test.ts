import { DBInstanceNotFoundFault, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidCredentialsSecret,
  readDatabaseCredentials,
  SecretsUnavailable,
} from '../../lambdas/aws/database-credentials';
import type { RestorePlan } from '../../lambdas/restore-test/plan';
import { readRestoreStatus, RestoreFailed, RestoreTimedOut } from '../../lambdas/restore-test/status';

const credentials = { accessKeyId: 'AKIDTESTTESTTESTTEST', secretAccessKey: 'test' };
const rds = new RDSClient({ region: 'eu-west-1', credentials });
const rdsMock = mockClient(rds);
const secrets = new SecretsManagerClient({ region: 'eu-west-1', credentials });
const secretsMock = mockClient(secrets);
afterEach(() => {
  rdsMock.reset();
  secretsMock.reset();
});

const plan = {
  identifiers: { instance: 'restore-test-orders-1a2b3c4d' },
  deadline: '2026-12-01T05:00:00.000Z',
  database: { availableTimeoutMinutes: 120 },
} as RestorePlan;
const before = new Date('2026-12-01T04:00:00Z');
const after = new Date('2026-12-01T05:00:01Z');
const answer = (status: string, endpoint = true) => ({
  DBInstances: [
    {
      DBInstanceIdentifier: plan.identifiers.instance,
      DBInstanceStatus: status,
      ...(endpoint && {
        Endpoint: { Address: 'restore-test-orders.abc.eu-west-1.rds.amazonaws.com', Port: 5432 },
      }),
    },
  ],
});

describe('readRestoreStatus', () => {
  it('answers the endpoint once the instance is available', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves(answer('available'));
    await expect(readRestoreStatus(rds, plan, before)).resolves.toEqual({
      available: true,
      status: 'available',
      endpoint: { address: 'restore-test-orders.abc.eu-west-1.rds.amazonaws.com', port: 5432 },
      checkedAt: before.toISOString(),
    });
  });

  it.each(['creating', 'backing-up', 'modifying', 'configuring-enhanced-monitoring'])(
    'waits while the instance is %s',
    async (status) => {
      rdsMock.on(DescribeDBInstancesCommand).resolves(answer(status, false));
      await expect(readRestoreStatus(rds, plan, before)).resolves.toMatchObject({ available: false, status });
    },
  );

  it('times out once the deadline has passed', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves(answer('creating', false));
    await expect(readRestoreStatus(rds, plan, after)).rejects.toThrow(RestoreTimedOut);
  });

  it.each(['incompatible-restore', 'failed', 'storage-full', 'inaccessible-encryption-credentials'])(
    'fails when RDS gives up (%s)',
    async (status) => {
      rdsMock.on(DescribeDBInstancesCommand).resolves(answer(status));
      await expect(readRestoreStatus(rds, plan, before)).rejects.toThrow(RestoreFailed);
    },
  );

  it('fails when the instance has disappeared', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejects(new DBInstanceNotFoundFault({ message: 'not found', $metadata: {} }));
    await expect(readRestoreStatus(rds, plan, before)).rejects.toThrow(/does not exist/);
  });
});

describe('readDatabaseCredentials', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders/reader-AbCdEf';

  it('reads the username and password RDS writes', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ username: 'reader', password: 's3cret', engine: 'postgres' }),
    });
    await expect(readDatabaseCredentials(secrets, arn)).resolves.toEqual({
      username: 'reader',
      password: 's3cret',
    });
  });

  it('refuses a secret without both, never quoting its value', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2-not-json' });
    const error = await readDatabaseCredentials(secrets, arn).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCredentialsSecret);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('names throttling SecretsUnavailable and a missing secret InvalidCredentialsSecret', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .rejectsOnce(Object.assign(new Error('no such secret'), { name: 'ResourceNotFoundException' }));
    await expect(readDatabaseCredentials(secrets, arn)).rejects.toThrow(SecretsUnavailable);
    await expect(readDatabaseCredentials(secrets, arn)).rejects.toThrow(InvalidCredentialsSecret);
  });
});
