// How people follow a canary run: `updateThread` (the status the CLI reads, then the Slack thread) and
// `requestApproval` (the task token on the lock, then the question), with the real CanaryLock on dynalite and a
// real loopback Slack: the receiver's Web API in Slack-app mode, its incoming webhook in webhook mode. What the
// workflow test cannot show: the order of the writes, each message's place, and Slack failing without the step
// failing.
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { approvalButtonValueSchema } from '../../lambdas/canary/approval';
import { requestApproval } from '../../lambdas/canary/request-approval';
import type { CanaryRun, StepAnalysis } from '../../lambdas/canary/run';
import { appSlack, webhookSlack, type CanarySlack } from '../../lambdas/canary/slack';
import { phaseAfterAnalysis, updateThread, type StatusLock } from '../../lambdas/canary/thread';
import { createSlackAppClient } from '../../lambdas/notify/slack-app';
import { logger } from '../../lambdas/shared/logger';
import { CanaryLock, CanaryLockLost } from '../../lambdas/workload-lock/canary-lock';
import { startLockTable } from '../harness/lock-table';
import { startSlackReceiver, type SlackReceiver } from '../harness/slack-receiver';
import { acquireRequest, canaryRun, failureOf, RUN_A, RUN_B, WORKLOAD } from './canary-fixtures';

const TABLE = 'locks';
const CHANNEL = 'C000RUNBOOKS';
const APPROVER = 'U024BE7LH';
const NOW = new Date('2026-11-22T03:11:30.000Z');

/** The run as the start answers it, its service asking for approval. */
const runAt = (fields: Partial<CanaryRun> = {}): CanaryRun =>
  canaryRun(
    { approvalTimeoutSeconds: 1_800, ...fields },
    { approval: { approvers: [APPROVER], timeoutMinutes: 30 } },
  );

const CHECK = {
  name: 'error-rate',
  status: 'passed' as const,
  canary: 0.004,
  stable: 0.003,
  limit: '≤ 0.05',
  reason: 'canary mean 0.004 within max 0.05',
};

/** The run after its analysis of step 2 (20 %), which decided `action`. */
const analysedAt = (action: StepAnalysis['action'], fields: Partial<CanaryRun> = {}): CanaryRun =>
  runAt({
    stepIndex: 1,
    weight: 20,
    weightSetAt: '2026-11-22T03:06:00.000Z',
    analysis: {
      action,
      ...(action === 'approve' && { onApproval: 'promote' as const }),
      summary: 'step 2 of 4 (20 %): every check passed',
      at: '2026-11-22T03:11:00.000Z',
      stepIndex: 1,
      window: { start: '2026-11-22T03:07:00.000Z', end: '2026-11-22T03:11:00.000Z' },
      nextAnalyseAt: '2026-11-22T03:17:00.000Z',
      checks: [CHECK],
      metricRequests: 1,
    },
    ...fields,
  });

describe('the run as people follow it', () => {
  let table: Awaited<ReturnType<typeof startLockTable>>;
  let lock: CanaryLock;
  let receiver: SlackReceiver;
  let app: CanarySlack;
  let webhook: CanarySlack;
  let warn: MockInstance<(typeof logger)['warn']>;
  const secrets = mockClient(SecretsManagerClient);
  /** How many requests Slack had received (since `baseline`) when each status was written. */
  const slackRequestsAtStatus: number[] = [];
  let baseline = 0;

  const statusLock: StatusLock = {
    writeStatus: async (workload, executionArn, status) => {
      slackRequestsAtStatus.push(receiver.requests.length - baseline);
      await lock.writeStatus(workload, executionArn, status);
    },
  };
  const thread = (input: unknown, slack: CanarySlack) =>
    updateThread(input, { lock: statusLock, slack, environment: 'prod', now: () => NOW });
  const status = async () => (await lock.read(WORKLOAD)).status;
  const warnings = () => warn.mock.calls.map(([message]) => message);

  /** Starts the thread in app mode: the run with its parent message; what follows is counted from here. */
  async function started(): Promise<CanaryRun> {
    const run = (await thread({ kind: 'started', run: runAt() }, app)) as CanaryRun;
    baseline = receiver.requests.length;
    slackRequestsAtStatus.length = 0;
    return run;
  }

  beforeAll(async () => {
    table = await startLockTable(TABLE);
    lock = new CanaryLock(table.dynamodb, TABLE);
    receiver = await startSlackReceiver();
    const client = createSlackAppClient({
      secrets: new SecretsManagerClient({}),
      secretId: 'platform-runbooks/slack-bot-token',
      baseUrl: receiver.api.baseUrl,
      sleep: () => Promise.resolve(),
    });
    app = appSlack(client, CHANNEL);
    webhook = webhookSlack(() => Promise.resolve(new URL(receiver.url)));
  });
  afterAll(async () => {
    secrets.restore();
    vi.restoreAllMocks();
    await receiver.close();
    await table.close();
  });
  beforeEach(async () => {
    receiver.reset();
    secrets.reset();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: receiver.api.botToken });
    slackRequestsAtStatus.length = 0;
    baseline = 0;
    warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    warn.mockClear();
    await table.dynamodb.send(
      new DeleteItemCommand({ TableName: TABLE, Key: { workload: { S: WORKLOAD } } }),
    );
    await lock.acquire(acquireRequest(RUN_A));
  });

  describe('started', () => {
    it('app mode: the status first, then the thread; the run answered with its parent message', async () => {
      const result = await thread({ kind: 'started', run: runAt() }, app);

      expect(slackRequestsAtStatus).toEqual([0]);
      const [parent, ...others] = receiver.api.threads;
      expect(others).toEqual([]);
      expect(parent?.parent.channel).toBe(CHANNEL);
      expect(parent?.parent.current.text).toBe('Canary of web: starting, canary at 0 %');
      expect(result).toEqual({ ...runAt(), slack: { channel: CHANNEL, ts: parent?.parent.ts } });
      expect(await status()).toMatchObject({
        phase: 'starting',
        service: 'web',
        runId: 'run-a',
        stepIndex: -1,
        weight: 0,
        updatedAt: NOW.toISOString(),
        checks: [],
      });
      expect((await status())?.nextAnalysisAt).toBeUndefined();
    });

    it('webhook mode: one message through the webhook, the run answered without a thread', async () => {
      const result = await thread({ kind: 'started', run: runAt() }, webhook);

      expect(result).toEqual(runAt());
      expect(receiver.messages.map((message) => message.body.text)).toEqual([
        'Canary of web: starting, canary at 0 %',
      ]);
      expect(receiver.api.requests).toEqual([]);
      expect((await status())?.phase).toBe('starting');
    });

    it('Slack refusing the post does not fail the step: the status is written, the run has no thread', async () => {
      receiver.api.fail([{ kind: 'error', error: 'not_in_channel' }]);

      const result = await thread({ kind: 'started', run: runAt() }, app);

      expect(result).toEqual(runAt());
      expect(receiver.api.requests.map((request) => request.status)).toEqual([200]);
      expect(receiver.api.messages).toEqual([]);
      expect((await status())?.phase).toBe('starting');
      expect(warnings()).toContain('Slack message not delivered');
    });

    it('the webhook refusing the message does not fail the step either', async () => {
      receiver.respondWith([{ status: 400, body: 'invalid_payload' }]);
      await expect(thread({ kind: 'started', run: runAt() }, webhook)).resolves.toEqual(runAt());
      expect(receiver.messages).toEqual([]);
      expect((await status())?.phase).toBe('starting');
      expect(warnings()).toContain('Slack message not delivered');
    });

    it('a lost lock: the status cannot be written, the step fails, and Slack is not told', async () => {
      await lock.release(WORKLOAD, RUN_A);
      const error = await failureOf(thread({ kind: 'started', run: runAt() }, app));
      expect(error).toBeInstanceOf(CanaryLockLost);
      expect(receiver.requests).toEqual([]);
    });
  });

  describe('step', () => {
    it('app mode: the status, then the parent rewritten and the analysis as a reply in its thread', async () => {
      const { slack } = await started();

      const result = await thread({ kind: 'step', run: analysedAt('advance', { slack }) }, app);

      expect(result).toEqual({});
      expect(slackRequestsAtStatus).toEqual([0]);
      const [only] = receiver.api.threads;
      expect(only?.parent.updates.map((update) => update.text)).toEqual([
        'Canary of web: shifting, canary at 20 %',
      ]);
      expect(only?.replies.map((reply) => reply.current.text)).toEqual([
        'step 2 of 4 (20 %): every check passed',
      ]);
      expect(JSON.stringify(only?.replies[0]?.current.blocks)).toContain(
        '*error-rate* canary 0.004 · stable 0.003',
      );
      expect(await status()).toMatchObject({
        phase: 'shifting',
        stepIndex: 1,
        weight: 20,
        checks: [CHECK],
        // The next step's interval of whole minutes, and a minute for CloudWatch: about 2 minutes past it.
        nextAnalysisAt: '2026-11-22T03:18:00.000Z',
      });
    });

    it("a retry's next analysis is the one the analysis planned", async () => {
      await started();
      await thread({ kind: 'step', run: analysedAt('retry') }, webhook);
      expect((await status())?.nextAnalysisAt).toBe('2026-11-22T03:17:00.000Z');
    });

    it('the parent gone from Slack: the reply is still posted, and the step succeeds', async () => {
      const { slack } = await started();
      receiver.api.fail([{ method: 'chat.update', kind: 'error', error: 'message_not_found' }]);

      await expect(thread({ kind: 'step', run: analysedAt('retry', { slack }) }, app)).resolves.toEqual({});

      expect(receiver.api.threads[0]?.parent.updates).toEqual([]);
      expect(receiver.api.threads[0]?.replies).toHaveLength(1);
      expect((await status())?.phase).toBe('analysing');
      expect(warnings()).toContain('Slack message not delivered');
    });

    it('webhook mode: the status only, nothing posted per step', async () => {
      await thread({ kind: 'step', run: analysedAt('promote') }, webhook);
      expect(receiver.requests).toEqual([]);
      expect((await status())?.phase).toBe('promoting');
    });
  });

  describe('finished', () => {
    const failed = {
      kind: 'failed',
      reason: 'kubernetes',
      // A Lambda error's Cause, as Step Functions passes it.
      detail: JSON.stringify({
        errorType: 'KubernetesUnavailable',
        errorMessage: 'the API server of prod-eks did not answer',
        trace: [],
      }),
    };

    it('app mode: the final status with its outcome, the parent rewritten, the outcome as the last reply', async () => {
      const { slack } = await started();

      await thread({ kind: 'finished', run: analysedAt('abort', { slack }), outcome: failed }, app);

      expect(await status()).toMatchObject({
        phase: 'failed',
        outcome: {
          kind: 'failed',
          reason: 'kubernetes: the API server of prod-eks did not answer',
          at: NOW.toISOString(),
        },
      });
      expect((await status())?.nextAnalysisAt).toBeUndefined();
      expect(slackRequestsAtStatus).toEqual([0]);
      const [only] = receiver.api.threads;
      expect(only?.parent.current.text).toBe('Canary of web: failed (kubernetes)');
      expect(only?.replies.map((reply) => reply.current.text)).toEqual(['Canary of web failed']);
      expect(JSON.stringify(only?.replies[0]?.current.blocks)).toContain(
        '🚨 failed: kubernetes — the API server of prod-eks did not answer',
      );
    });

    it('webhook mode: one message with the outcome', async () => {
      const outcome = { kind: 'promoted', reason: 'every step passed' };
      await thread({ kind: 'finished', run: analysedAt('promote'), outcome }, webhook);

      expect(receiver.messages.map((message) => message.body.text)).toEqual([
        'Canary of web: promoted (every step passed)',
      ]);
      expect((await status())?.outcome).toMatchObject({ kind: 'promoted', reason: 'every step passed' });
    });

    it('app mode without a thread (its start was not posted): a message of its own', async () => {
      const outcome = {
        kind: 'aborted',
        reason: 'analysis',
        detail: 'step 2 of 4 (20 %): failed: error-rate',
      };
      await thread({ kind: 'finished', run: analysedAt('abort'), outcome }, app);

      expect(receiver.api.threads.map((each) => [each.parent.current.text, each.replies.length])).toEqual([
        ['Canary of web: aborted (analysis)', 0],
      ]);
    });
  });

  describe('rejected', () => {
    it("posts the error's message, and writes no status: no run exists", async () => {
      const message = 'detail.service: "inventory" is not configured for canaries; configured: web';
      const result = await thread(
        {
          kind: 'rejected',
          error: {
            Error: 'UnknownCanaryService',
            Cause: JSON.stringify({ errorType: 'UnknownCanaryService', errorMessage: message, trace: [] }),
          },
        },
        app,
      );

      expect(result).toEqual({});
      const [posted] = receiver.api.messages;
      expect(posted?.current.text).toBe(`Canary request refused: ${message}`);
      expect(JSON.stringify(posted?.current.blocks)).toContain(
        `*UnknownCanaryService* ${message}`.replaceAll('"', '\\"'),
      );
      expect(slackRequestsAtStatus).toEqual([]);
      expect(await status()).toBeUndefined();
    });

    it('without a cause, the error name is the message; a failure that is no refusal says the run could not start', async () => {
      await thread({ kind: 'rejected', error: { Error: 'States.Timeout' } }, webhook);
      await thread({ kind: 'rejected', error: { Error: 'CanaryAlreadyRunning' } }, webhook);
      expect(receiver.messages.map((message) => message.body.text)).toEqual([
        'Canary could not start: States.Timeout',
        'Canary request refused: CanaryAlreadyRunning',
      ]);
    });
  });

  describe('the approval request', () => {
    /** The approval token on the lock when each message was posted. */
    const tokenWhenPosted: (string | undefined)[] = [];
    const observing = (inner: CanarySlack): CanarySlack => ({
      threads: inner.threads,
      post: async (message, threadTs) => {
        tokenWhenPosted.push((await lock.read(WORKLOAD)).approval?.token);
        return inner.post(message, threadTs);
      },
      update: (ref, message) => inner.update(ref, message),
    });
    const ask = (run: CanaryRun, slack: CanarySlack) =>
      requestApproval({ token: 'task-token-1', run }, { lock, slack: observing(slack), now: () => NOW });

    beforeEach(() => {
      tokenWhenPosted.length = 0;
    });

    it('app mode: the token recorded first, then Approve and Reject in the thread, whose values name this run', async () => {
      const { slack } = await started();

      const answer = await ask(analysedAt('approve', { stepIndex: 3, weight: 100, slack }), app);

      expect(answer).toEqual({ kind: 'promotion', timeoutAt: '2026-11-22T03:41:30.000Z' });
      expect(tokenWhenPosted).toEqual(['task-token-1']);
      const state = await lock.read(WORKLOAD);
      expect(state.approval).toEqual({
        token: 'task-token-1',
        kind: 'promotion',
        requestedAt: NOW.toISOString(),
        timeoutAt: '2026-11-22T03:41:30.000Z',
      });
      expect(state.status?.phase).toBe('awaiting-approval');

      const [only] = receiver.api.threads;
      const [reply] = only?.replies ?? [];
      expect(reply?.current.text).toBe('Canary of web waits for approval');
      const actions = reply?.current.blocks?.find(
        (block): block is { type: 'actions'; elements: Array<{ action_id: string; value: string }> } =>
          (block as { type?: string }).type === 'actions',
      );
      expect(
        actions?.elements.map((button) => [
          button.action_id,
          approvalButtonValueSchema.parse(JSON.parse(button.value)),
        ]),
      ).toEqual([
        ['canary-approve', { workload: WORKLOAD, executionArn: RUN_A, decision: 'approve' }],
        ['canary-reject', { workload: WORKLOAD, executionArn: RUN_A, decision: 'reject' }],
      ]);
      expect(JSON.stringify(reply?.current.blocks)).toContain(`<@${APPROVER}>`);
    });

    it('webhook mode: the CLI commands only; a pause asks about the missing data', async () => {
      const answer = await ask(analysedAt('pause'), webhook);

      expect(answer.kind).toBe('no-data');
      expect((await lock.read(WORKLOAD)).approval?.kind).toBe('no-data');
      expect(tokenWhenPosted).toEqual(['task-token-1']);
      const [message] = receiver.messages;
      const blocks = message?.body.blocks as Array<{ type: string }>;
      expect(blocks.map((block) => block.type)).toEqual(['section', 'context']);
      expect(JSON.stringify(blocks)).toContain(
        '`npm run canary -- approve web` · `npm run canary -- reject web`',
      );
    });

    it('Slack failing: the token stays recorded for the CLI, and the step succeeds', async () => {
      receiver.api.fail([{ kind: 'error', error: 'channel_not_found' }]);

      await expect(ask(analysedAt('approve', { stepIndex: 3, weight: 100 }), app)).resolves.toMatchObject({
        kind: 'promotion',
      });

      expect((await lock.read(WORKLOAD)).approval?.token).toBe('task-token-1');
      expect(receiver.api.messages).toEqual([]);
      expect(warnings()).toContain('approval request not delivered to Slack');
    });

    it('a lost lock: nothing recorded, nobody asked', async () => {
      await lock.release(WORKLOAD, RUN_A);
      await lock.acquire(acquireRequest(RUN_B, { eventId: 'event-2' }));

      const error = await failureOf(ask(analysedAt('approve', { stepIndex: 3, weight: 100 }), app));

      expect(error).toBeInstanceOf(CanaryLockLost);
      expect((await lock.read(WORKLOAD)).approval).toBeUndefined();
      expect(tokenWhenPosted).toEqual([]);
      expect(receiver.requests).toEqual([]);
    });
  });
});

describe('phaseAfterAnalysis', () => {
  it.each([
    ['advance', 'shifting'],
    ['retry', 'analysing'],
    ['pause', 'awaiting-approval'],
    ['approve', 'awaiting-approval'],
    ['promote', 'promoting'],
    ['abort', 'aborting'],
  ] as const)('%s: %s', (action, phase) => {
    expect(phaseAfterAnalysis(analysedAt(action))).toBe(phase);
  });

  it('before any analysis: analysing', () => {
    expect(phaseAfterAnalysis(runAt())).toBe('analysing');
  });
});
