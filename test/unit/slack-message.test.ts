import { describe, expect, it } from 'vitest';
import type { RunbookReport } from '../../lambdas/notify/report';
import { buildSlackMessage, type Block } from '../../lambdas/notify/slack-message';

const executionArn = 'arn:aws:states:eu-west-1:123456789012:execution:rollback:a1b2c3';

function report(overrides: Partial<RunbookReport> = {}): RunbookReport {
  return {
    runbook: 'rollback',
    outcome: 'succeeded',
    target: {
      alarmName: 'payments-api-5xx',
      cluster: 'prod-eu',
      namespace: 'checkout',
      deployment: 'payments-api',
    },
    change: {
      fromRevision: 7,
      toRevision: 6,
      fromImages: ['registry.example.com/payments:1.4.2', 'registry.example.com/envoy:1.30'],
      toImages: ['registry.example.com/payments:1.4.1', 'registry.example.com/envoy:1.30'],
    },
    timeline: {
      alarmAt: '2025-03-04T03:00:00Z',
      patchedAt: '2025-03-04T03:00:42Z',
      rolloutCompletedAt: '2025-03-04T03:02:52Z',
      recoveredAt: '2025-03-04T03:06:00Z',
    },
    settings: { recoveryWindowMinutes: 10, cooldownMinutes: 30 },
    execution: { id: executionArn, name: 'a1b2c3', startTime: '2025-03-04T03:00:05.123Z' },
    ...overrides,
  };
}

const options = {
  environment: 'production',
  dashboardUrl: 'https://grafana.example.com/d/runbooks?from=now-1h&to=now',
};

function header(blocks: Block[]): string {
  const first = blocks[0];
  if (first?.type !== 'header') throw new Error('the first block is not a header');
  return first.text.text;
}

/** Every mrkdwn text in the message, in order. */
function texts(blocks: Block[]): string[] {
  return blocks.flatMap((block) => {
    if (block.type === 'section') return [block.text.text];
    if (block.type === 'context') return block.elements.map((element) => element.text);
    return [];
  });
}

function allText(blocks: Block[]): string {
  return texts(blocks).join('\n');
}

describe('buildSlackMessage', () => {
  it.each([
    ['in-progress', '🔄 Rollback in progress · production · checkout/payments-api'],
    ['succeeded', '✅ Rollback succeeded · production · checkout/payments-api'],
    ['skipped', '⏭️ Rollback skipped · production · checkout/payments-api'],
    ['failed', '🚨 Rollback failed · production · checkout/payments-api'],
    ['rejected', '⛔ Rollback rejected · production · checkout/payments-api'],
  ] as const)('heads a %s report with its emoji, the environment and the workload', (outcome, expected) => {
    const message = buildSlackMessage(report({ outcome }), options);
    expect(header(message.blocks)).toBe(expected);
    expect(message.text.startsWith(expected)).toBe(true);
  });

  it('names the alarm in the headline when the runbook never reached a Deployment', () => {
    const message = buildSlackMessage(
      report({
        outcome: 'skipped',
        reason: 'unmapped-alarm',
        target: { alarmName: 'orders-latency' },
        change: undefined,
      }),
      options,
    );
    expect(header(message.blocks)).toBe('⏭️ Rollback skipped · production · orders-latency');
    expect(allText(message.blocks)).toContain('*Skipped because:* the alarm is not mapped to any workload');
  });

  it('puts the figures from the timeline against the recovery window on one line', () => {
    const [figures] = texts(buildSlackMessage(report(), options).blocks);
    expect(figures).toBe(
      '⏱ alarm → patch *42 s* · rollout *2 min 10 s* · recovered *3 min 8 s* after rollout (window 10 min) ✅ · time to recovery *6 min*',
    );
  });

  it('marks a recovery slower than the window', () => {
    const slow = report({
      timeline: { rolloutCompletedAt: '2025-03-04T03:00:00Z', recoveredAt: '2025-03-04T04:15:00Z' },
    });
    const [figures] = texts(buildSlackMessage(slow, options).blocks);
    expect(figures).toBe('⏱ recovered *1 h 15 min* after rollout (window 10 min) ❌');
  });

  it('says the runbook is waiting for recovery while in progress, and that it did not come when failed', () => {
    const timeline = { alarmAt: '2025-03-04T03:00:00Z', rolloutCompletedAt: '2025-03-04T03:01:00Z' };
    const waiting = texts(buildSlackMessage(report({ outcome: 'in-progress', timeline }), options).blocks)[0];
    const failed = texts(
      buildSlackMessage(report({ outcome: 'failed', timeline, paged: true }), options).blocks,
    )[0];
    expect(waiting).toBe('⏱ waiting for recovery (window 10 min)');
    expect(failed).toBe('⏱ not recovered within 10 min ❌');
  });

  it('leaves out figures whose timestamps are missing or out of order', () => {
    const message = buildSlackMessage(
      report({
        timeline: { alarmAt: '2025-03-04T03:00:00Z', patchedAt: '2025-03-04T02:59:00Z' },
        settings: undefined,
      }),
      options,
    );
    expect(allText(message.blocks)).not.toContain('⏱');
  });

  it('says what changed: Deployment, cluster, revision and only the images that differ', () => {
    const context = texts(buildSlackMessage(report(), options).blocks)[1];
    expect(context).toBe(
      [
        '*Deployment:* `checkout/payments-api` on cluster `prod-eu`',
        '*Alarm:* `payments-api-5xx`',
        '*Revision:* 7 → 6',
        '*Images:* `registry.example.com/payments:1.4.2` → `registry.example.com/payments:1.4.1` (1 unchanged)',
      ].join('\n'),
    );
  });

  it('puts a guard reason in plain words', () => {
    const cooldown = buildSlackMessage(report({ outcome: 'skipped', reason: 'cooldown' }), options);
    const paused = buildSlackMessage(report({ outcome: 'skipped', reason: 'deployment-paused' }), options);
    expect(allText(cooldown.blocks)).toContain('*Skipped because:* rolled back less than 30 minutes ago');
    expect(cooldown.text).toContain('rolled back less than 30 minutes ago');
    expect(allText(paused.blocks)).toContain('*Skipped because:* the Deployment is paused');
  });

  it('names the error of a failure and shows the message inside a Lambda error cause', () => {
    const cause = JSON.stringify({
      errorType: 'RolloutTimeout',
      errorMessage: 'rollout of checkout/payments-api not complete after 15 minutes',
      trace: ['RolloutTimeout: …', '    at waitForRollout'],
    });
    const message = buildSlackMessage(
      report({ outcome: 'failed', reason: 'RolloutTimeout', detail: cause, paged: true }),
      options,
    );
    const text = allText(message.blocks);
    expect(text).toContain('*Error:* `RolloutTimeout`');
    expect(text).toContain('*Cause:* rollout of checkout/payments-api not complete after 15 minutes');
    expect(text).not.toContain('waitForRollout');
    expect(text).toContain('📟 *On-call paged*');
  });

  it('unwraps a Lambda error cause the state machine followed with its own words', () => {
    const cause = JSON.stringify({
      errorType: 'KubernetesApiError',
      errorMessage: 'PATCH deployments/payments-api answered 409: {"reason":"Conflict"}',
      trace: ['KubernetesApiError: …', '    at patchDeployment'],
    });
    const message = buildSlackMessage(
      report({
        outcome: 'failed',
        reason: 'KubernetesApiError',
        detail: `${cause} (during undo; rollback performed: false)`,
      }),
      options,
    );
    expect(allText(message.blocks)).toContain(
      '*Cause:* PATCH deployments/payments-api answered 409: {"reason":"Conflict"} (during undo; rollback performed: false)',
    );
  });

  it('shows a cause that only looks like JSON as it is', () => {
    const detail = '{not json} (during rollout)';
    const message = buildSlackMessage(
      report({ outcome: 'failed', reason: 'RolloutTimeout', detail }),
      options,
    );
    expect(allText(message.blocks)).toContain(`*Cause:* ${detail}`);
  });

  it('links the execution in the Step Functions console of its region, and the dashboard', () => {
    const arn = 'arn:aws:states:us-east-2:123456789012:execution:rollback:a1b2c3';
    const message = buildSlackMessage(
      report({ execution: { id: arn, name: 'a1b2c3', startTime: 'x' } }),
      options,
    );
    const text = allText(message.blocks);
    expect(text).toContain(
      `<https://us-east-2.console.aws.amazon.com/states/home?region=us-east-2#/v2/executions/details/${arn}|Execution in Step Functions>`,
    );
    expect(text).toContain('<https://grafana.example.com/d/runbooks?from=now-1h&amp;to=now|Dashboard>');
    expect(text).toContain('production · account 123456789012 · us-east-2 · execution `a1b2c3` · started x');
  });

  it('shows the start time in the reader’s time zone', () => {
    const footer = texts(buildSlackMessage(report(), options).blocks).at(-1);
    expect(footer).toContain(
      'started <!date^1741057205^{date_short_pretty} {time_secs}|2025-03-04T03:00:05.123Z>',
    );
  });

  it('keeps within Slack’s limits with a huge detail, a long name and many images', () => {
    const images = (tag: string) =>
      Array.from({ length: 400 }, (_, i) => `registry.example.com/team/svc-${i}:${tag}`);
    const message = buildSlackMessage(
      report({
        outcome: 'failed',
        reason: 'E'.repeat(5_000),
        detail: 'stack frame\n'.repeat(2_000),
        target: { alarmName: 'a'.repeat(255), namespace: 'n'.repeat(63), deployment: 'd'.repeat(253) },
        change: { fromRevision: 9, toRevision: 8, fromImages: images('2.0'), toImages: images('1.9') },
      }),
      { environment: 'production' },
    );
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(header(message.blocks).length).toBeLessThanOrEqual(150);
    expect(header(message.blocks).endsWith('…')).toBe(true);
    for (const text of texts(message.blocks)) expect(text.length).toBeLessThanOrEqual(3_000);
    const [, context, detail] = texts(message.blocks);
    expect(context).toContain('and 395 more');
    expect(detail?.length).toBe(3_000);
    expect(detail?.endsWith('…')).toBe(true);
    expect(message.text.length).toBeLessThanOrEqual(300);
  });

  it('does not cut an escaped character in half when truncating', () => {
    const message = buildSlackMessage(report({ outcome: 'skipped', detail: '&'.repeat(4_000) }), options);
    const detail = texts(message.blocks).find((text) => text.startsWith('*Detail:*'));
    expect(detail).toMatch(/^\*Detail:\* (&amp;)+…$/);
  });

  it('escapes &, < and > in every string from the report', () => {
    const message = buildSlackMessage(
      report({
        outcome: 'rejected',
        reason: '<!channel>',
        detail: 'a < b && c > d <https://evil.example|click>',
        target: { alarmName: '<!here> & co', namespace: 'ns', deployment: 'web' },
        change: { fromRevision: 2, toRevision: 1, fromImages: ['img:<new>'], toImages: ['img:&old'] },
        execution: { id: executionArn, name: '<b>', startTime: '2025-03-04T03:00:05Z' },
      }),
      { environment: 'prod<&>' },
    );
    const text = allText(message.blocks) + message.text;
    expect(text).toContain('`&lt;!here&gt; &amp; co`');
    expect(text).toContain('`img:&lt;new&gt;` → `img:&amp;old`');
    expect(text).toContain('*Rejected because:* `&lt;!channel&gt;`');
    expect(text).toContain('*Cause:* a &lt; b &amp;&amp; c &gt; d &lt;https://evil.example|click&gt;');
    expect(text).toContain('prod&lt;&amp;&gt; · account');
    expect(text).not.toMatch(/<!(channel|here)>|<https:\/\/evil/);
  });
});
