// The conventions every runbook's ASL file keeps (docs: design.md, "Testing without an AWS account"). Each rule
// takes a parsed definition and answers the states that break it, nested Parallel branches and Map iterators
// included; test/conventions/asl.test.ts runs them over state-machines/*.asl.json and over broken examples.
import { notifySlackFunction } from '../../lambdas/notify/functions';

export interface Retrier {
  ErrorEquals: string[];
}

export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

export interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next?: string }[];
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Retry?: Retrier[];
  Catch?: Catcher[];
  Branches?: Definition[];
  /** Map, before ItemProcessor replaced it. */
  Iterator?: Definition;
  ItemProcessor?: Definition;
  QueryLanguage?: string;
}

export interface Definition {
  StartAt: string;
  States: Record<string, State>;
  QueryLanguage?: string;
}

export interface Violation {
  state: string;
  problem: string;
}

/** A violation as a line of a failure message. */
export const describeViolation = ({ state, problem }: Violation): string => `${state}: ${problem}`;

/** The definition and every Parallel branch and Map iterator in it, outermost first. */
export function scopes(definition: Definition): Definition[] {
  return [
    definition,
    ...Object.values(definition.States).flatMap((state) =>
      [
        ...(state.Branches ?? []),
        ...(state.Iterator ? [state.Iterator] : []),
        ...(state.ItemProcessor ? [state.ItemProcessor] : []),
      ].flatMap(scopes),
    ),
  ];
}

/** Every state of the definition, nested ones included, with its name. */
export function allStates(definition: Definition): { name: string; state: State }[] {
  return scopes(definition).flatMap((scope) =>
    Object.entries(scope.States).map(([name, state]) => ({ name, state })),
  );
}

// Rule 1 --------------------------------------------------------------------------------------------------

/**
 * What Step Functions' own guidance retries on every Lambda Task (design.md: fromFile adds no retry block),
 * `Lambda.ClientExecutionTimeoutException` included: the invoke timed out on the way, the function may not
 * have run.
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
] as const;

const substitutionKey = (value: unknown): string | undefined =>
  typeof value === 'string' ? /^\$\{(\w+)\}(?::[\w$]+)?$/.exec(value)?.[1] : undefined;

/**
 * The substitution key of the function a Lambda Task calls (`${PrepareFunctionArn}`, or the `FunctionName`
 * of `lambda:invoke`); `null` for a Lambda Task whose function is not a substitution; `undefined` for any
 * other state.
 */
export function lambdaFunctionKey(state: State): string | null | undefined {
  if (state.Type !== 'Task' || state.Resource === undefined) return undefined;
  const direct = substitutionKey(state.Resource);
  if (direct !== undefined && direct.endsWith('FunctionArn')) return direct;
  if (state.Resource.startsWith('arn:aws:states:::lambda:invoke')) {
    return substitutionKey(state.Parameters?.FunctionName) ?? null;
  }
  return undefined;
}

const sameNames = (names: readonly string[], expected: readonly string[]): boolean =>
  names.length === expected.length && expected.every((name) => names.includes(name));

/**
 * Every Lambda Task retries on exactly the Lambda service errors (one retrier naming those, nothing else)
 * and has a `TimeoutSeconds` above its function's timeout: at equal values the state can time out first,
 * and a function that is still running is retried beside itself. `timeouts` maps each function's
 * substitution key to its timeout in seconds.
 */
export function lambdaTaskRule(definition: Definition, timeouts: ReadonlyMap<string, number>): Violation[] {
  return allStates(definition).flatMap(({ name, state }) => {
    const key = lambdaFunctionKey(state);
    if (key === undefined) return [];
    const problems: string[] = [];
    if (!state.Retry?.some((retrier) => sameNames(retrier.ErrorEquals, LAMBDA_SERVICE_ERRORS))) {
      problems.push(`has no Retry on exactly ${LAMBDA_SERVICE_ERRORS.join(', ')}`);
    }
    const timeout = key === null ? undefined : timeouts.get(key);
    // A callback Task waits for its token, not for the function: its timeout is the wait (an approval's), which
    // may come from the state (TimeoutSecondsPath); without one it would wait up to a year.
    const callback = state.Resource?.endsWith('.waitForTaskToken') ?? false;
    if (key === null)
      problems.push('calls a function that is not a ${…} substitution: its timeout is unknown');
    else if (timeout === undefined) problems.push(`calls \${${key}}, which no function table names`);
    else if (callback && state.TimeoutSeconds === undefined) {
      if (state.TimeoutSecondsPath === undefined) {
        problems.push('waits for a task token with neither TimeoutSeconds nor TimeoutSecondsPath');
      }
    } else if (state.TimeoutSeconds === undefined) {
      problems.push(`has no TimeoutSeconds (the function's timeout is ${timeout} s)`);
    } else if (state.TimeoutSeconds <= timeout) {
      problems.push(
        `has TimeoutSeconds ${state.TimeoutSeconds}, not above the function's timeout of ${timeout} s`,
      );
    }
    return problems.map((problem) => ({ state: name, problem }));
  });
}

// Rule 2 --------------------------------------------------------------------------------------------------

/** A notification (the Slack notifier) or a lifecycle event (EventBridge PutEvents): it must not fail a run. */
export function isBestEffort(state: State): boolean {
  if (state.Type !== 'Task') return false;
  return (
    lambdaFunctionKey(state) === notifySlackFunction.substitution ||
    (state.Resource?.startsWith('arn:aws:states:::events:putEvents') ?? false)
  );
}

/**
 * Every best-effort task catches `States.ALL` into its own `Next`, keeping the error beside the state
 * (a `ResultPath` that is not `$`; a Catch without one replaces the whole state with the error).
 */
export function bestEffortRule(definition: Definition): Violation[] {
  return allStates(definition).flatMap(({ name, state }) => {
    if (!isBestEffort(state)) return [];
    const problem = (text: string): Violation[] => [{ state: name, problem: text }];
    if (state.Next === undefined) return problem('has no Next for its States.ALL Catch to continue to');
    const catcher = state.Catch?.find((candidate) => candidate.ErrorEquals.includes('States.ALL'));
    if (!catcher) return problem('has no Catch on States.ALL');
    return [
      ...(catcher.Next === state.Next
        ? []
        : problem(`catches States.ALL into ${catcher.Next}, not into its own Next ${state.Next}`)),
      ...(!('ResultPath' in catcher)
        ? problem('catches States.ALL without a ResultPath: the error would replace the state')
        : catcher.ResultPath === '$'
          ? problem('catches States.ALL with ResultPath "$": the error would replace the state')
          : []),
    ];
  });
}

// Rule 3 --------------------------------------------------------------------------------------------------

/** The attribute names an UpdateExpression's REMOVE clause names, `#aliases` resolved. */
export function removedAttributes(updateExpression: string, names: Record<string, unknown> = {}): string[] {
  const clauses = updateExpression.split(/\b(?=(?:SET|REMOVE|ADD|DELETE)\b)/i);
  return clauses
    .filter((clause) => /^REMOVE\b/i.test(clause.trim()))
    .flatMap((clause) =>
      clause
        .trim()
        .replace(/^REMOVE\b/i, '')
        .split(','),
    )
    .map((attribute) => attribute.trim())
    .map((attribute) => {
      const alias = names[attribute];
      return attribute.startsWith('#') && typeof alias === 'string' ? alias : attribute;
    });
}

/** A `dynamodb:updateItem` Task (optimised or SDK integration) that REMOVEs the lock's `holder`. */
export function isLockRelease(state: State): boolean {
  if (state.Type !== 'Task') return false;
  if (!/^arn:aws:states:::(?:aws-sdk:)?dynamodb:updateItem$/.test(state.Resource ?? '')) return false;
  const expression = state.Parameters?.UpdateExpression;
  if (typeof expression !== 'string') return false;
  const names = state.Parameters?.ExpressionAttributeNames;
  return removedAttributes(
    expression,
    typeof names === 'object' && names !== null ? (names as Record<string, unknown>) : {},
  ).includes('holder');
}

/**
 * Every lock release is conditional on this execution holding the lock: `holderExecution = :me` with `:me`
 * the execution's id, so a run never releases a lock another run (a canary) has taken since.
 */
export function lockReleaseRule(definition: Definition): Violation[] {
  return allStates(definition).flatMap(({ name, state }) => {
    if (!isLockRelease(state)) return [];
    const problems: string[] = [];
    const condition = state.Parameters?.ConditionExpression;
    const normalised = typeof condition === 'string' ? condition.trim().replace(/\s+/g, ' ') : undefined;
    if (normalised !== 'holderExecution = :me') {
      problems.push(
        `releases the lock with ConditionExpression ${JSON.stringify(condition ?? null)}, not "holderExecution = :me"`,
      );
    }
    const values = state.Parameters?.ExpressionAttributeValues as Record<string, unknown> | undefined;
    const me = values?.[':me'] as Record<string, unknown> | undefined;
    if (!me || Object.keys(me).length !== 1 || me['S.$'] !== '$$.Execution.Id') {
      problems.push(`binds :me to ${JSON.stringify(me ?? null)}, not {"S.$": "$$.Execution.Id"}`);
    }
    return problems.map((problem) => ({ state: name, problem }));
  });
}

// Rule 4 --------------------------------------------------------------------------------------------------

/** The States.* error names Step Functions defines (Amazon States Language and the developer guide). */
export const STATES_ERRORS = new Set([
  'States.ALL',
  'States.BranchFailed',
  'States.DataLimitExceeded',
  'States.ExceedToleratedFailureThreshold',
  'States.HeartbeatTimeout',
  'States.Http.Socket',
  'States.IntrinsicFailure',
  'States.ItemReaderFailed',
  'States.NoChoiceMatched',
  'States.ParameterPathFailure',
  'States.Permissions',
  'States.QueryEvaluationError',
  'States.ResultPathMatchFailure',
  'States.ResultWriterFailed',
  'States.Runtime',
  'States.TaskFailed',
  'States.Timeout',
]);

/** `Lambda.ServiceException`, `DynamoDB.ConditionalCheckFailedException`…: a service's error, by its prefix. */
const serviceError = /^[A-Z][A-Za-z0-9]*\.[A-Za-z]/;

/**
 * Every name a Retry or Catch matches on is a Step Functions name (a `States.*` one it defines, or a
 * service's `Prefix.Name`) or the name of an exported RunbookError subclass (`errorNames`).
 */
export function errorNamesRule(definition: Definition, errorNames: ReadonlySet<string>): Violation[] {
  return allStates(definition).flatMap(({ name, state }) =>
    (['Retry', 'Catch'] as const).flatMap((field) =>
      (state[field] ?? []).flatMap((entry, index) =>
        entry.ErrorEquals.filter((error) =>
          error.startsWith('States.')
            ? !STATES_ERRORS.has(error)
            : !serviceError.test(error) && !errorNames.has(error),
        ).map((error) => ({
          state: name,
          problem: `${field}[${index}] matches "${error}", which is neither a Step Functions error nor an exported RunbookError subclass`,
        })),
      ),
    ),
  );
}

// Rule 5 --------------------------------------------------------------------------------------------------

/** The states a state can go to next: Next, Default, Choices[].Next, Catch[].Next. */
export function transitions(state: State): string[] {
  return [
    ...(state.Next === undefined ? [] : [state.Next]),
    ...(state.Default === undefined ? [] : [state.Default]),
    ...(state.Choices ?? []).flatMap((choice) => (choice.Next === undefined ? [] : [choice.Next])),
    ...(state.Catch ?? []).map((catcher) => catcher.Next),
  ];
}

/**
 * Every transition (and StartAt) names a state of its own scope, and every state is reachable from StartAt;
 * each Parallel branch and Map iterator is a scope of its own.
 */
export function reachabilityRule(definition: Definition): Violation[] {
  return scopes(definition).flatMap((scope) => {
    const violations: Violation[] = [];
    const exists = (target: string) => Object.hasOwn(scope.States, target);
    if (!exists(scope.StartAt)) {
      violations.push({ state: scope.StartAt, problem: 'is the StartAt of a scope that has no such state' });
    }
    for (const [name, state] of Object.entries(scope.States)) {
      for (const target of transitions(state).filter((target) => !exists(target))) {
        violations.push({ state: name, problem: `goes to ${target}, which does not exist in its scope` });
      }
    }
    const reached = new Set<string>();
    const queue = exists(scope.StartAt) ? [scope.StartAt] : [];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (reached.has(next)) continue;
      reached.add(next);
      queue.push(...transitions(scope.States[next] as State).filter(exists));
    }
    for (const name of Object.keys(scope.States).filter((name) => !reached.has(name))) {
      violations.push({ state: name, problem: `is unreachable from StartAt ${scope.StartAt}` });
    }
    return violations;
  });
}

// Rule 6 --------------------------------------------------------------------------------------------------

/**
 * No `QueryLanguage: JSONata`, at the top, in a scope or in a state: aws-local-stepfunctions ignores it
 * silently, so the workflow tests would not run what deploys.
 */
export function noJsonataRule(definition: Definition): Violation[] {
  const violations: Violation[] = [];
  const visit = (node: unknown, owner: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, owner);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    if (typeof record.QueryLanguage === 'string' && record.QueryLanguage.toLowerCase() === 'jsonata') {
      violations.push({ state: owner, problem: `sets QueryLanguage ${record.QueryLanguage}` });
    }
    for (const [key, value] of Object.entries(record)) {
      if (key === 'States' && typeof value === 'object' && value !== null) {
        for (const [name, state] of Object.entries(value)) visit(state, name);
      } else {
        visit(value, owner);
      }
    }
  };
  visit(definition, '(state machine)');
  return violations;
}
