import { describe, expect, it } from 'vitest';
import { safeParse } from 'zod/v4/core';
import {
  MAX_SECTION_LINES,
  MAX_SECTIONS,
  runbookReportSchema,
  type RunbookReport,
} from '../../lambdas/notify/report';
import { buildSlackMessage, type Block } from '../../lambdas/notify/slack-message';

const executionArn = 'arn:aws:states:eu-west-1:123456789012:execution:rollback:a1b2c3';
const at = {
  alarm: '2025-03-04T03:00:00Z',
  patched: '2025-03-04T03:00:42Z',
  rolledOut: '2025-03-04T03:02:52Z',
  recovered: '2025-03-04T03:06:00Z',
};

/** A report as the rollback's ASL sends it after a successful run. */
function report(overrides: Partial<RunbookReport> = {}): RunbookReport {
  return {
    runbook: 'rollback',
    title: 'Rollback',
    outcome: 'succeeded',
    subject: 'checkout/payments-api',
    facts: [
      { label: 'Deployment', value: 'checkout/payments-api', code: true },
      { label: 'Cluster', value: 'prod-eu', code: true },
      { label: 'Alarm', value: 'payments-api-5xx', code: true },
    ],
    changes: [
      { label: 'Revision', from: 7, to: 6 },
      {
        label: 'Images',
        from: ['registry.example.com/payments:1.4.2', 'registry.example.com/envoy:1.30'],
        to: ['registry.example.com/payments:1.4.1', 'registry.example.com/envoy:1.30'],
        code: true,
      },
    ],
    figures: [
      { label: 'alarm → patch', from: at.alarm, to: at.patched },
      { label: 'rollout', from: at.patched, to: at.rolledOut },
      { label: 'recovered after rollout', from: at.rolledOut, to: at.recovered, withinMinutes: 10 },
      { label: 'time to recovery', from: at.alarm, to: at.recovered },
    ],
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

const figuresOf = (overrides: Partial<RunbookReport>) =>
  texts(buildSlackMessage(report(overrides), options).blocks).find((text) => text.startsWith('⏱'));

describe('buildSlackMessage', () => {
  describe('the headline', () => {
    it.each([
      ['in-progress', '🔄 Rollback in progress · production · checkout/payments-api'],
      ['succeeded', '✅ Rollback succeeded · production · checkout/payments-api'],
      ['skipped', '⏭️ Rollback skipped · production · checkout/payments-api'],
      ['failed', '🚨 Rollback failed · production · checkout/payments-api'],
      ['rejected', '⛔ Rollback rejected · production · checkout/payments-api'],
    ] as const)(
      'heads a %s report with its emoji, the title, the environment and the subject',
      (outcome, expected) => {
        const message = buildSlackMessage(report({ outcome }), options);
        expect(header(message.blocks)).toBe(expected);
        expect(message.text.startsWith(expected)).toBe(true);
      },
    );

    it('names no subject when the report has none', () => {
      const message = buildSlackMessage(report({ outcome: 'rejected', subject: undefined }), options);
      expect(header(message.blocks)).toBe('⛔ Rollback rejected · production');
    });
  });

  describe('figures', () => {
    it('computes each duration and puts them on one line, against the target where there is one', () => {
      expect(figuresOf({})).toBe(
        '⏱ alarm → patch *42 s* · rollout *2 min 10 s* · recovered after rollout *3 min 8 s* (target 10 min) ✅ · time to recovery *6 min*',
      );
    });

    it('marks a figure beyond its target', () => {
      const slow = {
        figures: [{ label: 'recovered', from: at.alarm, to: '2025-03-04T04:15:00Z', withinMinutes: 10 }],
      };
      expect(figuresOf(slow)).toBe('⏱ recovered *1 h 15 min* (target 10 min) ❌');
    });

    it('reads CloudWatch timestamps with a +0000 offset', () => {
      const figures = [{ label: 'alarm → patch', from: '2025-03-04T03:00:00.000+0000', to: at.patched }];
      expect(figuresOf({ figures })).toBe('⏱ alarm → patch *42 s*');
    });

    it('says a figure without an end is waiting while in progress, and missed its target once over', () => {
      const figures = [
        { label: 'recovered after rollout', from: at.rolledOut, withinMinutes: 10 },
        { label: 'rollout', from: at.patched },
      ];
      expect(figuresOf({ outcome: 'in-progress', figures })).toBe(
        '⏱ recovered after rollout: waiting (target 10 min) · rollout: waiting',
      );
      expect(figuresOf({ outcome: 'failed', figures, paged: true })).toBe(
        '⏱ recovered after rollout: not within 10 min ❌',
      );
    });

    it('leaves out figures whose timestamps are out of order, and the line when none is left', () => {
      const message = buildSlackMessage(
        report({ figures: [{ label: 'alarm → patch', from: at.patched, to: at.alarm }] }),
        options,
      );
      expect(allText(message.blocks)).not.toContain('⏱');
      expect(allText(buildSlackMessage(report({ figures: [] }), options).blocks)).not.toContain('⏱');
    });
  });

  describe('facts and changes', () => {
    it('lists the facts, then what changed, with only the list items that differ', () => {
      const [, facts, changes] = texts(buildSlackMessage(report(), options).blocks);
      expect(facts).toBe(
        ['*Deployment:* `checkout/payments-api`', '*Cluster:* `prod-eu`', '*Alarm:* `payments-api-5xx`'].join(
          '\n',
        ),
      );
      expect(changes).toBe(
        [
          '*Revision:* 7 → 6',
          '*Images:* `registry.example.com/payments:1.4.2` → `registry.example.com/payments:1.4.1` (1 unchanged)',
        ].join('\n'),
      );
    });

    it('shows plain values unless a fact or change asks for code', () => {
      const message = buildSlackMessage(
        report({
          facts: [{ label: 'Replicas', value: 3 }],
          changes: [
            { label: 'Weight', from: '10%', to: '25%' },
            { label: 'Hosts', from: ['a.example.com'], to: ['a.example.com', 'b.example.com'] },
          ],
        }),
        options,
      );
      expect(texts(message.blocks).slice(1, 3)).toEqual([
        '*Replicas:* 3',
        ['*Weight:* 10% → 25%', '*Hosts:* (none) → b.example.com (1 unchanged)'].join('\n'),
      ]);
    });

    it('says a list is unchanged, and compares a single value with a list', () => {
      const message = buildSlackMessage(
        report({
          facts: [],
          changes: [
            { label: 'Images', from: ['web:1', 'envoy:1'], to: ['envoy:1', 'web:1'], code: true },
            { label: 'Targets', from: 'tg-blue', to: ['tg-blue', 'tg-green'], code: true },
          ],
        }),
        options,
      );
      expect(texts(message.blocks)[1]).toBe(
        ['*Images:* unchanged (2 unchanged)', '*Targets:* (none) → `tg-green` (1 unchanged)'].join('\n'),
      );
    });
  });

  describe('the reason', () => {
    it('shows the runbook’s sentence instead of the code, in the blocks and in the notification', () => {
      const message = buildSlackMessage(
        report({
          outcome: 'skipped',
          reason: 'cooldown',
          reasonText: 'rolled back less than 30 minutes ago',
        }),
        options,
      );
      expect(allText(message.blocks)).toContain('*Skipped because:* rolled back less than 30 minutes ago');
      expect(allText(message.blocks)).not.toContain('`cooldown`');
      expect(message.text).toBe(
        '⏭️ Rollback skipped · production · checkout/payments-api — rolled back less than 30 minutes ago',
      );
    });

    it('shows the code when the runbook wrote no sentence', () => {
      const message = buildSlackMessage(report({ outcome: 'skipped', reason: 'cooldown' }), options);
      expect(allText(message.blocks)).toContain('*Skipped because:* `cooldown`');
    });

    it('names the error of a failure, says on-call was paged and shows the message inside a Lambda error cause', () => {
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
      expect(text).toContain('*Error:* `RolloutTimeout`\n📟 *On-call paged*');
      expect(text).toContain('*Cause:* rollout of checkout/payments-api not complete after 15 minutes');
      expect(text).not.toContain('waitForRollout');
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
  });

  describe('sections', () => {
    const sections = [
      {
        title: 'Expired (2)',
        lines: ['shop.example.com · expired 3 days ago', 'api.example.com · expired today'],
      },
      { title: 'Sources not read (1)', lines: ['acm · ap-south-1: ThrottlingException'] },
    ];

    it('shows each as one block after the reason, its title in bold and a bullet per line, in order', () => {
      const message = buildSlackMessage(
        report({ outcome: 'succeeded', reasonText: '2 certificates have expired.', sections }),
        options,
      );
      const all = texts(message.blocks);
      const reason = all.findIndex((text) => text.startsWith('*Reason:*'));
      expect(all.slice(reason + 1, reason + 3)).toEqual([
        '*Expired (2)*\n• shop.example.com · expired 3 days ago\n• api.example.com · expired today',
        '*Sources not read (1)*\n• acm · ap-south-1: ThrottlingException',
      ]);
      expect(all[reason + 3]).toMatch(/^🔗 /);
    });

    it('shows a section without lines as its title alone, and none when the report has none', () => {
      const message = buildSlackMessage(
        report({ sections: [{ title: 'Nothing to do', lines: [] }] }),
        options,
      );
      expect(texts(message.blocks)).toContain('*Nothing to do*');
      expect(buildSlackMessage(report(), options).blocks).toHaveLength(6);
    });

    it('counts the lines that do not fit the block, and cuts one overlong line instead of dropping the rest', () => {
      const message = buildSlackMessage(
        report({
          sections: [
            { title: 'Many', lines: Array.from({ length: 20 }, (_, i) => `line ${i} ${'x'.repeat(290)}`) },
            { title: 'One long', lines: ['y'.repeat(5_000), 'short'] },
          ],
        }),
        options,
      );
      const [many, long] = texts(message.blocks).filter((text) => /^\*(Many|One long)\*/.test(text));
      expect(many?.length).toBeLessThanOrEqual(3_000);
      const manyLines = many?.split('\n') ?? [];
      expect(manyLines.at(-1)).toBe(`…and ${20 - (manyLines.length - 2)} more`);
      expect(manyLines.length).toBeGreaterThan(5);
      expect(long).toMatch(/^\*One long\*\n• y{499}…\n• short$/);
    });

    it('is refused beyond six sections or twenty lines, as the other arrays are', () => {
      const tooMany = { ...report(), sections: Array.from({ length: MAX_SECTIONS + 1 }, () => sections[0]) };
      const tooLong = {
        ...report(),
        sections: [{ title: 'Long', lines: Array.from({ length: MAX_SECTION_LINES + 1 }, (_, i) => `${i}`) }],
      };
      const messages = [tooMany, tooLong].map((input) => {
        const result = safeParse(runbookReportSchema, input);
        return result.success
          ? []
          : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
      });
      expect(messages).toEqual([
        [
          'sections: must have at most 6 sections: a message is read at a glance; put the rest in detail or behind a link',
        ],
        [
          'sections.0.lines: must have at most 20 lines: a message is read at a glance; put the rest in detail or behind a link',
        ],
      ]);
      expect(safeParse(runbookReportSchema, { ...report(), sections }).success).toBe(true);
    });
  });

  describe('links and footer', () => {
    it('links the execution in the console of its region, the report’s links, and the dashboard', () => {
      const arn = 'arn:aws:states:us-east-2:123456789012:execution:rollback:a1b2c3';
      const message = buildSlackMessage(
        report({
          execution: { id: arn, name: 'a1b2c3', startTime: 'x' },
          links: [{ url: 'https://runbooks.example.com/rollback#guards', label: 'Runbook' }],
        }),
        options,
      );
      const text = allText(message.blocks);
      expect(text).toContain(
        `🔗 <https://us-east-2.console.aws.amazon.com/states/home?region=us-east-2#/v2/executions/details/${arn}|Execution in Step Functions>` +
          ' · <https://runbooks.example.com/rollback#guards|Runbook>' +
          ' · <https://grafana.example.com/d/runbooks?from=now-1h&amp;to=now|Dashboard>',
      );
      expect(text).toContain(
        'production · account 123456789012 · us-east-2 · execution `a1b2c3` · started x',
      );
    });

    it('leaves the console link out for an execution outside the aws partition, and names it in the footer', () => {
      const arn = 'arn:aws-cn:states:cn-north-1:123456789012:execution:rollback:a1b2c3';
      const message = buildSlackMessage(report({ execution: { id: arn, name: 'a1b2c3', startTime: 'x' } }), {
        environment: 'production',
      });
      expect(allText(message.blocks)).not.toContain('🔗');
      expect(texts(message.blocks).at(-1)).toContain('execution `a1b2c3`');
    });

    it('shows the start time in the reader’s time zone', () => {
      const footer = texts(buildSlackMessage(report(), options).blocks).at(-1);
      expect(footer).toContain(
        'started <!date^1741057205^{date_short_pretty} {time_secs}|2025-03-04T03:00:05.123Z>',
      );
    });
  });

  describe('Slack’s limits', () => {
    it('keeps within them with a huge detail, long names and every array full', () => {
      const images = (tag: string) =>
        Array.from({ length: 400 }, (_, i) => `registry.example.com/team/svc-${i}:${tag}`);
      const message = buildSlackMessage(
        report({
          outcome: 'failed',
          title: 'T'.repeat(500),
          subject: 's'.repeat(400),
          reason: 'E'.repeat(5_000),
          reasonText: 'because '.repeat(1_000),
          detail: 'stack frame\n'.repeat(2_000),
          facts: Array.from({ length: 10 }, (_, i) => ({ label: `Fact ${i}`, value: 'v'.repeat(2_000) })),
          changes: [
            { label: 'Images', from: images('2.0'), to: images('1.9'), code: true },
            ...Array.from({ length: 9 }, (_, i) => ({
              label: `Change ${i}`,
              from: 'a'.repeat(900),
              to: 'b',
            })),
          ],
          figures: Array.from({ length: 10 }, (_, i) => ({
            label: `figure ${i} `.repeat(100),
            from: at.alarm,
            to: at.recovered,
            withinMinutes: 5,
          })),
          links: Array.from({ length: 5 }, (_, i) => ({
            url: `https://example.com/${'p'.repeat(1_000)}`,
            label: `link ${i}`,
          })),
          sections: Array.from({ length: 6 }, (_, i) => ({
            title: `Section ${i} `.repeat(50),
            lines: Array.from({ length: 20 }, (_, j) => `line ${j} `.repeat(200)),
          })),
          paged: true,
        }),
        { environment: 'production', dashboardUrl: options.dashboardUrl },
      );
      expect(message.blocks).toHaveLength(14);
      expect(header(message.blocks).length).toBeLessThanOrEqual(150);
      expect(header(message.blocks).endsWith('…')).toBe(true);
      for (const text of texts(message.blocks)) expect(text.length).toBeLessThanOrEqual(3_000);
      expect(allText(message.blocks)).toContain('and 395 more');
      const detail = texts(message.blocks).find((text) => text.startsWith('*Cause:*'));
      expect(detail?.length).toBe(3_000);
      expect(detail?.endsWith('…')).toBe(true);
      expect(message.text.length).toBeLessThanOrEqual(300);
    });

    it('cuts long values without leaving a code span open, and counts the lines and links that do not fit', () => {
      const message = buildSlackMessage(
        report({
          reason: 'E'.repeat(5_000),
          facts: Array.from({ length: 10 }, (_, i) => ({
            label: `Fact ${i}`,
            value: 'v'.repeat(900),
            code: true,
          })),
          links: Array.from({ length: 5 }, (_, i) => ({
            url: `https://example.com/${'p'.repeat(900)}`,
            label: `${i}`,
          })),
        }),
        options,
      );
      const [, facts] = texts(message.blocks);
      const lines = facts?.split('\n') ?? [];
      expect(lines.at(-1)).toMatch(/^…and \d+ more$/);
      for (const line of lines.slice(0, -1)) expect(line).toMatch(/^\*Fact \d:\* `v+…`$/);
      const links = texts(message.blocks).find((text) => text.startsWith('🔗'));
      expect(links).toMatch(
        /\|Execution in Step Functions> · (<https:\/\/example\.com\/p+\|\d> · )+…and \d+ more$/,
      );
      expect(allText(message.blocks)).toMatch(/\*Reason:\* `E+…`/);
    });

    it('does not cut an escaped character in half when truncating', () => {
      const message = buildSlackMessage(report({ outcome: 'skipped', detail: '&'.repeat(4_000) }), options);
      const detail = texts(message.blocks).find((text) => text.startsWith('*Detail:*'));
      expect(detail).toMatch(/^\*Detail:\* (&amp;)+…$/);
    });

    it('does not split a surrogate pair when truncating', () => {
      for (const padding of ['', 'x']) {
        const message = buildSlackMessage(
          report({
            outcome: 'skipped',
            subject: padding + '🚀'.repeat(200),
            detail: padding + '🚀'.repeat(2_000),
          }),
          options,
        );
        for (const text of [header(message.blocks), ...texts(message.blocks), message.text]) {
          expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
        }
      }
    });
  });

  it('escapes &, < and > in every string from the report', () => {
    const message = buildSlackMessage(
      report({
        outcome: 'rejected',
        title: 'Roll<!channel>back',
        subject: '<!here>/web',
        reason: '<!channel>',
        detail: 'a < b && c > d <https://evil.example|click>',
        facts: [
          { label: 'Alarm <!here>', value: '<!here> & co', code: true },
          { label: 'Owner', value: '<@U123> & <!subteam^S1>' },
        ],
        changes: [
          { label: 'Images', from: ['img:<new>'], to: ['img:&old'], code: true },
          { label: 'Note', from: '<!everyone>', to: 'a&b' },
        ],
        figures: [{ label: '<!channel> time', from: at.alarm, to: at.patched }],
        links: [{ url: 'https://example.com/a?b=1&c=<!channel>|x', label: '<!here> docs' }],
        sections: [{ title: '<!channel> & co', lines: ['<@U123> expires <!date^1|now>'] }],
        execution: { id: executionArn, name: '<b>', startTime: '2025-03-04T03:00:05Z' },
      }),
      { environment: 'prod<&>' },
    );
    const text = allText(message.blocks) + message.text;
    expect(text).toContain('*Alarm &lt;!here&gt;:* `&lt;!here&gt; &amp; co`');
    expect(text).toContain('*Owner:* &lt;@U123&gt; &amp; &lt;!subteam^S1&gt;');
    expect(text).toContain('*Images:* `img:&lt;new&gt;` → `img:&amp;old`');
    expect(text).toContain('*Note:* &lt;!everyone&gt; → a&amp;b');
    expect(text).toContain('&lt;!channel&gt; time *42 s*');
    expect(text).toContain('*Rejected because:* `&lt;!channel&gt;`');
    expect(text).toContain('*Cause:* a &lt; b &amp;&amp; c &gt; d &lt;https://evil.example|click&gt;');
    expect(text).toContain('<https://example.com/a?b=1&amp;c=%3C!channel%3E%7Cx|&lt;!here&gt; docs>');
    expect(text).toContain('prod&lt;&amp;&gt; · account');
    expect(text).toContain('execution `&lt;b&gt;`');
    expect(text).toContain('*&lt;!channel&gt; &amp; co*\n• &lt;@U123&gt; expires &lt;!date^1|now&gt;');
    expect(message.text).toContain(
      'Roll&lt;!channel&gt;back rejected · prod&lt;&amp;&gt; · &lt;!here&gt;/web',
    );
    expect(text).not.toMatch(/<!(channel|here|everyone|subteam)|<@U|<https:\/\/evil/);
  });

  it('escapes the runbook’s sentence too', () => {
    const message = buildSlackMessage(
      report({ outcome: 'skipped', reason: 'x', reasonText: 'ask <!channel> & wait' }),
      options,
    );
    expect(allText(message.blocks) + message.text).not.toContain('<!channel>');
    expect(message.text).toContain('— ask &lt;!channel&gt; &amp; wait');
  });
});

describe('a runbook the notifier has never heard of', () => {
  it('renders from the report alone: title, subject, facts, a figure and its target', () => {
    const message = buildSlackMessage(
      {
        runbook: 'certificates',
        title: 'Certificate check',
        outcome: 'failed',
        subject: 'api.example.com',
        reason: 'ExpiresSoon',
        reasonText: 'the certificate expires in 6 days, below the 14-day threshold',
        facts: [
          { label: 'Certificate', value: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc', code: true },
          { label: 'Region', value: 'eu-west-1' },
          { label: 'Days to expiry', value: 6 },
        ],
        figures: [
          {
            label: 'renewal pending',
            from: '2025-03-01T00:00:00Z',
            to: '2025-03-04T00:00:00Z',
            withinMinutes: 1_440,
          },
        ],
        paged: true,
        execution: {
          id: 'arn:aws:states:eu-west-1:123456789012:execution:certificates:daily-42',
          name: 'daily-42',
          startTime: '2025-03-04T00:00:00Z',
        },
      },
      options,
    );
    expect(header(message.blocks)).toBe('🚨 Certificate check failed · production · api.example.com');
    expect(texts(message.blocks).slice(0, 3)).toEqual([
      '⏱ renewal pending *72 h* (target 1440 min) ❌',
      [
        '*Certificate:* `arn:aws:acm:eu-west-1:123456789012:certificate/abc`',
        '*Region:* eu-west-1',
        '*Days to expiry:* 6',
      ].join('\n'),
      '*Error:* the certificate expires in 6 days, below the 14-day threshold\n📟 *On-call paged*',
    ]);
    expect(allText(message.blocks)).toContain('execution:certificates:daily-42|Execution in Step Functions>');
    expect(message.text).toBe(
      '🚨 Certificate check failed · production · api.example.com — the certificate expires in 6 days, below the 14-day threshold',
    );
  });
});
