import * as z from 'zod/mini';

// What a restore test checks in the restored database: the configuration's schema, and the Lambda input's.

/**
 * A schema, table or column name. Unquoted-style names only (letters, digits, `_`, `$`; at most 63 bytes,
 * PostgreSQL's NAMEDATALEN − 1), and the SQL still quotes them: a name reaches the SQL only after both.
 * Case is kept, as quoting keeps it: `Orders` names the table created as "Orders", not orders.
 */
export const identifierSchema = z
  .string()
  .check(z.regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, 'must be a plain SQL name (letters, digits, _ or $)'));

export const tableCheckSchema = z.object({
  schema: z._default(identifierSchema, 'public'),
  name: identifierSchema,
  /** The table holds at least this many rows. */
  minRows: z.optional(z.int().check(z.nonnegative())),
  /**
   * The table holds at least (1 − maxDropRatio) × the rows the previous run counted: 0.1 fails on a drop of
   * more than 10 %. Checked only when the previous run's count is given.
   */
  maxDropRatio: z.optional(z.number().check(z.gte(0), z.lte(1))),
});

export const assertionSchema = z.object({
  name: z.string().check(z.minLength(1)),
  /**
   * One query returning exactly one row of one boolean column, true when the data is right. It must begin
   * with SELECT, WITH or VALUES: a COMMIT or SET would end or loosen the read-only transaction the checks
   * run in (a second statement is refused by the protocol the query is sent with).
   */
  sql: z
    .string()
    .check(z.regex(/^\s*(select|with|values)\b/i, 'must be a query beginning with SELECT, WITH or VALUES')),
});

export const freshnessCheckSchema = z.object({
  schema: z._default(identifierSchema, 'public'),
  table: identifierSchema,
  /** A timestamp, timestamptz or date column; a timestamp without time zone is taken as UTC. */
  column: identifierSchema,
  maxAgeMinutes: z.number().check(z.positive()),
});

/** The key of a table in results and previous counts: `schema.name`. */
export const tableKey = ({ schema, name }: { schema: string; name: string }): string => `${schema}.${name}`;

const unique = (names: string[]) => new Set(names).size === names.length;

export const validationChecksSchema = z
  .object({
    tables: z._default(z.array(tableCheckSchema), []),
    assertions: z._default(z.array(assertionSchema), []),
    freshness: z.optional(freshnessCheckSchema),
  })
  .check(
    z.refine(
      (checks) => checks.tables.length > 0 || checks.assertions.length > 0 || checks.freshness !== undefined,
      'name at least one table, assertion or freshness check: a validation that checks nothing proves nothing',
    ),
    // Results and the next run's previous counts are keyed by these names.
    z.refine((checks) => unique(checks.tables.map(tableKey)), 'tables must not list a table twice'),
    z.refine(
      (checks) => unique(checks.assertions.map((assertion) => assertion.name)),
      'assertion names must be unique',
    ),
  );

/** How long the validation may wait: for the connection (TCP, TLS, authentication), and per statement. */
export const validationLimitsSchema = z.object({
  connectTimeoutMs: z.int().check(z.positive()),
  statementTimeoutMs: z.int().check(z.positive()),
});

/** The checks as configured (defaults not yet applied). */
export type ValidationChecksInput = z.input<typeof validationChecksSchema>;
export type ValidationChecks = z.output<typeof validationChecksSchema>;
export type ValidationLimits = z.output<typeof validationLimitsSchema>;
export type TableCheck = z.output<typeof tableCheckSchema>;
export type Assertion = z.output<typeof assertionSchema>;
export type FreshnessCheck = z.output<typeof freshnessCheckSchema>;
