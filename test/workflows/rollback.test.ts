import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunbooksConfig } from '../../lib/config/schema';
import { EVENT_BUS, LOCK_TABLE, ON_CALL_TOPIC, Rehearsal, type RehearsalResult } from '../harness/rehearsal';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { CANARY_APPROVAL_TOKEN, CANARY_EXECUTION, CHECKOUT } from '../harness/rollback/scenarios';

let rehearsal: Rehearsal<RunbooksConfig>;
/** Every line the handlers logged, at DEBUG; kept off the console and searched for secrets. */
const logLines: string[] = [];

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logLines.push(String(chunk));
      return true;
    });
  }
  rehearsal = await Rehearsal.start(rehearsedRunbook);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await rehearsal?.close();
});

const run = async (name: string): Promise<RehearsalResult[]> => rehearsal.runScenario(name);
const only = async (name: string): Promise<RehearsalResult> => {
  const [result, ...rest] = await run(name);
  expect(rest).toHaveLength(0);
  return result as RehearsalResult;
};

const checkoutImage = () =>
  rehearsal.cluster().getDeployment(CHECKOUT.namespace, CHECKOUT.deployment)?.spec.template.spec
    ?.containers?.[0]?.image;
const patches = (status?: number) =>
  rehearsal
    .cluster()
    .requests.filter(
      (request) => request.method === 'PATCH' && (status === undefined || request.status === status),
    );
const eventTypes = () => rehearsal.account.events.map((event) => event.detailType);
const slackTexts = () => rehearsal.slack.messages.map((message) => JSON.stringify(message.body));
const lock = () => rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE);

describe('the rollback runbook', () => {
  it('rolls a bad release back to the previous revision, waits for the rollout and sees the alarm recover', async () => {
    const result = await only('healthy');

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toContain('Succeeded');
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect(patches(200)).toHaveLength(1);
    expect(eventTypes()).toEqual(['RunbookStarted', 'RollbackPerformed', 'RunbookSucceeded']);
    expect(
      rehearsal.account.events.every(
        (event) => event.busName === EVENT_BUS && event.source === 'platform-runbooks',
      ),
    ).toBe(true);
    const performed = rehearsal.account.events.find((event) => event.detailType === 'RollbackPerformed');
    expect(performed?.detail).toMatchObject({
      cluster: CHECKOUT.cluster,
      namespace: CHECKOUT.namespace,
      deployment: CHECKOUT.deployment,
      fromRevision: 3,
      toRevision: 2,
      fromImages: [CHECKOUT.images[2]],
      toImages: [CHECKOUT.images[1]],
      alarmName: CHECKOUT.alarm,
    });
    expect(rehearsal.slack.messages).toHaveLength(2);
    expect(rehearsal.account.pages).toHaveLength(0);
    const item = await lock();
    expect(item?.holder).toBeUndefined();
    // Recorded during this run: its waits moved the rehearsal clock on by the poll intervals only.
    expect(Number(item?.lastRollbackAt)).toBeGreaterThan(Date.now() / 1000 - 15 * 60);
  });

  it('invokes at most two Lambda functions before the PATCH reaches the API server', async () => {
    const [result] = await run('healthy');
    const patchAt = (patches(200)[0]?.at ?? Number.NaN) - (result?.startedAt ?? 0);
    const before = result?.lambdaInvocations.filter((call) => call.at < patchAt) ?? [];
    expect(before.map((call) => call.name)).toEqual(['rollback-prepare', 'rollback-undo']);
  });

  it('pages on-call when the alarm disappears, since recovery can then never be seen', async () => {
    const result = await only('alarm-deleted');
    // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(result.states).toContain('AlarmMissing');
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect(rehearsal.account.pages).toHaveLength(1);
  });

  it('maps an alarm by its runbooks:rollback-target tag', async () => {
    const result = await only('tag-mapped');
    expect(result.status).toBe('SUCCEEDED');
    const worker = rehearsal.cluster().getDeployment('payments', 'payments-worker');
    expect(worker?.spec.template.spec?.containers?.[0]?.image).toBe(
      'registry.example.com/payments-worker:2.0.0',
    );
  });

  it('retries Prepare when CloudWatch throttles the tag lookup, then rolls back', async () => {
    const result = await only('cloudwatch-throttled');
    expect(result.status).toBe('SUCCEEDED');
    const prepares = result.lambdaInvocations.filter((call) => call.name === 'rollback-prepare');
    expect(prepares.map((call) => call.error)).toEqual(['CloudWatchUnavailable', undefined]);
    expect(rehearsal.account.pages).toHaveLength(0);
  });

  it('pages on-call when the alarm does not recover within the window, after having rolled back', async () => {
    const result = await only('no-recovery');
    // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(result.states).toContain('NotRecovered');
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(rehearsal.account.pages[0]?.topicArn).toBe(ON_CALL_TOPIC);
    expect(rehearsal.account.pages[0]?.message).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: { title: expect.stringContaining('checkout/checkout-api') },
    });
    expect(eventTypes()).toContain('RunbookFailed');
    expect(slackTexts().some((text) => text.includes('NotRecovered'))).toBe(true);
    expect((await lock())?.holder).toBeUndefined();
  });

  it('pages on-call when the rolled-back pods exceed their progress deadline', async () => {
    const result = await only('rollout-deadline-exceeded');
    // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(result.states).toContain('RolloutFailed');
    expect(rehearsal.account.pages).toHaveLength(1);
    const failed = rehearsal.account.events.find((event) => event.detailType === 'RunbookFailed');
    expect(failed?.detail).toMatchObject({ failure: { error: 'RolloutFailed', performed: 'yes' } });
  });

  describe('guards: each is reported and none acts', () => {
    it.each([
      ['unmapped-alarm', 'unmapped-alarm'],
      ['target-not-permitted', 'target-not-permitted'],
      ['deployment-missing', 'deployment-missing'],
      ['paused', 'deployment-paused'],
      ['no-previous-revision', 'no-previous-revision'],
      ['cooldown', 'cooldown'],
      ['canary-in-progress', 'canary-in-progress'],
      ['alarm-already-ok', 'alarm-already-recovered'],
      ['foreign-account', 'foreign-alarm'],
      ['stale-event', 'stale-event'],
    ])('%s ends as a skip with reason %s', async (scenario, reason) => {
      const result = await only(scenario);

      expect(result.status).toBe('SUCCEEDED');
      expect(result.states).toContain('Skipped');
      expect(patches()).toHaveLength(0);
      expect(rehearsal.account.pages).toHaveLength(0);
      expect(eventTypes()).toEqual(['RunbookSkipped']);
      expect(rehearsal.account.events[0]?.detail).toMatchObject({ decision: 'skip', reason });
      expect(rehearsal.slack.messages).toHaveLength(1);
      expect(slackTexts()[0]).toMatch(/skipped|not rolled back/i);
    });

    it('leaves the canary its lock and asks it to abort, naming the alarm and this run', async () => {
      await only('canary-in-progress');
      const item = await lock();
      expect(item).toMatchObject({
        holder: 'canary',
        holderExecution: CANARY_EXECUTION,
        abortReason: `alarm "${CHECKOUT.alarm}" fired`,
        abortRequestedBy: expect.stringMatching(
          /^rollback arn:aws:states:[^:]+:\d+:execution:platform-runbooks-rollback:/,
        ),
      });
      expect(Date.parse(item?.abortRequestedAt ?? '')).not.toBeNaN();
      expect(JSON.stringify(rehearsal.account.events[0]?.detail)).toContain(
        'it reads the request within about a minute while a step holds its weight',
      );
    });

    it('rejects the approval a canary waits for: it aborts now, not when a person answers', async () => {
      const result = await only('canary-awaiting-approval');
      expect(result.states).toContain('Skipped');
      expect(patches()).toHaveLength(0);
      expect(rehearsal.account.taskTokens.get(CANARY_APPROVAL_TOKEN)?.status).toBe('answered');
      expect(rehearsal.account.taskTokens.get(CANARY_APPROVAL_TOKEN)?.answer).toMatchObject({
        outcome: 'failure',
        error: 'CanaryRejected',
      });
      expect(await lock()).toMatchObject({
        holder: 'canary',
        approvalDecision: 'reject',
        abortReason: `alarm "${CHECKOUT.alarm}" fired`,
      });
      expect(JSON.stringify(rehearsal.account.events[0]?.detail)).toContain('the approval was rejected');
    });

    it('reads the alarm after the event: an alarm already OK is not rolled back, and its lock is released', async () => {
      await only('alarm-already-ok');
      expect(checkoutImage()).toBe(CHECKOUT.images[2]);
      expect((await lock())?.holder).toBeUndefined();
      expect(JSON.stringify(rehearsal.account.events[0]?.detail)).toMatch(/is OK now/);
    });

    it("names the other account and this one when refusing another account's alarm", async () => {
      await only('foreign-account');
      expect(JSON.stringify(rehearsal.account.events[0]?.detail)).toMatch(
        /account 999988887777 in eu-west-1; this runbook acts only on alarms of account 111122223333/,
      );
      // Refused before the lock: nothing was written for the workload.
      expect(await lock()).toBeUndefined();
    });

    it('releases the lock it took when a guard stops it after locking', async () => {
      await only('paused');
      expect((await lock())?.holder).toBeUndefined();
    });
  });

  it('fails only when its own page could not be delivered, so the ExecutionsFailed alarm pages instead', async () => {
    const result = await only('page-not-delivered');
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('RollbackPageNotDelivered');
    expect(rehearsal.account.pages).toHaveLength(0);
    // Slack does not claim a page that never went out.
    expect(slackTexts().at(-1)).toMatch(/Rollback failed/);
    expect(slackTexts().at(-1)).not.toMatch(/on-call paged/i);
    expect(eventTypes()).toContain('RunbookFailed');
  });

  it('rolls back exactly once when Prepare is retried after an attempt that took the lock', async () => {
    const result = await only('prepare-retried');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toContain('Succeeded');
    expect(result.lambdaInvocations.filter((call) => call.name === 'rollback-prepare')).toHaveLength(2);
    expect(patches(200)).toHaveLength(1);
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect((await lock())?.holder).toBeUndefined();
  });

  it('takes over at once the lock of a run whose Prepare was killed, and says whose it was', async () => {
    const result = await only('stale-lock');
    expect(result.status).toBe('SUCCEEDED');
    expect(patches(200)).toHaveLength(1);
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect(result.output).toMatchObject({
      run: {
        lock: { takenOverFrom: expect.stringContaining(':execution:platform-runbooks-rollback:killed-1') },
      },
    });
    expect((await lock())?.holder).toBeUndefined();
  });

  it('re-reads and retries once when the PATCH meets a 409 Conflict', async () => {
    const result = await only('conflict-once');
    expect(result.status).toBe('SUCCEEDED');
    expect(patches().map((request) => request.status)).toEqual([409, 200]);
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
  });

  it('gives up after a second 409, changes nothing and pages', async () => {
    const result = await only('conflict-twice');
    // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('Escalated');
    expect(result.states).toContain('UndoFailed');
    expect(patches(200)).toHaveLength(0);
    expect(checkoutImage()).toBe(CHECKOUT.images[2]);
    expect(rehearsal.account.pages).toHaveLength(1);
    const failed = rehearsal.account.events.find((event) => event.detailType === 'RunbookFailed');
    expect(failed?.detail).toMatchObject({ failure: { error: 'RollbackConflict' } });
    expect((await lock())?.holder).toBeUndefined();
  });

  it('pages without acting when the Kubernetes API times out', async () => {
    const result = await only('kubernetes-timeout');
    // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('PreparationFailed');
    expect(result.timeline.some((entry) => entry.text === '↻ retry Prepare')).toBe(true);
    expect(patches()).toHaveLength(0);
    expect(rehearsal.account.pages).toHaveLength(1);
    expect((await lock())?.holder).toBeUndefined();
  });

  it('still rolls back and verifies recovery when Slack is down', async () => {
    const result = await only('slack-down');
    expect(result.status).toBe('SUCCEEDED');
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect(rehearsal.slack.requests.length).toBeGreaterThan(0);
    expect(rehearsal.slack.requests.every((request) => request.status === 503)).toBe(true);
    expect(eventTypes()).toContain('RunbookSucceeded');
  });

  it('rolls back once when the same event is delivered twice at the same moment', async () => {
    const results = await run('duplicate-event');
    expect(results.map((result) => result.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(patches(200)).toHaveLength(1);
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    const skipped = results.filter((result) => result.states.includes('Skipped'));
    expect(skipped).toHaveLength(1);
    expect(
      rehearsal.account.events.filter((e) => e.detailType === 'RunbookSkipped')[0]?.detail,
    ).toMatchObject({
      reason: 'duplicate-event',
      quiet: true,
    });
  });

  it('stays quiet when the same event arrives again after the run finished', async () => {
    const results = await run('duplicate-event-later');
    expect(results[1]?.states).toContain('Skipped');
    expect(patches(200)).toHaveLength(1);
    expect(rehearsal.slack.messages).toHaveLength(2);
  });

  it('rolls back once when two alarms of one workload fire together', async () => {
    const results = await run('two-alarms');
    expect(patches(200)).toHaveLength(1);
    const skipped = rehearsal.account.events.filter((event) => event.detailType === 'RunbookSkipped');
    expect(skipped).toHaveLength(1);
    // Refused by the lock while the first runs, or by its cooldown once it has finished: never a second PATCH.
    expect(['rollback-in-progress', 'cooldown']).toContain(
      (skipped[0]?.detail as { reason?: string }).reason,
    );
    expect(results.filter((result) => result.states.includes('Succeeded'))).toHaveLength(1);
  });

  it('rejects a malformed event with an error that names the field, and acts on nothing', async () => {
    const result = await only('malformed-event');
    // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('Rejected');
    expect(rehearsal.cluster().requests).toHaveLength(0);
    expect(await lock()).toBeUndefined();
    expect(slackTexts()[0]).toContain('detail.state');
  });

  it('pages without acting when the prepare function was deployed with an unusable setting', async () => {
    const result = await only('config-error');
    // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('PreparationFailed');
    expect(rehearsal.cluster().requests).toHaveLength(0);
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(slackTexts()[0]).toContain('COOLDOWN_SECONDS');
  });

  it('never puts the Slack webhook URL in a log line, a message, an event or a page', async () => {
    const secretPath = new URL(rehearsal.slack.url).pathname;
    const seen: string[] = [];
    for (const scenario of [
      'healthy',
      'slack-down',
      'conflict-twice',
      'malformed-event',
      'kubernetes-timeout',
    ]) {
      logLines.length = 0;
      await run(scenario);
      seen.push(
        ...logLines,
        ...rehearsal.slack.requests.map((request) => JSON.stringify(request.body)),
        ...rehearsal.account.events.map((event) => JSON.stringify(event.detail)),
        ...rehearsal.account.pages.map((page) => JSON.stringify(page.message)),
      );
    }
    expect(seen.some((line) => line.includes('Slack notification failed'))).toBe(true);
    expect(seen.filter((line) => line.includes(secretPath))).toEqual([]);
  });
});
