import { describe, expect, it } from 'vitest';
import { s3ConsoleUrl } from '../../lambdas/aws/s3-objects';
import { safeParse } from 'zod/v4/core';
import type { ObservedCertificate } from '../../lambdas/certificates/certificate';
import { classifyAll, type ClassifiedCertificate } from '../../lambdas/certificates/classify';
import type { SourceFailure } from '../../lambdas/certificates/parts';
import {
  buildCertificateReport,
  failedPartFailure,
  reportKeys,
  whenText,
  type ReportTrigger,
  type RunFacts,
} from '../../lambdas/certificates/report';
import { runbookReportSchema, type RunbookReport } from '../../lambdas/notify/report';
import { buildSlackMessage } from '../../lambdas/notify/slack-message';

const now = new Date('2026-12-02T12:00:00Z');
const DAY_MS = 86_400_000;
const inDays = (days: number) => new Date(now.getTime() + days * DAY_MS).toISOString();
const thresholds = { criticalDays: 7, warningDays: 30 };
const execution = {
  id: 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-production-certificates:daily-42',
  name: 'daily-42',
  startTime: '2026-12-02T11:59:00Z',
};
const acmArn = (id: string) => `arn:aws:acm:eu-west-1:111122223333:certificate/${id}`;

const acm = (id: string, overrides: Partial<ObservedCertificate> = {}): ObservedCertificate => ({
  source: 'acm',
  id: acmArn(id),
  name: `${id}.example.com`,
  location: 'eu-west-1',
  notAfter: inDays(200),
  renewsAutomatically: true,
  inUseBy: [],
  problems: [],
  ...overrides,
});

const unreachable: ObservedCertificate = {
  source: 'endpoint',
  id: 'legacy.example.com:443 (legacy.example.com)',
  name: 'legacy.example.com:443',
  renewsAutomatically: false,
  inUseBy: [],
  problems: [
    {
      code: 'unreachable',
      text: 'Unreachable (timeout): the endpoint did not answer (5000 ms); check the endpoint and its network path.',
    },
  ],
};

/** One of each case, in no particular order. */
const observed: ObservedCertificate[] = [
  acm('healthy', { notAfter: inDays(200) }),
  acm('soon', { notAfter: inDays(5.5) }),
  acm('imported', {
    notAfter: inDays(-3),
    renewsAutomatically: false,
    problems: [
      { code: 'imported', text: 'Imported into ACM, so it never renews: re-import the renewed certificate.' },
    ],
  }),
  acm('month', { notAfter: inDays(20.5) }),
  unreachable,
  acm('just-expired', { notAfter: new Date(now.getTime() - 3_600_000).toISOString() }),
  acm('quarter', { notAfter: inDays(90) }),
];

const failures: SourceFailure[] = [
  { source: 'acm', location: 'ap-south-1', error: 'ThrottlingException: Rate exceeded' },
];

const run = (overrides: Partial<RunFacts> = {}): RunFacts => ({
  environment: 'production',
  execution,
  generatedAt: now,
  trigger: { kind: 'schedule' },
  thresholds,
  ...overrides,
});

const classified = (certificates: ObservedCertificate[] = observed): ClassifiedCertificate[] =>
  classifyAll(certificates, thresholds, now);

/** The notification as the handler hands it to the notifier. */
const asRunbookReport = (
  notification: ReturnType<typeof buildCertificateReport>['notification'],
): RunbookReport => ({
  runbook: 'certificates',
  title: 'Certificate check',
  outcome: 'succeeded',
  ...notification,
  links: [
    { label: 'Report', url: 'https://s3.console.aws.amazon.com/s3/object/b?region=eu-west-1&prefix=k' },
  ],
  execution,
});

describe('the JSON report', () => {
  it('lists every line worst first, then soonest to expire (unknown expiry first), whatever the input order', () => {
    const { document } = buildCertificateReport(classified(), failures, run());
    const reversed = buildCertificateReport([...classified()].reverse(), failures, run()).document;
    expect(document.certificates.map((line) => [line.severity, line.name, line.daysToExpiry])).toEqual([
      ['expired', 'imported.example.com', -3],
      ['expired', 'just-expired.example.com', -1],
      ['critical', 'legacy.example.com:443', null],
      ['critical', 'soon.example.com', 5],
      ['warning', 'month.example.com', 20],
      ['ok', 'quarter.example.com', 90],
      ['ok', 'healthy.example.com', 200],
    ]);
    expect(reversed.certificates).toEqual(document.certificates);
  });

  it('states the run, the thresholds, the counts of every severity and the source failures', () => {
    const trigger: ReportTrigger = {
      kind: 'acm-event',
      detailType: 'ACM Certificate Expired',
      certificateArn: acmArn('imported'),
      region: 'eu-west-1',
    };
    const { document } = buildCertificateReport(classified(), failures, run({ trigger }));
    expect({ ...document, certificates: document.certificates.length }).toEqual({
      generatedAt: '2026-12-02T12:00:00.000Z',
      environment: 'production',
      execution,
      trigger,
      thresholds,
      counts: { expired: 2, critical: 2, warning: 1, ok: 2 },
      total: 7,
      sourceFailures: failures,
      certificates: 7,
    });
    const none = buildCertificateReport([], [], run()).document;
    expect(none.counts).toEqual({ expired: 0, critical: 0, warning: 0, ok: 0 });
  });

  it('gives every line the same fields, null where a fact is unknown', () => {
    const { document } = buildCertificateReport(classified(), [], run());
    const endpoint = document.certificates.find((line) => line.source === 'endpoint');
    expect(endpoint).toEqual({
      severity: 'critical',
      daysToExpiry: null,
      notAfter: null,
      expiringCertificate: null,
      source: 'endpoint',
      id: 'legacy.example.com:443 (legacy.example.com)',
      name: 'legacy.example.com:443',
      location: null,
      renewsAutomatically: false,
      inUseBy: [],
      problems: unreachable.problems,
      actions: [unreachable.problems[0]?.text],
    });
    for (const line of document.certificates) expect(Object.keys(line)).toEqual(Object.keys(endpoint ?? {}));
  });
});

describe('the Slack summary', () => {
  it('counts each severity, the total, the sources not read and says what started the run', () => {
    const { notification } = buildCertificateReport(classified(), failures, run());
    expect(notification.facts).toEqual([
      { label: 'Expired', value: 2 },
      { label: 'Critical', value: 2 },
      { label: 'Warning', value: 1 },
      { label: 'OK', value: 2 },
      { label: 'Certificates', value: 7 },
      { label: 'Sources not read', value: 1 },
      { label: 'Trigger', value: 'schedule' },
      { label: 'Thresholds', value: 'critical under 7 days, warning under 30 days' },
    ]);
  });

  it('groups the lines by severity, worst first, healthy ones only counted, then the sources not read', () => {
    const { notification } = buildCertificateReport(classified(), failures, run());
    expect(notification.sections).toEqual([
      {
        title: '🔴 Expired (2)',
        lines: [
          'imported.example.com · ACM eu-west-1 · expired 3 days ago (2026-11-29) · imported — Imported into ACM, so it never renews: import a renewed certificate over it (aws acm import-certificate --certificate-arn …).',
          'just-expired.example.com · ACM eu-west-1 · expired less than a day ago (2026-12-02) — ACM renews it: check that its DNS validation records still exist (ACM console, Renewal status).',
        ],
      },
      {
        title: '🟠 Critical (2)',
        lines: [
          'legacy.example.com:443 · endpoint · expiry unknown · unreachable — Unreachable (timeout): the endpoint did not answer (5000 ms); check the endpoint and its network path.',
          'soon.example.com · ACM eu-west-1 · expires in 5 days (2026-12-08) — ACM renews it: check that its DNS validation records still exist (ACM console, Renewal status).',
        ],
      },
      {
        title: '🟡 Warning (1)',
        lines: [
          'month.example.com · ACM eu-west-1 · expires in 20 days (2026-12-23) — ACM renews it: check that its DNS validation records still exist (ACM console, Renewal status).',
        ],
      },
      { title: '⚠️ Sources not read (1)', lines: ['acm ap-south-1: ThrottlingException: Rate exceeded'] },
    ]);
  });

  it('shows the ten worst expired and critical, five warnings and ten failed sources, and counts the rest', () => {
    const many = (prefix: string, count: number, days: number) =>
      Array.from({ length: count }, (_, i) => acm(`${prefix}-${i}`, { notAfter: inDays(days + i / 100) }));
    const manyFailures = Array.from({ length: 14 }, (_, i) => ({
      source: 'acm',
      location: `region-${i}`,
      error: 'ThrottlingException',
    }));
    const { notification } = buildCertificateReport(
      classified([...many('gone', 25, -10), ...many('close', 11, 2), ...many('later', 6, 15)]),
      manyFailures,
      run(),
    );
    expect(
      notification.sections.map((section) => [section.title, section.lines.length, section.lines.at(-1)]),
    ).toEqual([
      ['🔴 Expired (25)', 11, '…and 15 more in the report'],
      ['🟠 Critical (11)', 11, '…and 1 more in the report'],
      ['🟡 Warning (6)', 6, '…and 1 more in the report'],
      ['⚠️ Sources not read (14)', 11, '…and 4 more in the report'],
    ]);
  });

  it('cuts a long name and a long action so every line stays short', () => {
    const { notification } = buildCertificateReport(
      classified([acm('x', { name: 'n'.repeat(500), notAfter: inDays(-1), renewsAutomatically: false })]),
      [],
      run(),
    );
    const [line] = notification.sections[0]?.lines ?? [];
    expect(line).toMatch(
      /^n{79}… · ACM eu-west-1 · expired 1 day ago \(2026-12-01\) — ACM will not renew it/,
    );
    expect(line?.length).toBe(240);
    expect(line?.endsWith('…')).toBe(true);
  });

  it('heads the summary with a sentence only when something is expired or critical', () => {
    const reason = (certificates: ObservedCertificate[], sourceFailures: SourceFailure[] = []) =>
      buildCertificateReport(classified(certificates), sourceFailures, run()).notification.reasonText;
    expect(reason(observed)).toBe(
      '2 certificates have expired and 2 more are critical (under 7 days left, or a problem that needs action now).',
    );
    expect(reason([acm('a', { notAfter: inDays(-2) })])).toBe('1 certificate has expired.');
    expect(reason([acm('a', { notAfter: inDays(-2) }), acm('b', { notAfter: inDays(-2) })])).toBe(
      '2 certificates have expired.',
    );
    expect(reason([unreachable])).toBe(
      '1 certificate is critical (under 7 days left, or a problem that needs action now).',
    );
    expect(reason([acm('a', { notAfter: inDays(10) })], failures)).toBeUndefined();
  });

  it('names the certificate of an ACM event as the subject, by its ARN when it was not collected', () => {
    const event = (certificateArn: string): ReportTrigger => ({
      kind: 'acm-event',
      detailType: 'ACM Certificate Approaching Expiration',
      certificateArn,
      region: 'eu-west-1',
    });
    const subject = (trigger: ReportTrigger) =>
      buildCertificateReport(classified(), [], run({ trigger })).notification.subject;
    expect(subject(event(acmArn('soon')))).toBe('soon.example.com');
    expect(subject(event(acmArn('deleted')))).toBe(acmArn('deleted'));
    expect(subject({ kind: 'schedule' })).toBeUndefined();
    expect(
      buildCertificateReport(classified(), [], run({ trigger: event(acmArn('soon')) })).notification.facts.at(
        -2,
      ),
    ).toEqual({ label: 'Trigger', value: 'ACM Certificate Approaching Expiration (eu-west-1)' });
  });

  it('passes the notifier’s schema and builds a message within Block Kit’s limits, even for 10,000 bad lines', () => {
    const worst = Array.from({ length: 10_000 }, (_, i) =>
      acm(`c${i}`, {
        name: `<!channel> ${'w'.repeat(300)} ${i}`,
        notAfter: inDays((i % 3) * 4 - 5),
        problems: [{ code: `code-${i % 7}`, text: `&<> ${'p'.repeat(1_000)}` }],
      }),
    );
    const manyFailures = Array.from({ length: 50 }, (_, i) => ({
      source: 'cert-manager',
      location: `cluster-${i}`,
      error: 'e'.repeat(2_000),
    }));
    for (const certificates of [observed, worst]) {
      const { notification } = buildCertificateReport(classified(certificates), manyFailures, run());
      const parsed = safeParse(runbookReportSchema, asRunbookReport(notification));
      expect(parsed.success).toBe(true);
      const message = buildSlackMessage(asRunbookReport(notification), { environment: 'production' });
      expect(message.blocks.length).toBeLessThanOrEqual(50);
      for (const block of message.blocks) {
        const texts =
          block.type === 'context'
            ? block.elements.map((element) => element.text)
            : block.type === 'actions'
              ? []
              : [block.text.text];
        for (const text of texts) expect(text.length).toBeLessThanOrEqual(3_000);
      }
      // The summary's own count is the only one: every line it shows fits its block.
      const sections = message.blocks.flatMap((block) => (block.type === 'section' ? [block.text.text] : []));
      expect(sections.filter((text) => /\n…and \d+ more$/.test(text))).toEqual([]);
      expect(JSON.stringify(message)).not.toContain('<!channel>');
    }
  });
});

describe('when a certificate expires, in words', () => {
  it.each([
    [inDays(-3), 'expired 3 days ago (2026-11-29)'],
    [inDays(-3.5), 'expired 3 days ago (2026-11-29)'],
    [inDays(-1), 'expired 1 day ago (2026-12-01)'],
    [new Date(now.getTime() - 60_000).toISOString(), 'expired less than a day ago (2026-12-02)'],
    [new Date(now.getTime() + 60_000).toISOString(), 'expires in less than a day (2026-12-02)'],
    [inDays(1), 'expires in 1 day (2026-12-03)'],
    [inDays(5.2), 'expires in 5 days (2026-12-07)'],
  ])('%s is "%s"', (notAfter, expected) => {
    expect(whenText({ notAfter, expiringCertificate: null }, now)).toBe(expected);
  });

  it('names the certificate of the chain that expires first, and says when the expiry is unknown', () => {
    expect(whenText({ notAfter: inDays(5), expiringCertificate: 'CN=Example Intermediate R3' }, now)).toBe(
      'expires in 5 days (2026-12-07, CN=Example Intermediate R3 in the chain)',
    );
    expect(whenText({ notAfter: null, expiringCertificate: null }, now)).toBe('expiry unknown');
  });
});

describe('the Markdown report', () => {
  const markdown = (certificates = observed, sourceFailures = failures) =>
    buildCertificateReport(classified(certificates), sourceFailures, run()).markdown;

  it('has a heading, the counts, one table per severity, the sources not read and a legend of problem codes', () => {
    const text = markdown();
    const headings = text.split('\n').filter((line) => line.startsWith('#'));
    expect(headings).toEqual([
      '# Certificate check: production',
      '## Expired (2)',
      '## Critical (2)',
      '## Warning (1)',
      '## OK (2)',
      '## Sources not read (1)',
      '## Problem codes',
    ]);
    expect(text).toContain(
      'Generated 2026-12-02 12:00 UTC by execution `daily-42`, started by the schedule.',
    );
    expect(text).toContain(
      [
        '| Severity | Certificates |',
        '| --- | ---: |',
        '| Expired | 2 |',
        '| Critical | 2 |',
        '| Warning | 1 |',
        '| OK | 2 |',
        '| **Total** | **7** |',
        '| Sources not read | 1 |',
      ].join('\n'),
    );
    expect(text).toContain(
      '| Certificate | Location | Expires | Days | What to do |\n| --- | --- | --- | ---: | --- |\n' +
        `| imported.example.com<br>\`${acmArn('imported')}\`<br>problems: \`imported\` | ACM eu-west-1 | ` +
        '2026-11-29 12:00 UTC<br>expired 3 days ago (2026-11-29) | -3 | ' +
        '1. Imported into ACM, so it never renews: import a renewed certificate over it (aws acm import-certificate --certificate-arn …).' +
        '<br>2. Imported into ACM, so it never renews: re-import the renewed certificate. |',
    );
    expect(text).toContain(
      '| legacy.example.com:443<br>`legacy.example.com:443 (legacy.example.com)`<br>problems: `unreachable` | endpoint | unknown | - | 1. Unreachable (timeout)',
    );
    expect(text).toContain(
      '| Source | Location | Error |\n| --- | --- | --- |\n| acm | ap-south-1 | ThrottlingException: Rate exceeded |',
    );
    expect(text).toContain(
      '| Code | Meaning | Certificates |\n| --- | --- | ---: |\n' +
        '| `imported` | Imported into ACM: ACM never renews it. | 1 |\n' +
        '| `unreachable` | The probe could not connect or finish the TLS handshake: the expiry is unknown. | 1 |',
    );
    expect(text.endsWith('|\n')).toBe(true);
  });

  it('says so when a severity is empty and every source was read, and has no legend without problems', () => {
    const text = markdown([acm('fine')], []);
    expect(text).toContain('## Expired (0)\n\nNone.');
    expect(text).toContain('## Sources not read (0)\n\nNone: every source was read.');
    expect(text).not.toContain('## Problem codes');
  });

  it('explains an unknown problem code by its first sentence, and counts each code once per certificate', () => {
    const odd = (id: string) =>
      acm(id, {
        problems: [
          { code: 'new-check', text: 'Something new: do this.' },
          { code: 'new-check', text: 'Said twice.' },
        ],
      });
    expect(markdown([odd('a'), odd('b')], [])).toContain('| `new-check` | Something new: do this. | 2 |');
  });

  it('keeps names from other systems from breaking a table or rendering as HTML or emphasis', () => {
    const text = markdown(
      [acm('evil', { name: '*.example.com | <img src=x> _x_\nnext', inUseBy: ['a|b', 'c', 'd', 'e'] })],
      [{ source: 'cert-manager', location: 'prod|eks', error: 'line one\nline two <b>' }],
    );
    const row = text.split('\n').find((line) => line.includes('example.com \\|'));
    expect(row).toContain(
      '\\*.example.com \\| &lt;img src=x&gt; \\_x\\_ next<br>`' +
        acmArn('evil') +
        '`<br>used by `a\\|b`, `c`, `d` and 1 more |',
    );
    expect(text).toContain('| cert-manager | prod\\|eks | line one line two &lt;b&gt; |');
  });
});

describe('run facts', () => {
  it('names a failed step as a source failure, with the message of a Lambda error', () => {
    const lambdaCause = JSON.stringify({
      errorType: 'KubernetesUnreachable',
      errorMessage: 'prod-eks: connect ETIMEDOUT',
      trace: ['at connect'],
    });
    expect(failedPartFailure('cert-manager', { Error: 'KubernetesUnreachable', Cause: lambdaCause })).toEqual(
      {
        source: 'cert-manager',
        location: '-',
        error: 'KubernetesUnreachable: prod-eks: connect ETIMEDOUT',
      },
    );
    expect(failedPartFailure('endpoints', { Error: 'States.Timeout', Cause: ' Task timed out ' }).error).toBe(
      'States.Timeout: Task timed out',
    );
    expect(failedPartFailure('aws', { Error: 'Lambda.Unknown' }).error).toBe('Lambda.Unknown');
    const long = failedPartFailure('aws', { Error: 'E', Cause: 'c'.repeat(5_000) }).error;
    expect(long).toHaveLength(1_000);
    expect(long.endsWith('…')).toBe(true);
  });

  it('files the reports by day and execution, and links the S3 console', () => {
    expect(reportKeys('daily-42', now)).toEqual({
      reportKey: 'certificate-check/reports/2026-12-02/daily-42.json',
      markdownKey: 'certificate-check/reports/2026-12-02/daily-42.md',
    });
    expect(
      s3ConsoleUrl('reports-bucket', 'certificate-check/reports/2026-12-02/daily-42.md', 'eu-west-1'),
    ).toBe(
      'https://s3.console.aws.amazon.com/s3/object/reports-bucket?region=eu-west-1&bucketType=general&prefix=certificate-check%2Freports%2F2026-12-02%2Fdaily-42.md',
    );
  });
});
