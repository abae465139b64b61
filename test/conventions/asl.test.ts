import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultFunctionTimeout } from '../../lib/runbook-function';
import { notifierTimeout } from '../../lib/slack-notifier';
import { notifySlackFunction } from '../../lambdas/notify/functions';
import type { RunbookFunctionEntry } from '../../lambdas/shared/function-table';
import {
  bestEffortRule,
  describeViolation,
  LAMBDA_SERVICE_ERRORS,
  errorNamesRule,
  lambdaTaskRule,
  lockReleaseRule,
  noJsonataRule,
  reachabilityRule,
  type Definition,
  type State,
  type Violation,
} from './asl-rules';
import { loadFunctionEntries, loadRunbookErrors, repoRoot } from './project';

/**
 * A function's timeout as its construct sets it: the notifier's own (SlackNotifier), every other one its
 * function table entry's, else RunbookFunction's default (no runbook construct passes another).
 */
const timeoutSeconds = (entry: RunbookFunctionEntry): number =>
  entry.substitution === notifySlackFunction.substitution
    ? notifierTimeout.toSeconds()
    : (entry.timeoutSeconds ?? defaultFunctionTimeout.toSeconds());

const stateMachines = join(repoRoot, 'state-machines');
const aslFiles = readdirSync(stateMachines)
  .filter((file) => file.endsWith('.asl.json'))
  .sort();

const lines = (violations: Violation[]): string[] => violations.map(describeViolation);

let timeouts: Map<string, number>;
let errorNames: Set<string>;
beforeAll(async () => {
  const [entries, errors] = await Promise.all([loadFunctionEntries(), loadRunbookErrors()]);
  timeouts = new Map(entries.map((entry) => [entry.substitution, timeoutSeconds(entry)]));
  errorNames = new Set(errors.map((error) => error.name));
});

it('finds the ASL files in state-machines/', () => {
  expect(aslFiles).toContain('rollback.asl.json');
});

describe.each(aslFiles)('state-machines/%s', (file) => {
  // Read per test, so a file that does not parse fails its tests rather than the collection of all of them.
  const definition = (): Definition =>
    JSON.parse(readFileSync(join(stateMachines, file), 'utf8')) as Definition;

  it('retries every Lambda Task on the Lambda service errors and gives it at least its function timeout', () => {
    expect(lines(lambdaTaskRule(definition(), timeouts))).toEqual([]);
  });

  it('catches every notification and lifecycle event into its own Next, keeping the state', () => {
    expect(lines(bestEffortRule(definition()))).toEqual([]);
  });

  it('releases the workload lock only while this execution holds it', () => {
    expect(lines(lockReleaseRule(definition()))).toEqual([]);
  });

  it('retries and catches only Step Functions errors and exported RunbookError names', () => {
    expect(lines(errorNamesRule(definition(), errorNames))).toEqual([]);
  });

  it('reaches every state from StartAt and goes only to states that exist', () => {
    expect(lines(reachabilityRule(definition()))).toEqual([]);
  });

  it('uses JSONPath only, no JSONata', () => {
    expect(lines(noJsonataRule(definition()))).toEqual([]);
  });
});

// The rules can fail: each reports a small definition that breaks it, nested states included. ---------------

const machine = (States: Record<string, State>): Definition => ({
  StartAt: Object.keys(States)[0] as string,
  States,
});
const succeed: State = { Type: 'Succeed' };
const lambdaTask = (substitution: string, fields: Partial<State> = {}): State => ({
  Type: 'Task',
  Resource: `\${${substitution}}`,
  TimeoutSeconds: 45,
  Retry: [{ ErrorEquals: [...LAMBDA_SERVICE_ERRORS] }],
  Next: 'Done',
  ...fields,
});
/** A PutEvents Task that catches States.ALL into its own Next unless `fields` say otherwise. */
const publish = (fields: Partial<State> = {}): State => {
  const next = fields.Next ?? 'Done';
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::events:putEvents',
    Next: next,
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.publishError', Next: next }],
    ...fields,
  };
};
const release = (parameters: Record<string, unknown>): State => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::dynamodb:updateItem',
  Parameters: {
    TableName: '${LockTableName}',
    Key: { workload: { 'S.$': '$.run.lock.key' } },
    UpdateExpression: 'REMOVE holder, holderExecution, holderEventId, lockExpiresAt',
    ConditionExpression: 'holderExecution = :me',
    ExpressionAttributeValues: { ':me': { 'S.$': '$$.Execution.Id' } },
    ...parameters,
  },
  Next: 'Done',
});

describe('rule 1, standard Lambda retries and timeouts', () => {
  const knownTimeouts = new Map([
    ['PrepareFunctionArn', 30],
    ['NotifySlackFunctionArn', 40],
  ]);

  it('reports a Lambda Task without the exact retry, with too short or no timeout, or an unknown function', () => {
    const definition = machine({
      Good: lambdaTask('PrepareFunctionArn', { TimeoutSeconds: 35, Next: 'Equal' }),
      Equal: lambdaTask('PrepareFunctionArn', { TimeoutSeconds: 30, Next: 'Branches' }),
      Branches: {
        Type: 'Parallel',
        Next: 'Done',
        Branches: [
          machine({
            PartialRetry: lambdaTask('PrepareFunctionArn', {
              Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.SdkClientException'] }],
            }),
            ShortTimeout: lambdaTask('NotifySlackFunctionArn', { TimeoutSeconds: 30 }),
            Done: succeed,
          }),
          machine({
            NoTimeout: { ...lambdaTask('PrepareFunctionArn'), TimeoutSeconds: undefined },
            Unknown: lambdaTask('MissingFunctionArn'),
            Invoke: {
              ...lambdaTask('unused', { Retry: [] }),
              Resource: 'arn:aws:states:::lambda:invoke',
              Parameters: { FunctionName: '${NotifySlackFunctionArn}' },
            },
            // A callback Task's timeout is its wait: a path is fine, none is not.
            CallbackWithPath: {
              ...lambdaTask('unused'),
              TimeoutSeconds: undefined,
              TimeoutSecondsPath: '$.run.approvalTimeoutSeconds',
              Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
              Parameters: { FunctionName: '${PrepareFunctionArn}' },
            },
            CallbackForever: {
              ...lambdaTask('unused'),
              TimeoutSeconds: undefined,
              Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
              Parameters: { FunctionName: '${PrepareFunctionArn}' },
            },
            Done: succeed,
          }),
        ],
      },
      Done: succeed,
    });
    expect(lines(lambdaTaskRule(definition, knownTimeouts))).toEqual([
      "Equal: has TimeoutSeconds 30, not above the function's timeout of 30 s",
      `PartialRetry: has no Retry on exactly ${LAMBDA_SERVICE_ERRORS.join(', ')}`,
      "ShortTimeout: has TimeoutSeconds 30, not above the function's timeout of 40 s",
      "NoTimeout: has no TimeoutSeconds (the function's timeout is 30 s)",
      'Unknown: calls ${MissingFunctionArn}, which no function table names',
      `Invoke: has no Retry on exactly ${LAMBDA_SERVICE_ERRORS.join(', ')}`,
      'CallbackForever: waits for a task token with neither TimeoutSeconds nor TimeoutSecondsPath',
    ]);
  });
});

describe('rule 2, best-effort notifications and lifecycle events', () => {
  it('reports a catch into another state, one that replaces the state, and a missing one, nested too', () => {
    const definition = machine({
      Good: publish({ Next: 'Notify' }),
      Notify: lambdaTask('NotifySlackFunctionArn', {
        Next: 'Items',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.notificationError', Next: 'Done' }],
      }),
      Items: {
        Type: 'Map',
        Next: 'Done',
        ItemProcessor: machine({
          Overwrites: publish({
            Next: 'Unnamed',
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$', Next: 'Unnamed' }],
          }),
          Unnamed: publish({ Next: 'Uncaught', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Uncaught' }] }),
          Uncaught: publish({
            Catch: [{ ErrorEquals: ['States.TaskFailed'], ResultPath: null, Next: 'Done' }],
          }),
          Done: succeed,
        }),
      },
      Done: succeed,
    });
    expect(lines(bestEffortRule(definition))).toEqual([
      'Notify: catches States.ALL into Done, not into its own Next Items',
      'Overwrites: catches States.ALL with ResultPath "$": the error would replace the state',
      'Unnamed: catches States.ALL without a ResultPath: the error would replace the state',
      'Uncaught: has no Catch on States.ALL',
    ]);
  });
});

describe('rule 3, conditional lock release', () => {
  it('reports a release without the holder condition or with :me bound to anything but the execution id', () => {
    const definition = machine({
      Good: release({}),
      Unconditional: release({ ConditionExpression: undefined }),
      OtherExecution: release({ ExpressionAttributeValues: { ':me': { 'S.$': '$.run.execution.id' } } }),
      ThroughAlias: release({
        UpdateExpression: 'SET released = :true REMOVE #holder',
        ExpressionAttributeNames: { '#holder': 'holder' },
        ConditionExpression: 'attribute_exists(holder)',
      }),
      NotARelease: release({ UpdateExpression: 'REMOVE holderEventId', ConditionExpression: undefined }),
      Done: succeed,
    });
    expect(lines(lockReleaseRule(definition))).toEqual([
      'Unconditional: releases the lock with ConditionExpression null, not "holderExecution = :me"',
      'OtherExecution: binds :me to {"S.$":"$.run.execution.id"}, not {"S.$": "$$.Execution.Id"}',
      'ThroughAlias: releases the lock with ConditionExpression "attribute_exists(holder)", not "holderExecution = :me"',
    ]);
  });
});

describe('rule 4, error names', () => {
  it('reports a name that is no RunbookError subclass and an unknown States.* name', () => {
    const definition = machine({
      Good: lambdaTask('PrepareFunctionArn', {
        Retry: [
          { ErrorEquals: [...LAMBDA_SERVICE_ERRORS] },
          { ErrorEquals: ['KubernetesTimeout', 'DynamoDB.ThrottlingException'] },
        ],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Done' }],
      }),
      Typos: lambdaTask('PrepareFunctionArn', {
        Retry: [{ ErrorEquals: ['States.Timout'] }],
        Catch: [
          { ErrorEquals: ['RollbakConflict'], ResultPath: '$.error', Next: 'Done' },
          { ErrorEquals: ['Error'], ResultPath: '$.error', Next: 'Done' },
        ],
      }),
      Done: succeed,
    });
    const known = new Set(['KubernetesTimeout', 'RollbackConflict']);
    const neither = 'which is neither a Step Functions error nor an exported RunbookError subclass';
    expect(lines(errorNamesRule(definition, known))).toEqual([
      `Typos: Retry[0] matches "States.Timout", ${neither}`,
      `Typos: Catch[0] matches "RollbakConflict", ${neither}`,
      `Typos: Catch[1] matches "Error", ${neither}`,
    ]);
  });
});

describe('rule 5, reachability', () => {
  it('reports missing targets and unreachable states, in branches too; a Catch target is reachable', () => {
    const definition = machine({
      Start: { Type: 'Pass', Next: 'Fork' },
      Fork: {
        Type: 'Parallel',
        Next: 'Route',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Recover' }],
        Branches: [machine({ Inner: { Type: 'Pass', End: true }, InnerOrphan: { Type: 'Pass', End: true } })],
      },
      Route: {
        Type: 'Choice',
        Choices: [{ Next: 'Done' }, { Next: 'Nowhere' }],
        Default: 'Elsewhere',
      },
      Recover: { Type: 'Pass', Next: 'Done' },
      Orphan: { Type: 'Pass', Next: 'Done' },
      Done: succeed,
    });
    expect(lines(reachabilityRule(definition))).toEqual([
      'Route: goes to Elsewhere, which does not exist in its scope',
      'Route: goes to Nowhere, which does not exist in its scope',
      'Orphan: is unreachable from StartAt Start',
      'InnerOrphan: is unreachable from StartAt Inner',
    ]);
  });
});

describe('rule 6, JSONPath only', () => {
  it('reports QueryLanguage JSONata on the state machine and on a state in a Map iterator', () => {
    const definition: Definition = {
      ...machine({
        Items: {
          Type: 'Map',
          End: true,
          Iterator: machine({ Item: { Type: 'Pass', QueryLanguage: 'JSONata', End: true } }),
        },
      }),
      QueryLanguage: 'JSONata',
    };
    expect(lines(noJsonataRule(definition))).toEqual([
      '(state machine): sets QueryLanguage JSONata',
      'Item: sets QueryLanguage JSONata',
    ]);
  });
});
