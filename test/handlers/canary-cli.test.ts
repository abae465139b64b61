import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  abortCommand,
  answerCommand,
  main,
  startCommand,
  statusCommand,
  workloadOf,
  type CliContext,
  type CliOutput,
} from '../../bin/canary';
import { InvalidCanaryRequest } from '../../lambdas/canary/request';
import type { CanaryStatus } from '../../lambdas/canary/status';
import { CanaryLock } from '../../lambdas/workload-lock/canary-lock';
import { loadConfig } from '../../lib/config/load';
import { repoRoot } from '../conventions/project';
import { startLockTable } from '../harness/lock-table';

// The CLI's commands called as functions: the lock on dynalite, EventBridge and Step Functions mocked. One
// smoke test runs the script itself.
const TABLE = 'locks';
const CONFIG = 'lib/config/example.yaml';
const RUN = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:release-42';
const NOW = new Date('2026-11-22T03:16:48Z');
const COMMIT = '3f2c1a9e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout-api:1.42.0';

const config = loadConfig(CONFIG);
const services = Object.fromEntries(
  (config.canary?.services ?? []).map((service) => [service.name, service]),
);
const checkout = services.checkout;
if (checkout === undefined) throw new Error(`${CONFIG} no longer configures the checkout canary`);
const KEY = workloadOf(checkout);

let table: Awaited<ReturnType<typeof startLockTable>>;
let lock: CanaryLock;
const sfnClient = new SFNClient({ region: 'eu-west-1' });
const sfn = mockClient(sfnClient);
const eventsClient = new EventBridgeClient({ region: 'eu-west-1' });
const events = mockClient(eventsClient);

/** What a command printed, to stdout and stderr. */
let printed: { out: string[]; err: string[] };
const output: CliOutput = {
  out: (text) => printed.out.push(text),
  err: (text) => printed.err.push(text),
  colour: false,
};
const context: CliContext = { services, user: 'ana', now: () => NOW, output };
const out = () => printed.out.join('\n');
const err = () => printed.err.join('\n');

beforeAll(async () => {
  table = await startLockTable(TABLE);
  lock = new CanaryLock(table.dynamodb, TABLE);
});
afterAll(() => table.close());
beforeEach(async () => {
  printed = { out: [], err: [] };
  await table.dynamodb.send(new DeleteItemCommand({ TableName: TABLE, Key: { workload: { S: KEY } } }));
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  events.reset();
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });
});

/** checkout's run holding the lock, at its second step; waiting for approval when asked. */
async function running({ awaitingApproval = false } = {}): Promise<void> {
  await lock.acquire({
    workload: KEY,
    executionArn: RUN,
    eventId: 'event-42',
    service: 'checkout',
    now: NOW,
    lockTtlSeconds: 7_200,
    holderIsRunning: () => Promise.resolve(true),
  });
  await lock.writeStatus(KEY, RUN, status());
  if (awaitingApproval) {
    await lock.recordApprovalRequest(KEY, RUN, {
      token: 'token-42',
      kind: 'promotion',
      requestedAt: '2026-11-22T03:10:00.000Z',
      timeoutAt: '2026-11-22T04:10:00.000Z',
    });
  }
}

const status = (overrides: Partial<CanaryStatus> = {}): CanaryStatus => ({
  service: 'checkout',
  runId: 'release-42',
  executionArn: RUN,
  phase: 'analysing',
  steps: [5, 20, 50, 100],
  stepIndex: 1,
  weight: 20,
  failures: 0,
  threshold: 2,
  intervalSeconds: 300,
  nextAnalysisAt: '2026-11-22T03:20:00.000Z',
  updatedAt: '2026-11-22T03:16:00.000Z',
  requestedBy: 'github-actions:acme/checkout',
  reference: COMMIT,
  canaryImages: [IMAGE],
  stableImages: ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout-api:1.41.0'],
  checks: [],
  ...overrides,
});

describe('npm run canary -- start', () => {
  it('puts a CanaryRequested event from the CLI, with who ran it and the requested interval', async () => {
    const code = await startCommand(
      context,
      { events: eventsClient, busName: 'platform-runbooks-prod' },
      'checkout',
      {
        image: IMAGE,
        reference: COMMIT,
        container: 'api',
        intervalMinutes: 10,
      },
    );

    expect(code).toBe(0);
    const [call, ...more] = events.commandCalls(PutEventsCommand);
    expect(more).toHaveLength(0);
    const [entry] = call?.args[0].input.Entries ?? [];
    expect(entry).toMatchObject({
      EventBusName: 'platform-runbooks-prod',
      Source: 'platform-runbooks.cli',
      DetailType: 'CanaryRequested',
    });
    expect(JSON.parse(entry?.Detail ?? '')).toEqual({
      service: 'checkout',
      image: IMAGE,
      container: 'api',
      requestedBy: 'cli:ana',
      reference: COMMIT,
      overrides: { intervalMinutes: 10 },
    });
    expect(out()).toContain('(event event-1)');
  });

  it('refuses a malformed request before anything is sent, naming the field', async () => {
    const start = (image: string, intervalMinutes?: number) =>
      startCommand(context, { events: eventsClient, busName: 'bus' }, 'checkout', {
        image,
        reference: COMMIT,
        ...(intervalMinutes === undefined ? {} : { intervalMinutes }),
      });
    await expect(start('registry.example.com/checkout-api:latest')).rejects.toThrow(
      /detail\.image: must not be :latest/,
    );
    // checkout's p99 check runs a U test, which 3 values a side can never fail.
    await expect(start(IMAGE, 3)).rejects.toThrow(InvalidCanaryRequest);
    await expect(start(IMAGE, 3)).rejects.toThrow(/detail\.overrides\.intervalMinutes: check "p99-latency"/);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('fails when EventBridge refuses the entry, although PutEvents answered', async () => {
    events.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [
        { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' },
      ],
    });
    const code = await startCommand(context, { events: eventsClient, busName: 'bus' }, 'checkout', {
      image: IMAGE,
      reference: COMMIT,
    });
    expect(code).toBe(1);
    expect(err()).toBe(
      'CanaryRequested was not put on bus: NotAuthorizedForSourceException (Not authorized for the source.)',
    );
  });
});

describe('npm run canary -- status', () => {
  it('prints the run as formatStatus shows it, after what the lock says: an approval waiting', async () => {
    await running({ awaitingApproval: true });
    expect(await statusCommand(context, { lock }, 'checkout')).toBe(0);
    expect(printed.out[0]).toBe(
      'Waiting for approval (promotion) for 53m12s more, until 2026-11-22T04:10:00.000Z: npm run canary -- approve checkout | reject checkout',
    );
    expect(out()).toContain('Name:           checkout');
    expect(out()).toContain('  ● step 2  20 %  ← current');
    expect(out()).toContain('Next analysis:  in 3m12s');
  });

  it('says so when no canary of the service has run', async () => {
    expect(await statusCommand(context, { lock }, 'checkout')).toBe(0);
    expect(out()).toBe(`No canary of checkout has run (on ${KEY}).`);
  });

  it("shows the last run's outcome after the release", async () => {
    await running();
    const outcome = {
      kind: 'promoted' as const,
      reason: 'every step passed',
      at: '2026-11-22T03:40:00.000Z',
    };
    await lock.writeStatus(KEY, RUN, status({ phase: 'promoted', stepIndex: 3, weight: 0, outcome }));
    await lock.release(KEY, RUN);
    expect(await statusCommand(context, { lock }, 'checkout')).toBe(0);
    expect(printed.out[0]).toMatch(/^Name: {11}checkout$/m);
    expect(out()).toContain('Outcome:        promoted at 2026-11-22T03:40:00.000Z: every step passed');
  });

  it('says a run is starting while it holds the lock without a status yet', async () => {
    await lock.acquire({
      workload: KEY,
      executionArn: RUN,
      eventId: 'event-42',
      service: 'checkout',
      now: NOW,
      lockTtlSeconds: 7_200,
      holderIsRunning: () => Promise.resolve(true),
    });
    expect(await statusCommand(context, { lock }, 'checkout')).toBe(0);
    expect(out()).toBe(`A canary of checkout is starting (${RUN}); it has not written its status yet.`);
  });

  it('warns when the last run ended without writing its outcome', async () => {
    await running();
    await lock.release(KEY, RUN);
    expect(await statusCommand(context, { lock }, 'checkout')).toBe(0);
    expect(printed.out[0]).toMatch(
      /^This run no longer holds the lock: it ended without writing its outcome/,
    );
  });

  it('names a damaged status rather than printing nothing', async () => {
    await running();
    await table.dynamodb.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { workload: { S: KEY } },
        UpdateExpression: 'SET canaryStatus = :status',
        ExpressionAttributeValues: { ':status': { S: '{"phase":' } },
      }),
    );
    expect(await statusCommand(context, { lock }, 'checkout')).toBe(1);
    expect(err()).toBe('The last status of checkout is unreadable (canaryStatus is not JSON).');
  });
});

describe('npm run canary -- approve | reject', () => {
  it('approves the waiting run once, as the CLI user; a second answer is refused', async () => {
    await running({ awaitingApproval: true });
    expect(await answerCommand(context, { lock, sfn: sfnClient }, 'checkout', 'approve')).toBe(0);
    expect(out()).toBe('Approved by cli:ana; promoting.');
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: 'token-42',
      output: JSON.stringify({ decision: 'approve', by: 'cli:ana' }),
    });

    expect(await answerCommand(context, { lock, sfn: sfnClient }, 'checkout', 'reject', 'bo')).toBe(1);
    expect(err()).toBe('Already approved by cli:ana.');
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
  });

  it('rejects as the name given with --as', async () => {
    await running({ awaitingApproval: true });
    expect(await answerCommand(context, { lock, sfn: sfnClient }, 'checkout', 'reject', 'bo')).toBe(0);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toEqual({
      taskToken: 'token-42',
      error: 'CanaryRejected',
      cause: 'Rejected by cli:bo',
    });
  });

  it('fails, saying why, when the run waits for nothing', async () => {
    await running();
    expect(await answerCommand(context, { lock, sfn: sfnClient }, 'checkout', 'approve')).toBe(1);
    expect(err()).toBe(`Nothing to answer: The canary of checkout (${RUN}) is not waiting for an approval.`);
  });
});

describe('npm run canary -- abort', () => {
  it('asks the run to abort at its next analysis', async () => {
    await running();
    expect(await abortCommand(context, { lock, sfn: sfnClient }, 'checkout', 'bad dashboards')).toBe(0);
    expect(out()).toBe(
      `Abort of checkout requested (${RUN}): it aborts at its next check, within about a minute while a step holds its weight, and sends all traffic back to stable.`,
    );
    expect((await lock.read(KEY)).abortRequested).toEqual({
      reason: 'bad dashboards',
      by: 'cli:ana',
      at: NOW.toISOString(),
    });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
  });

  it('also rejects a pending approval, so the run does not wait out its timeout', async () => {
    await running({ awaitingApproval: true });
    expect(await abortCommand(context, { lock, sfn: sfnClient }, 'checkout')).toBe(0);
    expect(printed.out[1]).toBe(
      'It was waiting for approval: Rejected by cli:ana; aborting: all traffic goes back to stable.',
    );
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toMatchObject({
      taskToken: 'token-42',
      error: 'CanaryRejected',
    });
  });

  it('says who asked first when an abort was already requested', async () => {
    await running();
    await lock.requestAbort(KEY, {
      reason: 'alarm "checkout-api-5xx-rate" fired',
      by: 'rollback r-1',
      at: NOW,
    });
    expect(await abortCommand(context, { lock, sfn: sfnClient }, 'checkout')).toBe(0);
    expect(out()).toBe(
      `An abort of checkout was already requested by rollback r-1 at ${NOW.toISOString()}: alarm "checkout-api-5xx-rate" fired. It aborts at its next check.`,
    );
  });

  it('fails when no canary runs', async () => {
    expect(await abortCommand(context, { lock, sfn: sfnClient }, 'checkout')).toBe(1);
    expect(err()).toBe(`Nothing to abort: No canary is running on ${KEY}: its lock is free.`);
  });
});

describe('the command line', () => {
  const run = (...argv: string[]) =>
    main(argv, {
      output,
      clients: () => ({ dynamodb: table.dynamodb, sfn: sfnClient, events: eventsClient }),
      user: 'ana',
      now: () => NOW,
      headCommit: () => COMMIT,
    });

  it('runs a command against the configuration, the table and the bus given', async () => {
    await running({ awaitingApproval: true });
    expect(await run('approve', 'checkout', '--config', CONFIG, '--table', TABLE, '--as', 'bo')).toBe(0);
    expect(out()).toBe('Approved by cli:bo; promoting.');
    expect(await run('start', 'search', '--image', 'registry.example.com/search-api:2.0.1')).toBe(0);
    const entry = events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    // The environment's bus, and this checkout's commit when no --reference is given.
    expect(entry?.EventBusName).toBe('platform-runbooks-prod');
    expect(JSON.parse(entry?.Detail ?? '{}')).toMatchObject({ service: 'search', reference: COMMIT });
  });

  it.each([
    [[], 'no command given'],
    [['deploy', 'checkout'], 'unknown command "deploy"'],
    [['status'], 'status needs a service'],
    [['status', 'checkout', 'search'], 'unexpected argument "search"'],
    [
      ['status', 'billing', '--table', TABLE],
      'service "billing" is not configured for canaries; configured: checkout, search',
    ],
    [['status', 'checkout', '--imag', 'x'], "Unknown option '--imag'"],
    [['abort', 'checkout', '--as', 'bo'], '--as is not an option of abort (only of approve, reject)'],
    [['start', 'checkout'], 'start needs --image <ref>'],
    [
      ['start', 'checkout', '--image', IMAGE, '--interval-minutes', 'ten'],
      '--interval-minutes must be a whole number, not "ten"',
    ],
    [['status', 'checkout'], '--table is required for status'],
  ])('exits 2 on %j, naming what is wrong', async (argv, problem) => {
    expect(await run(...argv)).toBe(2);
    expect(err()).toContain(problem);
    expect(err()).toContain('npm run canary -- --help');
  });

  it('exits 1, naming the file and the field, on a configuration it cannot use', async () => {
    expect(await run('status', 'checkout', '--config', 'lib/config/example-missing.yaml')).toBe(1);
    expect(err()).toMatch(/^Cannot read configuration file lib\/config\/example-missing\.yaml/);
  });

  it('exits 1 with the AWS error when a call fails', async () => {
    expect(await run('status', 'checkout', '--table', 'no-such-table')).toBe(1);
    expect(err()).toMatch(/^ResourceNotFoundException: /);
  });

  it('prints its usage with --help, run as the npm script runs it', () => {
    const usage = execFileSync('node_modules/.bin/tsx', ['bin/canary.ts', '--help'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(usage).toMatch(/^Usage: npm run canary -- <command> <service> \[options\]\n/);
    expect(usage).toContain('Exit codes: 0 done, 1 refused or failed, 2 wrong usage.');
  });
});
