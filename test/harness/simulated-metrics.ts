import {
  CloudWatchServiceException,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  InvalidNextToken,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import { createHash } from 'node:crypto';
import { timelineNow } from './virtual-clock';

// CloudWatch's metric store and GetMetricData, as the simulated account serves them (simulated-account.ts
// routes every CloudWatchClient's GetMetricDataCommand here). Series are functions of time giving one sample a
// minute (a workload's usage, an instance's CPU), so fourteen days of five-minute data cost nothing to hold.
// What it keeps faithful (CloudWatch API reference, GetMetricData; reference.md "CloudWatch"):
// - the per-call limits: 1 to 500 MetricDataQueries (ValidationError beyond), MaxDatapoints at most 100,800
//   (its default; InvalidParameterValue beyond); query ids unique and starting with a lower-case letter;
//   periods of 1, 5, 10, 20, 30 s or a multiple of 60 (InvalidParameterValue); StartTime before EndTime;
// - pagination by datapoints: a page holds at most MaxDatapoints datapoints, in query order, each series in
//   ScanBy order (TimestampDescending by default); a series continued on the next page is `PartialData` on
//   this one; NextToken belongs to its request (InvalidNextToken for another or a forged one);
// - retention: 60-second data for 15 days, 300-second data for 63 days, hourly data for 455 days;
// - the statistics of each period over its one-minute samples: Average, Maximum, Minimum, Sum, SampleCount,
//   pNN; a period without a sample has no datapoint;
// - throttling on demand (`Throttling`, "Rate exceeded", as CloudWatch's query API answers it);
// - metric math (CloudWatch User Guide, "Metric math syntax and functions"), the part the runbooks send:
//   `Expression` queries over other queries' ids (metrics or expressions, in any order, no cycles), numbers,
//   + - * / ^, unary minus, parentheses, FILL(series, number) and ABS. Between two series, a timestamp
//   missing from one of them counts as 0 ("Missing values in a time series are treated as 0"); a datapoint
//   that divides by zero (any non-finite result) is dropped, and its result carries CloudWatch's
//   `ArithmeticError` message. FILL fills every period of [StartTime, EndTime) at the query's Period, or
//   else its series'. An expression that does not parse, refers to an unknown id or to itself, or gives a
//   number rather than a series is a ValidationError naming the query; a CloudWatch function or operator
//   the simulation does not implement is InvalidParameterValue saying so. Expressions count toward the
//   500 queries, their returned datapoints toward MaxDatapoints; Label defaults to the Id.
// The SDK's own retries do not run (the client's `send` is mocked): a throttled call reaches the adapter as
// the SDK would surface it after its retries.

export const GET_METRIC_DATA_LIMITS = { maxQueries: 500, maxDatapoints: 100_800 } as const;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** A metric's identity: namespace, name and its full set of dimensions (order does not matter). */
export interface MetricIdentity {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
}

/** One sample a minute: the value at `minute` (epoch ms, a whole minute), or undefined when none was published. */
export type SampleSource = (minute: number) => number | undefined;

/** A GetMetricData request as the simulation saw it, with what it answered. */
export interface GetMetricDataCall {
  /** `timelineNow()` when it arrived. */
  at: number;
  queries: number;
  /** The datapoints this page returned. */
  datapoints: number;
  /** The distinct metrics asked for (namespace/name), for the tests to tell pods' queries from instances'. */
  metricNames: string[];
  /** A page after the first (it carried a NextToken). */
  continued: boolean;
  /** The error it was answered with, if any. */
  error?: string;
}

const identityKey = ({ namespace, metricName, dimensions }: MetricIdentity): string =>
  JSON.stringify([
    namespace,
    metricName,
    Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);

function serviceError(name: string, message: string, status = 400): Error {
  return new CloudWatchServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    message,
    $metadata: { httpStatusCode: status },
  });
}

/** Seconds CloudWatch keeps data of this period (high-resolution data: 3 hours). */
function retentionMs(periodSeconds: number): number {
  if (periodSeconds < 60) return 3 * 60 * MINUTE_MS;
  if (periodSeconds < 300) return 15 * DAY_MS;
  if (periodSeconds < 3600) return 63 * DAY_MS;
  return 455 * DAY_MS;
}

function statistic(stat: string, samples: number[]): number | undefined {
  if (samples.length === 0) return undefined;
  switch (stat) {
    case 'Average':
      return samples.reduce((sum, value) => sum + value, 0) / samples.length;
    case 'Maximum':
      return Math.max(...samples);
    case 'Minimum':
      return Math.min(...samples);
    case 'Sum':
      return samples.reduce((sum, value) => sum + value, 0);
    case 'SampleCount':
      return samples.length;
    default: {
      const percentile = /^p(\d{1,2}(?:\.\d+)?)$/.exec(stat);
      if (!percentile) throw serviceError('InvalidParameterValue', `The statistic ${stat} is not valid.`);
      const sorted = [...samples].sort((a, b) => a - b);
      const rank = Math.ceil((Number(percentile[1]) / 100) * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, rank))];
    }
  }
}

const VALID_ID = /^[a-z][a-zA-Z0-9_]*$/;

type MetricDataQuery = NonNullable<GetMetricDataCommandInput['MetricDataQueries']>[number];

/** The most characters an Expression may have (CloudWatch API reference, MetricDataQuery). */
const MAX_EXPRESSION_LENGTH = 2048;

const ARITHMETIC_ERROR = {
  Code: 'ArithmeticError',
  Value: 'One or more data-points have been dropped due to non-numeric values (NaN, -Infinite, +Infinite)',
} as const;

// --- Metric math ------------------------------------------------------------------------------------------

type Operator = '+' | '-' | '*' | '/' | '^';

type MathNode =
  | { type: 'number'; value: number }
  /** Another query's id (ids start with a lowercase letter). */
  | { type: 'id'; id: string }
  /** An uppercase word that is not a call: FILL's REPEAT and LINEAR. */
  | { type: 'keyword'; name: string }
  | { type: 'negate'; operand: MathNode }
  | { type: 'binary'; operator: Operator; left: MathNode; right: MathNode }
  | { type: 'call'; name: string; args: MathNode[] };

interface Token {
  kind: 'number' | 'id' | 'name' | 'symbol' | 'end';
  text: string;
  /** Where it starts in the expression (0-based). */
  at: number;
}

/** What CloudWatch answers for an expression it cannot accept. */
const expressionError = (id: string, detail: string): Error =>
  serviceError('ValidationError', `Error in expression ${id}: ${detail}`);

/** Valid metric math the simulation does not evaluate: said so, rather than answered wrongly. */
const notSimulated = (id: string, detail: string): Error =>
  serviceError(
    'InvalidParameterValue',
    `The simulated CloudWatch cannot evaluate expression ${id}: ${detail}. It implements + - * / ^, unary minus, parentheses, FILL(series, number) and ABS.`,
  );

function tokenize(expression: string, id: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < expression.length) {
    const rest = expression.slice(at);
    const char = rest[0] as string;
    if (/\s/.test(char)) {
      at += 1;
      continue;
    }
    const number = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(rest);
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0], at });
      at += number[0].length;
    } else if (word) {
      const text = word[0];
      if (text === 'AND' || text === 'OR') notSimulatedOperator(id, text);
      if (text.startsWith('_')) throw expressionError(id, `unexpected "${text}" at position ${at + 1}`);
      tokens.push({ kind: /^[a-z]/.test(text) ? 'id' : 'name', text, at });
      at += text.length;
    } else if ('+-*/^(),'.includes(char)) {
      tokens.push({ kind: 'symbol', text: char, at });
      at += 1;
    } else if ('<>=!&|'.includes(char)) {
      notSimulatedOperator(id, /^(?:<=|>=|==|!=|&&|\|\|)/.exec(rest)?.[0] ?? char);
    } else if (`"'[]`.includes(char)) {
      throw notSimulated(
        id,
        'strings and arrays of time series (SEARCH, METRICS, [a, b]) are not implemented',
      );
    } else {
      throw expressionError(id, `unexpected character "${char}" at position ${at + 1}`);
    }
  }
  tokens.push({ kind: 'end', text: '', at });
  return tokens;
}

function notSimulatedOperator(id: string, operator: string): never {
  throw notSimulated(id, `the comparison and logical operators (${operator}) are not implemented`);
}

/**
 * Parses an expression: sums of products of (negated) powers, a power's base a number, an id, a call or a
 * parenthesised expression. `^` binds tighter than unary minus and groups to the right, as in arithmetic.
 */
function parseExpression(expression: string, id: string): MathNode {
  const tokens = tokenize(expression, id);
  let position = 0;
  const peek = (): Token => tokens[position] as Token;
  const describe = (token: Token): string =>
    token.kind === 'end' ? 'the end of the expression' : `"${token.text}" at position ${token.at + 1}`;
  const isSymbol = (text: string): boolean => peek().kind === 'symbol' && peek().text === text;
  const expect = (text: string): void => {
    if (!isSymbol(text)) throw expressionError(id, `expected "${text}" but found ${describe(peek())}`);
    position += 1;
  };

  const sum = (): MathNode => {
    let node = product();
    while (isSymbol('+') || isSymbol('-')) {
      const operator = peek().text as Operator;
      position += 1;
      node = { type: 'binary', operator, left: node, right: product() };
    }
    return node;
  };
  const product = (): MathNode => {
    let node = unary();
    while (isSymbol('*') || isSymbol('/')) {
      const operator = peek().text as Operator;
      position += 1;
      node = { type: 'binary', operator, left: node, right: unary() };
    }
    return node;
  };
  const unary = (): MathNode => {
    if (isSymbol('-')) {
      position += 1;
      return { type: 'negate', operand: unary() };
    }
    return power();
  };
  const power = (): MathNode => {
    const base = primary();
    if (!isSymbol('^')) return base;
    position += 1;
    return { type: 'binary', operator: '^', left: base, right: unary() };
  };
  const primary = (): MathNode => {
    const token = peek();
    if (token.kind === 'number') {
      position += 1;
      return { type: 'number', value: Number(token.text) };
    }
    if (token.kind === 'id') {
      position += 1;
      return { type: 'id', id: token.text };
    }
    if (token.kind === 'name') {
      position += 1;
      if (!isSymbol('(')) return { type: 'keyword', name: token.text };
      position += 1;
      const args: MathNode[] = [];
      if (!isSymbol(')')) {
        args.push(sum());
        while (isSymbol(',')) {
          position += 1;
          args.push(sum());
        }
      }
      expect(')');
      return { type: 'call', name: token.text, args };
    }
    if (isSymbol('(')) {
      position += 1;
      const inner = sum();
      expect(')');
      return inner;
    }
    throw expressionError(id, `unexpected ${describe(token)}`);
  };

  const root = sum();
  if (peek().kind !== 'end') throw expressionError(id, `unexpected ${describe(peek())}`);
  return root;
}

/** The query ids an expression reads. */
function references(node: MathNode, into = new Set<string>()): Set<string> {
  switch (node.type) {
    case 'id':
      into.add(node.id);
      break;
    case 'negate':
      references(node.operand, into);
      break;
    case 'binary':
      references(node.left, into);
      references(node.right, into);
      break;
    case 'call':
      for (const arg of node.args) references(arg, into);
      break;
  }
  return into;
}

/** A time series as metric math sees it: a value per timestamp (ms), and the period its timestamps step by. */
interface Series {
  points: Map<number, number>;
  periodSeconds: number;
}

type MathValue = { kind: 'scalar'; value: number } | { kind: 'series'; series: Series };

interface MathContext {
  /** The expression query's id, for its errors. */
  id: string;
  /** The query's Period, if it gives one. */
  periodSeconds: number | undefined;
  /** The series of another query, already evaluated. */
  series(id: string): Series;
  /** The period starts of the request's time range at this period. */
  periodStarts(periodSeconds: number): number[];
  /** Set when a datapoint was dropped for a non-finite value. */
  dropped: boolean;
}

function arithmetic(operator: Operator, left: number, right: number): number {
  switch (operator) {
    case '+':
      return left + right;
    case '-':
      return left - right;
    case '*':
      return left * right;
    case '/':
      return left / right;
    case '^':
      return left ** right;
  }
}

/** A series of the given points, without those whose value is not a finite number (CloudWatch drops them). */
function finiteSeries(
  points: Iterable<[number, number]>,
  periodSeconds: number,
  context: MathContext,
): MathValue {
  const kept = new Map<number, number>();
  for (const [at, value] of points) {
    if (Number.isFinite(value)) kept.set(at, value);
    else context.dropped = true;
  }
  return { kind: 'series', series: { points: kept, periodSeconds } };
}

/** Applies `apply` to a number, or to each datapoint of a series. */
function pointwise(value: MathValue, apply: (x: number) => number, context: MathContext): MathValue {
  if (value.kind === 'scalar') return { kind: 'scalar', value: apply(value.value) };
  const { points, periodSeconds } = value.series;
  return finiteSeries(
    [...points].map(([at, x]) => [at, apply(x)]),
    periodSeconds,
    context,
  );
}

function evaluate(node: MathNode, context: MathContext): MathValue {
  switch (node.type) {
    case 'number':
      return { kind: 'scalar', value: node.value };
    case 'id':
      return { kind: 'series', series: context.series(node.id) };
    case 'keyword':
      throw expressionError(context.id, `unexpected ${node.name}`);
    case 'negate':
      return pointwise(evaluate(node.operand, context), (x) => -x, context);
    case 'binary': {
      const left = evaluate(node.left, context);
      const right = evaluate(node.right, context);
      const apply = (a: number, b: number) => arithmetic(node.operator, a, b);
      if (left.kind === 'scalar' && right.kind === 'scalar')
        return { kind: 'scalar', value: apply(left.value, right.value) };
      if (left.kind === 'scalar') return pointwise(right, (b) => apply(left.value, b), context);
      if (right.kind === 'scalar') return pointwise(left, (a) => apply(a, right.value), context);
      // Over the union of both series' timestamps, a missing value counting as 0.
      const timestamps = new Set([...left.series.points.keys(), ...right.series.points.keys()]);
      return finiteSeries(
        [...timestamps].map((at) => [
          at,
          apply(left.series.points.get(at) ?? 0, right.series.points.get(at) ?? 0),
        ]),
        Math.max(left.series.periodSeconds, right.series.periodSeconds),
        context,
      );
    }
    case 'call':
      return call(node.name, node.args, context);
  }
}

function call(name: string, args: MathNode[], context: MathContext): MathValue {
  const arity = (count: number) => {
    if (args.length !== count)
      throw expressionError(context.id, `${name} takes ${count} argument(s), not ${args.length}`);
  };
  switch (name) {
    case 'ABS':
      arity(1);
      return pointwise(evaluate(args[0] as MathNode, context), Math.abs, context);
    case 'FILL': {
      arity(2);
      const target = evaluate(args[0] as MathNode, context);
      if (target.kind !== 'series')
        throw expressionError(context.id, 'the first argument of FILL must be a time series');
      const filler = args[1] as MathNode;
      if (filler.type === 'keyword') {
        if (filler.name === 'REPEAT' || filler.name === 'LINEAR')
          throw notSimulated(context.id, `FILL with ${filler.name} is not implemented`);
        throw expressionError(context.id, `FILL does not take ${filler.name}`);
      }
      const value = evaluate(filler, context);
      if (value.kind !== 'scalar')
        throw expressionError(context.id, 'FILL of one time series takes a number, REPEAT or LINEAR');
      const { points, periodSeconds } = target.series;
      const filled = new Map(points);
      for (const at of context.periodStarts(context.periodSeconds ?? periodSeconds)) {
        if (!filled.has(at)) filled.set(at, value.value);
      }
      return finiteSeries(filled, periodSeconds, context);
    }
    default:
      throw notSimulated(context.id, `${name}() is not implemented (or is not a CloudWatch function)`);
  }
}

/**
 * The periods CloudWatch answers for [start, end) (ms): aligned to the epoch, from the first whole period at or
 * after StartTime to before EndTime, within the period's retention and not after now.
 */
function periodStarts(start: number, end: number, periodSeconds: number): number[] {
  const periodMs = periodSeconds * 1000;
  const now = Date.now();
  const kept = now - retentionMs(periodSeconds);
  const starts: number[] = [];
  for (let at = Math.ceil(start / periodMs) * periodMs; at < end; at += periodMs) {
    if (at >= kept && at <= now) starts.push(at);
  }
  return starts;
}

/**
 * The queries' ids in an order that evaluates every expression after the queries it reads; an unknown id or a
 * cycle is the ValidationError of the expression that has it.
 */
function evaluationOrder(ids: readonly string[], expressions: ReadonlyMap<string, MathNode>): string[] {
  const known = new Set(ids);
  const order: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (id: string): void => {
    if (done.has(id)) return;
    const expression = expressions.get(id);
    if (expression) {
      path.push(id);
      for (const input of references(expression)) {
        if (!known.has(input)) throw expressionError(id, `unknown id "${input}"`);
        if (path.includes(input))
          throw expressionError(
            id,
            `circular reference ${[...path.slice(path.indexOf(input)), input].join(' -> ')}`,
          );
        visit(input);
      }
      path.pop();
    }
    done.add(id);
    order.push(id);
  };
  for (const id of ids) visit(id);
  return order;
}

interface PreparedQuery {
  id: string;
  label: string;
  returnData: boolean;
  /** Timestamps (ms) with a datapoint, in ScanBy order, and their values. */
  timestamps: number[];
  values: number[];
  /** An expression dropped datapoints that were not finite numbers (division by zero). */
  dropped: boolean;
}

interface EvaluatedQuery {
  series: Series;
  dropped: boolean;
}

/** CloudWatch's series and GetMetricData; reset per scenario. */
export class SimulatedMetrics {
  private readonly series = new Map<string, { identity: MetricIdentity; source: SampleSource }>();
  /** Every GetMetricData request (every page is one), in order. */
  readonly calls: GetMetricDataCall[] = [];
  private throttles: Array<{ remaining: number; when?: (call: number) => boolean }> = [];

  /** Publishes a series: `source` gives the sample of each minute (undefined: nothing that minute). */
  put(identity: MetricIdentity, source: SampleSource): void {
    this.series.set(identityKey(identity), { identity: structuredClone(identity), source });
  }

  has(identity: MetricIdentity): boolean {
    return this.series.has(identityKey(identity));
  }

  /** Answers the next `times` GetMetricData calls with `Throttling` (HTTP 400, "Rate exceeded"). */
  throttle(times: number): void {
    this.throttles.push({ remaining: times });
  }

  /** Throttles the `callNumber`-th GetMetricData request from now on (1 = the next), once. */
  throttleCall(callNumber: number): void {
    const target = this.calls.length + callNumber;
    this.throttles.push({ remaining: 1, when: (call) => call === target });
  }

  /** Requests that returned data (not throttled, not refused), pages included. */
  get answeredCalls(): number {
    return this.calls.filter((call) => call.error === undefined).length;
  }

  get throttledCalls(): number {
    return this.calls.filter((call) => call.error === 'Throttling').length;
  }

  reset(): void {
    this.series.clear();
    this.calls.length = 0;
    this.throttles = [];
  }

  /** GetMetricData, as CloudWatch answers it (or throws). */
  getMetricData(input: GetMetricDataCommandInput): Omit<GetMetricDataCommandOutput, '$metadata'> {
    const queries = input.MetricDataQueries ?? [];
    const call: GetMetricDataCall = {
      at: timelineNow(),
      queries: queries.length,
      datapoints: 0,
      metricNames: [
        ...new Set(
          queries.map((query) =>
            query.MetricStat
              ? `${query.MetricStat.Metric?.Namespace}/${query.MetricStat.Metric?.MetricName}`
              : 'expression',
          ),
        ),
      ],
      continued: input.NextToken !== undefined,
    };
    this.calls.push(call);
    try {
      const number = this.calls.length;
      const throttle = this.throttles.find(
        (candidate) => candidate.remaining > 0 && (candidate.when?.(number) ?? true),
      );
      if (throttle) {
        throttle.remaining -= 1;
        throw serviceError('Throttling', 'Rate exceeded');
      }
      const answer = this.answer(input);
      call.datapoints = (answer.MetricDataResults ?? []).reduce(
        (sum, result) => sum + (result.Timestamps?.length ?? 0),
        0,
      );
      return answer;
    } catch (error) {
      call.error = (error as Error).name;
      throw error;
    }
  }

  private answer(input: GetMetricDataCommandInput): Omit<GetMetricDataCommandOutput, '$metadata'> {
    const queries = input.MetricDataQueries ?? [];
    if (queries.length === 0)
      throw serviceError(
        'ValidationError',
        "1 validation error detected: Value '[]' at 'metricDataQueries' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    if (queries.length > GET_METRIC_DATA_LIMITS.maxQueries)
      throw serviceError(
        'ValidationError',
        `1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: Member must have length less than or equal to ${GET_METRIC_DATA_LIMITS.maxQueries}`,
      );
    const maxDatapoints = input.MaxDatapoints ?? GET_METRIC_DATA_LIMITS.maxDatapoints;
    if (
      !Number.isInteger(maxDatapoints) ||
      maxDatapoints < 1 ||
      maxDatapoints > GET_METRIC_DATA_LIMITS.maxDatapoints
    )
      throw serviceError(
        'InvalidParameterValue',
        `The value ${maxDatapoints} for parameter MaxDatapoints is not valid: it must be between 1 and ${GET_METRIC_DATA_LIMITS.maxDatapoints}.`,
      );
    const start = input.StartTime ? new Date(input.StartTime).getTime() : Number.NaN;
    const end = input.EndTime ? new Date(input.EndTime).getTime() : Number.NaN;
    if (!Number.isFinite(start) || !Number.isFinite(end))
      throw serviceError('MissingParameter', 'The parameters StartTime and EndTime are required.');
    if (start >= end)
      throw serviceError(
        'ValidationError',
        'The parameter StartTime must be less than the parameter EndTime.',
      );
    const ids = new Set<string>();
    const expressions = new Map<string, MathNode>();
    for (const [index, query] of queries.entries()) {
      const id = query.Id ?? '';
      if (!VALID_ID.test(id))
        throw serviceError(
          'ValidationError',
          `The value ${id} for parameter MetricDataQueries.member.${index + 1}.Id is not valid: it must start with a lower-case letter and contain only letters, digits and underscores.`,
        );
      if (ids.has(id))
        throw serviceError(
          'ValidationError',
          `The values for parameter id in MetricDataQueries are not unique: ${id} is used twice.`,
        );
      ids.add(id);
      const member = `MetricDataQueries.member.${index + 1}`;
      if ((query.Expression === undefined) === (query.MetricStat === undefined))
        throw serviceError(
          'ValidationError',
          `Exactly one of MetricStat and Expression must be given in ${member} (${id}).`,
        );
      // A metric's period is its MetricStat's; an expression's Period is optional (its series' otherwise).
      const [field, period] =
        query.Expression === undefined
          ? ['MetricStat.Period', query.MetricStat?.Period ?? 0]
          : ['Period', query.Period];
      if (
        period !== undefined &&
        !([1, 5, 10, 20, 30].includes(period) || (period >= 60 && period % 60 === 0))
      )
        throw serviceError(
          'InvalidParameterValue',
          `The parameter ${member}.${field} must be 1, 5, 10, 20, 30, or any multiple of 60.`,
        );
      if (query.Expression !== undefined) {
        if (query.Expression.length < 1 || query.Expression.length > MAX_EXPRESSION_LENGTH)
          throw serviceError(
            'ValidationError',
            `1 validation error detected: Value at '${member}.expression' failed to satisfy constraint: Member must have length between 1 and ${MAX_EXPRESSION_LENGTH}`,
          );
        expressions.set(id, parseExpression(query.Expression, id));
      }
    }
    const order = evaluationOrder([...ids], expressions);

    const descending = (input.ScanBy ?? 'TimestampDescending') === 'TimestampDescending';
    const evaluated = this.evaluateQueries(queries, order, expressions, start, end);
    const prepared = queries.map((query): PreparedQuery => {
      const id = query.Id ?? '';
      const { series, dropped } = evaluated.get(id) as EvaluatedQuery;
      const timestamps = [...series.points.keys()].sort((a, b) => (descending ? b - a : a - b));
      return {
        id,
        label:
          query.Label ?? (query.Expression === undefined ? (query.MetricStat?.Metric?.MetricName ?? '') : id),
        returnData: query.ReturnData ?? true,
        timestamps,
        values: timestamps.map((at) => series.points.get(at) as number),
        dropped,
      };
    });
    const returned = prepared.filter((query) => query.returnData);
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([queries, start, end, input.ScanBy ?? '', maxDatapoints]))
      .digest('base64url')
      .slice(0, 16);

    let offset = 0;
    if (input.NextToken !== undefined) {
      const decoded = /^([\w-]{16}):(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
      if (!decoded || decoded[1] !== fingerprint)
        throw new InvalidNextToken({ message: 'The service returned an invalid NextToken.', $metadata: {} });
      offset = Number(decoded[2]);
    }

    // The page: datapoints [offset, offset + maxDatapoints) of the queries' series laid end to end.
    const total = returned.reduce((sum, query) => sum + query.timestamps.length, 0);
    const pageEnd = Math.min(total, offset + maxDatapoints);
    const results: MetricDataResult[] = [];
    let position = 0;
    for (const query of returned) {
      const from = Math.max(offset, position);
      const to = Math.min(pageEnd, position + query.timestamps.length);
      const last = pageEnd === total;
      if (to > from || (last && query.timestamps.length === 0)) {
        results.push({
          Id: query.id,
          Label: query.label,
          Timestamps: query.timestamps.slice(from - position, to - position).map((at) => new Date(at)),
          Values: query.values.slice(from - position, to - position),
          StatusCode: to < position + query.timestamps.length ? 'PartialData' : 'Complete',
          ...(query.dropped && { Messages: [ARITHMETIC_ERROR] }),
        });
      }
      position += query.timestamps.length;
    }
    return {
      MetricDataResults: results,
      Messages: [],
      ...(pageEnd < total && {
        NextToken: Buffer.from(`${fingerprint}:${pageEnd}`).toString('base64url'),
      }),
    };
  }

  /** Every query's series: metrics read from the store, expressions evaluated after what they read. */
  private evaluateQueries(
    queries: MetricDataQuery[],
    order: string[],
    expressions: ReadonlyMap<string, MathNode>,
    start: number,
    end: number,
  ): Map<string, EvaluatedQuery> {
    const byId = new Map(queries.map((query) => [query.Id ?? '', query]));
    const evaluated = new Map<string, EvaluatedQuery>();
    for (const id of order) {
      const query = byId.get(id) as MetricDataQuery;
      const expression = expressions.get(id);
      if (!expression) {
        evaluated.set(id, { series: this.metricSeries(query.MetricStat, start, end), dropped: false });
        continue;
      }
      const context: MathContext = {
        id,
        periodSeconds: query.Period,
        series: (input) => (evaluated.get(input) as EvaluatedQuery).series,
        periodStarts: (periodSeconds) => periodStarts(start, end, periodSeconds),
        dropped: false,
      };
      const value = evaluate(expression, context);
      if (value.kind !== 'series')
        throw expressionError(id, 'the expression must give a time series, not a single number');
      evaluated.set(id, { series: value.series, dropped: context.dropped });
    }
    return evaluated;
  }

  /** A metric's datapoints over [start, end): the statistic of each period with samples. */
  private metricSeries(stat: MetricDataQuery['MetricStat'], start: number, end: number): Series {
    const metric = stat?.Metric;
    const identity: MetricIdentity = {
      namespace: metric?.Namespace ?? '',
      metricName: metric?.MetricName ?? '',
      dimensions: Object.fromEntries((metric?.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? ''])),
    };
    const periodSeconds = stat?.Period ?? 60;
    const periodMs = periodSeconds * 1000;
    const found = this.series.get(identityKey(identity));
    const points = new Map<number, number>();
    if (found) {
      for (const at of periodStarts(start, end, periodSeconds)) {
        const samples: number[] = [];
        for (let minute = at; minute < at + periodMs; minute += MINUTE_MS) {
          const sample = found.source(minute);
          if (sample !== undefined) samples.push(sample);
        }
        const value = statistic(stat?.Stat ?? 'Average', samples);
        if (value !== undefined) points.set(at, value);
      }
    }
    return { points, periodSeconds };
  }
}
