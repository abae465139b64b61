import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import pg from 'pg';
import { parseOrThrow, RunbookError } from '../shared/errors';
import {
  tableKey,
  validationChecksSchema,
  validationLimitsSchema,
  type Assertion,
  type FreshnessCheck,
  type TableCheck,
  type ValidationLimits,
} from './checks';

// The restore test's proof that the data came back: connect to the restored instance over verified TLS and
// run the configured checks in one read-only transaction. A check that fails is a result; only not getting
// a session at all (or losing it) throws, as a named error the workflow routes on.

/** The restored instance, and the CA its certificate must chain to (the RDS CA bundle). */
export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** PEM certificates the server's chain must lead to; nothing else is trusted. */
  caPem: string;
  /** The name the certificate must carry, when it is not `host` (an instance reached by its address). */
  servername?: string;
}

export interface ValidationOptions {
  /** TCP connect, TLS handshake and authentication together. */
  connectTimeoutMs: number;
  /** Each statement's limit (`statement_timeout`); restored volumes load lazily, so be generous. */
  statementTimeoutMs: number;
  /** The moment the data's age (RPO) is measured at. */
  now: Date;
  /** The row counts of the previous run (its result's `counts`), for `maxDropRatio`. */
  previousCounts?: Readonly<Record<string, number>>;
  /** @default pgClient */
  createClient?: ClientFactory;
}

/** The part of a node-postgres client the validation uses; rows come as arrays (`rowMode: 'array'`). */
export interface SqlClient {
  connect(): Promise<unknown>;
  query(query: { text: string; rowMode: 'array'; queryMode?: 'extended' }): Promise<SqlResult>;
  end(): Promise<void>;
}

export interface SqlResult {
  rows: unknown[][];
  fields: { name: string; dataTypeID: number }[];
}

export type ClientFactory = (config: pg.ClientConfig) => SqlClient;

/** A node-postgres client. */
export const pgClient: ClientFactory = (config) => {
  const client = new pg.Client(config);
  // A client emits 'error' when the server drops it between queries; unhandled, that event would crash the
  // function, and the next query fails with the same error anyway.
  client.on('error', () => undefined);
  return client;
};

/** No session: refused, timed out, name not resolved, or lost during the checks. Worth a retry. */
export class DatabaseUnreachable extends RunbookError {
  override name = 'DatabaseUnreachable';
}

/** The server refused the credentials (SQLSTATE 28P01 invalid_password, 28000 not authorised). */
export class DatabaseAuthenticationFailed extends RunbookError {
  override name = 'DatabaseAuthenticationFailed';
}

/** The server's certificate is not trusted or does not name the server, or it does not speak TLS. */
export class DatabaseTlsRejected extends RunbookError {
  override name = 'DatabaseTlsRejected';
}

/** The checks or limits cannot be run as given: nothing was connected to. */
export class InvalidValidationChecks extends RunbookError {
  override name = 'InvalidValidationChecks';
}

export type CheckFailureCode =
  | 'missing'
  | 'too-few-rows'
  | 'dropped'
  | 'not-true'
  | 'shape'
  | 'stale'
  | 'no-data'
  | 'timeout'
  | 'read-only'
  | 'error';

export interface CheckFailure {
  code: CheckFailureCode;
  message: string;
  /** The server's error code, when the statement failed. */
  sqlstate?: string;
}

interface CheckOutcome {
  passed: boolean;
  /** Why it did not pass. */
  failure?: CheckFailure;
  durationMs: number;
}

export interface TableResult extends CheckOutcome {
  schema: string;
  name: string;
  /** Counted rows; undefined when they could not be counted. */
  rows?: number;
  minRows?: number;
  /** The previous run's count, when given. */
  previousRows?: number;
  /** The fewest rows `maxDropRatio` allows against `previousRows`. */
  dropFloor?: number;
}

export interface AssertionResult extends CheckOutcome {
  name: string;
}

export interface FreshnessResult extends CheckOutcome {
  schema: string;
  table: string;
  column: string;
  maxAgeMinutes: number;
  /** The newest value of the column (ISO 8601). */
  newest?: string;
  /** now − newest, in seconds. */
  ageSeconds?: number;
}

export interface ValidationResult {
  passed: boolean;
  tables: TableResult[];
  assertions: AssertionResult[];
  freshness?: FreshnessResult;
  /** The age of the newest data at `now`, in seconds: the RPO measured; undefined without freshness data. */
  rpoSeconds?: number;
  /** This run's row counts by `schema.name`: the next run's `previousCounts`. */
  counts: Record<string, number>;
  /** Connecting, TLS and authentication included. */
  connectMs: number;
  durationMs: number;
}

/** PostgreSQL's `bool` type (pg_type.oid). */
const BOOL_OID = 16;
const SAVEPOINT = 'restore_validation_check';

/** Node's certificate verification codes (tls docs, "X509 certificate error codes"), and a failed handshake. */
const TLS_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);
/** What pg raises, without a code, when the server answers the TLS request with a refusal. */
const NO_TLS_MESSAGES = new Set([
  'The server does not support SSL connections',
  'There was an error establishing an SSL connection',
]);

const codeOf = (error: unknown): string | undefined => {
  const code: unknown = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A server error that ends the session rather than the statement: connection exceptions, shutdowns. */
const endsSession = (error: pg.DatabaseError): boolean =>
  error.code?.startsWith('08') === true || ['57P01', '57P02', '57P03'].includes(error.code ?? '');

/** What failing to get a session means for the workflow. */
function connectError(error: unknown, where: string): RunbookError {
  const code = codeOf(error);
  const detail = `${messageOf(error)}${code ? ` (${code})` : ''}`;
  if (error instanceof pg.DatabaseError) {
    if (code === '28P01' || code === '28000')
      return new DatabaseAuthenticationFailed(`${where} refused the credentials: ${detail}`, {
        cause: error,
      });
    // Starting up, too many connections, no such database: the instance does not serve this session.
    return new DatabaseUnreachable(`${where} refused the session: ${detail}`, { cause: error });
  }
  if (
    (code && (TLS_ERRORS.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) ||
    NO_TLS_MESSAGES.has(messageOf(error))
  ) {
    return new DatabaseTlsRejected(`${where} failed TLS verification: ${detail}`, { cause: error });
  }
  // Refused, reset, timed out ('timeout expired'), DNS (ENOTFOUND, EAI_AGAIN), no route.
  return new DatabaseUnreachable(`${where} cannot be reached: ${detail}`, { cause: error });
}

function clientConfig(target: DatabaseTarget, limits: ValidationLimits): pg.ClientConfig {
  const verifyAs = (target.servername ?? target.host).replace(/\.$/, '');
  return {
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    password: target.password,
    application_name: 'platform-runbooks restore test',
    connectionTimeoutMillis: limits.connectTimeoutMs,
    // The server cancels a slow statement itself; this bounds a server that stops answering altogether.
    query_timeout: limits.statementTimeoutMs + limits.connectTimeoutMs,
    // Belt and braces: even a session whose check transaction ended could not write.
    options: '-c default_transaction_read_only=on',
    ssl: {
      ca: target.caPem,
      rejectUnauthorized: true,
      // pg sends `host` as SNI when it is a name, and no SNI for an address (RFC 6066): `servername` is
      // then the SNI, and the name verified in either case.
      ...(isIP(verifyAs) === 0 && { servername: verifyAs }),
      checkServerIdentity: (_host, certificate) => checkServerIdentity(verifyAs, certificate),
    },
  };
}

type Attempt = { ok: true; result: SqlResult } | { ok: false; error: pg.DatabaseError };

/** The session's statements, with a lost connection turned into DatabaseUnreachable. */
function session(client: SqlClient, where: string) {
  const run = async (text: string, extended = false): Promise<SqlResult> => {
    try {
      return await client.query({ text, rowMode: 'array', ...(extended && { queryMode: 'extended' }) });
    } catch (error) {
      if (error instanceof pg.DatabaseError && !endsSession(error)) throw error;
      throw new DatabaseUnreachable(`lost the session with ${where}: ${messageOf(error)}`, { cause: error });
    }
  };
  return {
    run,
    /**
     * Runs one check's statement in a savepoint: PostgreSQL aborts the whole transaction at an error, and
     * rolling back to the savepoint undoes only this check, so one failure does not hide the others.
     * `extended` sends it with the extended protocol, which refuses more than one statement.
     */
    attempt: async (text: string, extended = false): Promise<Attempt> => {
      await run(`SAVEPOINT ${SAVEPOINT}`);
      try {
        const result = await run(text, extended);
        await run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
        return { ok: true, result };
      } catch (error) {
        if (!(error instanceof pg.DatabaseError)) throw error;
        await run(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
        return { ok: false, error };
      }
    },
  };
}

type Session = ReturnType<typeof session>;

const quoted = (schema: string, name: string): string =>
  `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;

const elapsed = (started: number): number => Math.round(performance.now() - started);

function statementFailure(error: pg.DatabaseError, limits: ValidationLimits): CheckFailure {
  const sqlstate = error.code;
  const base = { message: error.message, ...(sqlstate && { sqlstate }) };
  switch (sqlstate) {
    case '57014':
      return {
        ...base,
        code: 'timeout',
        message: `ran past the statement timeout (${limits.statementTimeoutMs} ms): ${error.message}`,
      };
    case '25006':
      return { ...base, code: 'read-only', message: `tried to write in a read-only check: ${error.message}` };
    // undefined_table, invalid_schema_name, undefined_column
    case '42P01':
    case '3F000':
    case '42703':
      return { ...base, code: 'missing' };
    default:
      return { ...base, code: 'error' };
  }
}

async function checkTable(
  sql: Session,
  table: TableCheck,
  limits: ValidationLimits,
  previousCounts: Readonly<Record<string, number>> | undefined,
): Promise<TableResult> {
  const started = performance.now();
  const base = {
    schema: table.schema,
    name: table.name,
    ...(table.minRows !== undefined && { minRows: table.minRows }),
  };
  // An exact count, not the planner's estimate: the point is that the rows are readable.
  const attempt = await sql.attempt(`SELECT count(*) FROM ${quoted(table.schema, table.name)}`);
  if (!attempt.ok) {
    return {
      ...base,
      passed: false,
      failure: statementFailure(attempt.error, limits),
      durationMs: elapsed(started),
    };
  }
  // count(*) is a bigint, which pg returns as a string.
  const rows = Number(attempt.result.rows[0]?.[0]);
  const previousRows = previousCounts?.[tableKey(table)];
  const dropFloor =
    table.maxDropRatio !== undefined && previousRows !== undefined
      ? (1 - table.maxDropRatio) * previousRows
      : undefined;
  const failure: CheckFailure | undefined =
    table.minRows !== undefined && rows < table.minRows
      ? { code: 'too-few-rows', message: `${rows} rows, fewer than the ${table.minRows} required` }
      : dropFloor !== undefined && rows < dropFloor
        ? {
            code: 'dropped',
            message: `${rows} rows, down from ${previousRows} in the previous run: more than ${
              // toFixed: 0.07 × 100 is 7.000000000000001.
              Number(((table.maxDropRatio ?? 0) * 100).toFixed(2))
            } % fewer`,
          }
        : undefined;
  return {
    ...base,
    rows,
    ...(previousRows !== undefined && { previousRows }),
    ...(dropFloor !== undefined && { dropFloor }),
    passed: failure === undefined,
    ...(failure && { failure }),
    durationMs: elapsed(started),
  };
}

/** Why one result is not a single true boolean; undefined when it is. */
function assertionFailure({ rows, fields }: SqlResult): CheckFailure | undefined {
  if (rows.length !== 1) return { code: 'shape', message: `returned ${rows.length} rows, not exactly one` };
  if (fields.length !== 1)
    return { code: 'shape', message: `returned ${fields.length} columns, not one boolean column` };
  if (fields[0]?.dataTypeID !== BOOL_OID)
    return { code: 'shape', message: `its column ${fields[0]?.name ?? ''} is not a boolean` };
  const value = rows[0]?.[0];
  return value === true ? undefined : { code: 'not-true', message: `returned ${String(value)}, not true` };
}

async function checkAssertion(
  sql: Session,
  assertion: Assertion,
  limits: ValidationLimits,
): Promise<AssertionResult> {
  const started = performance.now();
  const attempt = await sql.attempt(assertion.sql, true);
  const failure = attempt.ok ? assertionFailure(attempt.result) : statementFailure(attempt.error, limits);
  return {
    name: assertion.name,
    passed: failure === undefined,
    ...(failure && { failure }),
    durationMs: elapsed(started),
  };
}

async function checkFreshness(
  sql: Session,
  check: FreshnessCheck,
  limits: ValidationLimits,
  now: Date,
): Promise<FreshnessResult> {
  const started = performance.now();
  const base = {
    schema: check.schema,
    table: check.table,
    column: check.column,
    maxAgeMinutes: check.maxAgeMinutes,
  };
  // The epoch of a timestamp without time zone reads it as UTC; of a timestamptz, it is the instant itself.
  const attempt = await sql.attempt(
    `SELECT extract(epoch FROM max(${pg.escapeIdentifier(check.column)}))::float8 FROM ${quoted(check.schema, check.table)}`,
  );
  const fail = (failure: CheckFailure): FreshnessResult => ({
    ...base,
    passed: false,
    failure,
    durationMs: elapsed(started),
  });
  if (!attempt.ok) {
    const failure = statementFailure(attempt.error, limits);
    // undefined_function: extract() has no form for the column's type.
    return fail(
      attempt.error.code === '42883'
        ? { ...failure, message: `${check.column} is not a timestamp, timestamptz or date column` }
        : failure,
    );
  }
  const newest = attempt.result.rows[0]?.[0];
  if (typeof newest !== 'number')
    return fail({
      code: 'no-data',
      message: `${check.schema}.${check.table} has no ${check.column} value to date the data`,
    });
  const ageSeconds = Math.round(now.getTime() - newest * 1000) / 1000;
  const passed = ageSeconds <= check.maxAgeMinutes * 60;
  return {
    ...base,
    newest: new Date(newest * 1000).toISOString(),
    ageSeconds,
    passed,
    ...(!passed && {
      failure: {
        code: 'stale',
        message: `the newest data is ${Math.round(ageSeconds / 60)} minutes old, more than the ${check.maxAgeMinutes} allowed`,
      } satisfies CheckFailure,
    }),
    durationMs: elapsed(started),
  };
}

/**
 * Connects to the restored database over verified TLS and runs `checks` (validationChecksSchema) in one
 * read-only transaction, rolled back at the end. Throws DatabaseUnreachable, DatabaseAuthenticationFailed,
 * DatabaseTlsRejected when there is no session, InvalidValidationChecks before connecting.
 */
export async function validateRestoredDatabase(
  target: DatabaseTarget,
  checks: unknown,
  options: ValidationOptions,
): Promise<ValidationResult> {
  const parsed = parseOrThrow(validationChecksSchema, checks, 'validation checks', InvalidValidationChecks);
  const limits = parseOrThrow(
    validationLimitsSchema,
    { connectTimeoutMs: options.connectTimeoutMs, statementTimeoutMs: options.statementTimeoutMs },
    'validation limits',
    InvalidValidationChecks,
  );
  const where = `${target.host}:${target.port}/${target.database}`;
  const started = performance.now();
  const client = (options.createClient ?? pgClient)(clientConfig(target, limits));
  try {
    await client.connect().catch((error: unknown) => {
      throw connectError(error, where);
    });
    const connectMs = elapsed(started);
    const sql = session(client, where);
    // statementTimeoutMs is a validated integer: nothing else reaches this statement.
    await sql.run(`BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = ${limits.statementTimeoutMs}`);
    const tables: TableResult[] = [];
    for (const table of parsed.tables)
      tables.push(await checkTable(sql, table, limits, options.previousCounts));
    const assertions: AssertionResult[] = [];
    for (const assertion of parsed.assertions) assertions.push(await checkAssertion(sql, assertion, limits));
    const freshness = parsed.freshness && (await checkFreshness(sql, parsed.freshness, limits, options.now));
    await sql.run('ROLLBACK');

    const counts: Record<string, number> = {};
    for (const table of tables) if (table.rows !== undefined) counts[tableKey(table)] = table.rows;
    return {
      passed: [...tables, ...assertions, ...(freshness ? [freshness] : [])].every((check) => check.passed),
      tables,
      assertions,
      ...(freshness && { freshness }),
      ...(freshness?.ageSeconds !== undefined && { rpoSeconds: freshness.ageSeconds }),
      counts,
      connectMs,
      durationMs: elapsed(started),
    };
  } finally {
    // A client stuck in a statement is destroyed rather than ended politely.
    await client.end().catch(() => undefined);
  }
}
