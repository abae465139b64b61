import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';

// The credentials a restore test connects with: the source database's secret, in the JSON form RDS and
// Secrets Manager's rotation templates write ({"username", "password", …}). Messages name the secret, never
// a value: a parse error would quote it.

/** Secrets Manager did not answer (throttled, 5xx, timed out): the workflow retries. */
export class SecretsUnavailable extends RunbookError {
  override name = 'SecretsUnavailable';
}

/** The secret is missing, unreadable or holds no username and password. */
export class InvalidCredentialsSecret extends RunbookError {
  override name = 'InvalidCredentialsSecret';
}

export interface DatabaseCredentials {
  username: string;
  password: string;
}

export async function readDatabaseCredentials(
  secrets: SecretsManagerClient,
  secretId: string,
): Promise<DatabaseCredentials> {
  let value: string | undefined;
  try {
    ({ SecretString: value } = await sendNamingFaults(
      'GetSecretValue',
      () => secrets.send(new GetSecretValueCommand({ SecretId: secretId })),
      SecretsUnavailable,
    ));
  } catch (error) {
    if (error instanceof SecretsUnavailable) throw error;
    throw new InvalidCredentialsSecret(`secret ${secretId} cannot be read: ${(error as Error).name}`, {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = value === undefined ? undefined : JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const { username, password } = (parsed ?? {}) as { username?: unknown; password?: unknown };
  if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
    throw new InvalidCredentialsSecret(
      `secret ${secretId} does not hold {"username": "…", "password": "…"} as JSON`,
    );
  }
  return { username, password };
}
