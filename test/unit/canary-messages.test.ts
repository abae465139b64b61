import { describe, expect, it } from 'vitest';
import { approvalButtonValueSchema } from '../../lambdas/canary/approval';
import {
  approvalMessage,
  escapeMrkdwn,
  outcomeMessage,
  parentMessage,
  rejectedMessage,
  stepMessage,
} from '../../lambdas/canary/messages';
import type { CanaryRun, CheckOutcome, StepAnalysis } from '../../lambdas/canary/run';
import type { Block, SlackMessage } from '../../lambdas/notify/slack-message';
import { canaryRun } from '../handlers/canary-fixtures';

// What the canary says in Slack, as Slack will read it: every value a person, CI or an alarm wrote is escaped
// (in the blocks and in the notification text, where `<!channel>` pings too), the approval buttons carry a value
// the approval endpoint reads back, and every message stays within Block Kit's limits however many checks a
// service has.

const APPROVER = 'U024BE7LH';
const INJECTION = '<!channel> <@U0ADMIN> <https://evil.example.com|click> & co';
const ESCAPED = '&lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;https://evil.example.com|click&gt; &amp; co';

/** The run at step 2 of 4 (20 %), its service asking for approval, one analysis failed. */
const run = (fields: Partial<CanaryRun> = {}): CanaryRun =>
  canaryRun(
    {
      approvalTimeoutSeconds: 3_600,
      stepIndex: 1,
      weight: 20,
      weightSetAt: '2026-11-22T03:06:00.000Z',
      failures: 1,
      ...fields,
    },
    { approval: { approvers: [APPROVER] } },
  );

const analysed = (
  summary: string,
  checks: CheckOutcome[],
  action: StepAnalysis['action'] = 'retry',
): CanaryRun =>
  run({
    analysis: {
      action,
      summary,
      at: '2026-11-22T03:11:00.000Z',
      stepIndex: 1,
      window: { start: '2026-11-22T03:07:00.000Z', end: '2026-11-22T03:11:00.000Z' },
      nextAnalyseAt: '2026-11-22T03:17:00.000Z',
      checks,
      metricRequests: 1,
    },
  });

const outcomeOf = (name: string, fields: Partial<CheckOutcome> = {}): CheckOutcome => ({
  name,
  status: 'passed',
  canary: 0.004_21,
  stable: 0.003_9,
  limit: '≤ 0.05, 2 × stable, U test α 0.05',
  reason: 'canary mean 0.00421 within max 0.05',
  ...fields,
});

/** Every text Slack renders as mrkdwn or plain text in a message, with the notification text first. */
function texts(message: SlackMessage): string[] {
  return [
    message.text,
    ...message.blocks.flatMap((block: Block) => {
      switch (block.type) {
        case 'header':
        case 'section':
          return [block.text.text];
        case 'context':
          return block.elements.map((element) => element.text);
        case 'actions':
          return block.elements.map((element) => element.text.text);
      }
    }),
  ];
}

/** Block Kit's limits (a message beyond them is refused whole with `invalid_blocks`), and our 300 for `text`. */
function expectWithinSlackLimits(message: SlackMessage): void {
  expect(message.blocks.length).toBeLessThanOrEqual(50);
  expect(message.text.length).toBeGreaterThan(0);
  expect(message.text.length).toBeLessThanOrEqual(300);
  for (const block of message.blocks) {
    if (block.type === 'section') {
      expect(block.text.text.length).toBeGreaterThan(0);
      expect(block.text.text.length).toBeLessThanOrEqual(3_000);
    } else if (block.type === 'context') {
      expect(block.elements.length).toBeLessThanOrEqual(10);
      for (const element of block.elements) expect(element.text.length).toBeLessThanOrEqual(3_000);
    } else if (block.type === 'actions') {
      expect(block.elements.length).toBeLessThanOrEqual(25);
      for (const button of block.elements) {
        expect(button.text.text.length).toBeLessThanOrEqual(75);
        expect(button.value.length).toBeLessThanOrEqual(2_000);
        expect(button.action_id.length).toBeLessThanOrEqual(255);
      }
    }
  }
}

/** The `<` that start Slack markup: mentions, links, dates. */
const markup = (message: SlackMessage): string[] =>
  texts(message).flatMap((text) => text.match(/<[^>]*>?/g) ?? []);

describe('escaping', () => {
  it('escapes &, < and >, so nothing renders as a mention or a link', () => {
    expect(escapeMrkdwn(INJECTION)).toBe(ESCAPED);
  });

  it('the parent message: service, requester, reference, environment and outcome, in blocks and notification', () => {
    const hostile = run({
      service: { ...run().service, name: '<!here>' },
      requestedBy: INJECTION,
      reference: '<@U0ADMIN>',
      runId: '<!subteam^S0ONCALL>',
    });
    const message = parentMessage(hostile, 'aborted', '<!everyone>', {
      kind: 'aborted',
      reason: '<!channel> analysis',
      detail: INJECTION,
    });

    expect(markup(message)).toEqual([]);
    const all = texts(message).join('\n');
    expect(all).toContain(ESCAPED);
    expect(all).toContain('&lt;!here&gt;');
    expect(all).toContain('&lt;!everyone&gt;');
    expect(message.text).toBe('Canary of &lt;!here&gt;: aborted (&lt;!channel&gt; analysis)');
  });

  it("a step's reply: an abort reason a person wrote stays text, in the notification too", () => {
    const message = stepMessage(
      analysed(`step 2 of 4 (20 %): abort requested by cli:alice: ${INJECTION}`, [
        outcomeOf('error-rate', { limit: '<!channel>' }),
      ]),
    );
    expect(markup(message)).toEqual([]);
    expect(message.text).toBe(`step 2 of 4 (20 %): abort requested by cli:alice: ${ESCAPED}`);
    expect(texts(message)[2]).toContain('(limit &lt;!channel&gt;)');
  });

  it('a refused request: the error names what the event said, escaped in the notification too', () => {
    // detail.service is any string in the event: the refusal quotes it.
    const message = rejectedMessage('prod', {
      name: 'UnknownCanaryService',
      message: 'detail.service: "<!channel>" is not configured for canaries; configured: web',
    });
    expect(markup(message)).toEqual([]);
    expect(message.text).toBe(
      'Canary request refused: detail.service: "&lt;!channel&gt;" is not configured for canaries; configured: web',
    );
  });

  it("the thread's last reply: the outcome's reason and detail", () => {
    const message = outcomeMessage(run(), { kind: 'failed', reason: 'kubernetes', detail: INJECTION });
    expect(markup(message)).toEqual([]);
    expect(texts(message)[1]).toBe(`🚨 failed: kubernetes — ${ESCAPED}`);
  });

  it('the approval request: its only markup is the approvers and the deadline', () => {
    const paused = analysed(`step 2 of 4 (20 %): no data for ${INJECTION}`, [], 'pause');
    const timeoutAt = new Date('2026-11-22T04:11:00.000Z');
    const message = approvalMessage(paused, 'no-data', timeoutAt, true);

    expect(markup(message)).toEqual([
      `<@${APPROVER}>`,
      `<!date^${timeoutAt.getTime() / 1000}^{time}|2026-11-22T04:11:00.000Z>`,
    ]);
    expect(texts(message)[1]).toContain(ESCAPED);
  });

  it('cuts a long escaped text at Slack’s limit without leaving half an entity', () => {
    const message = stepMessage(analysed('<'.repeat(3_000), []));
    const [, section] = texts(message);
    expect(section?.length).toBeLessThanOrEqual(3_000);
    expect(section).toMatch(/^(&lt;)+…$/);
    expect(message.text).toMatch(/^(&lt;)+…$/);
  });
});

describe('the approval buttons', () => {
  const timeoutAt = new Date('2026-11-22T04:11:00.000Z');
  const buttonsOf = (message: SlackMessage) =>
    message.blocks.flatMap((block) => (block.type === 'actions' ? block.elements : []));

  it('carry a value the approval endpoint reads back: the workload, the run and the decision', () => {
    const message = approvalMessage(run(), 'promotion', timeoutAt, true);
    const buttons = buttonsOf(message);

    expect(buttons.map((button) => [button.action_id, button.style])).toEqual([
      ['canary-approve', 'primary'],
      ['canary-reject', 'danger'],
    ]);
    expect(buttons.map((button) => approvalButtonValueSchema.parse(JSON.parse(button.value)))).toEqual([
      { workload: 'prod-eks/shop/web', executionArn: run().executionArn, decision: 'approve' },
      { workload: 'prod-eks/shop/web', executionArn: run().executionArn, decision: 'reject' },
    ]);
    expectWithinSlackLimits(message);
  });

  it('stay under 2,000 characters with the longest workload and execution ARN', () => {
    // EKS cluster names reach 100 characters, namespaces 63, Deployment names 253; state machine and execution names 80.
    const workload = `${'c'.repeat(100)}/${'n'.repeat(63)}/${'d'.repeat(253)}`;
    const executionArn = `arn:aws-us-gov:states:us-gov-west-1:111122223333:execution:${'s'.repeat(80)}:${'e'.repeat(80)}`;
    const message = approvalMessage(run({ workload, executionArn }), 'promotion', timeoutAt, true);

    for (const button of buttonsOf(message)) {
      expect(button.value.length).toBeLessThan(2_000);
      expect(approvalButtonValueSchema.parse(JSON.parse(button.value))).toMatchObject({
        workload,
        executionArn,
      });
    }
  });

  it('are left out in webhook mode, which has the CLI commands only', () => {
    const message = approvalMessage(run(), 'promotion', timeoutAt, false);
    expect(buttonsOf(message)).toEqual([]);
    expect(message.blocks.map((block) => block.type)).toEqual(['section', 'context']);
    expect(texts(message).at(-1)).toBe('`npm run canary -- approve web` · `npm run canary -- reject web`');
  });
});

describe("Block Kit's limits, for a service with 20 checks", () => {
  const twenty = (name: (index: number) => string, fields: Partial<CheckOutcome> = {}) =>
    Array.from({ length: 20 }, (_, index) =>
      outcomeOf(name(index), { status: index % 3 === 0 ? 'failed' : 'passed', ...fields }),
    );

  it('with ordinary names, every check is listed in the parent and the step reply', () => {
    const checks = twenty((index) => `check-${String(index + 1).padStart(2, '0')}`);
    const summary = `step 2 of 4 (20 %): failed: ${checks
      .filter((check) => check.status === 'failed')
      .map((check) => `${check.name}: ${check.reason}`)
      .join('; ')}`;
    const withChecks = analysed(summary, checks);

    for (const message of [
      parentMessage(withChecks, 'analysing', 'prod'),
      parentMessage(withChecks, 'aborted', 'prod', { kind: 'aborted', reason: 'analysis', detail: summary }),
      stepMessage(withChecks),
    ]) {
      expectWithinSlackLimits(message);
      const all = texts(message).join('\n');
      for (const check of checks) expect(all).toContain(`*${check.name}*`);
    }
  });

  it('with the longest names and reasons, every text is cut within the limits', () => {
    const checks = twenty((index) => `${String(index).padStart(2, '0')}${'x'.repeat(61)}`, {
      reason: 'r'.repeat(1_000),
      limit: '≤ 0.05, ≥ 0.0001, 2 × stable, U test α 0.05',
    });
    const summary = checks.map((check) => `${check.name}: ${check.reason}`).join('; ');
    const withChecks = analysed(summary, checks);

    for (const message of [
      parentMessage(withChecks, 'aborted', 'prod', { kind: 'aborted', reason: summary, detail: summary }),
      stepMessage(withChecks),
      approvalMessage(withChecks, 'no-data', new Date('2026-11-22T04:11:00.000Z'), true),
      outcomeMessage(withChecks, { kind: 'aborted', reason: summary, detail: summary }),
    ]) {
      expectWithinSlackLimits(message);
    }
  });
});
