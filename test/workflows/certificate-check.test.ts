import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rehearsal, type RehearsalResult } from '../harness/rehearsal';
import { REPORT_BUCKET, certificatesOf } from '../harness/certificates/peers';
import { rehearsedRunbook } from '../harness/certificates/rehearsal';
import type { RunbooksConfig } from '../../lib/config/schema';

// The certificate check's real ASL file and handlers against simulated ACM (three regions), IAM, load
// balancers, a report bucket, a simulated Kubernetes API server with cert-manager Certificates, live TLS
// servers on loopback and a real Slack receiver.

let rehearsal: Rehearsal<RunbooksConfig>;
const stdout: string[] = [];
const write = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  rehearsal = await Rehearsal.start(rehearsedRunbook);
  // The report step's Embedded Metric Format lines, as CloudWatch Logs would receive them.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) {
      stdout.push(...text.split('\n').filter((line) => line.includes('"_aws"')));
      return true;
    }
    return (write as (chunk: string | Uint8Array, ...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
});
afterAll(async () => {
  process.stdout.write = write;
  await rehearsal.close();
});

interface ReportDocument {
  counts: Record<string, number>;
  total: number;
  sourceFailures: Array<{ source: string; location: string; error: string }>;
  certificates: Array<{
    id: string;
    name: string;
    source: string;
    severity: string;
    problems: Array<{ code: string }>;
  }>;
}

async function run(name: string): Promise<{ result: RehearsalResult; reports: ReportDocument[] }> {
  stdout.length = 0;
  const [result] = await rehearsal.runScenario(name);
  if (!result) throw new Error(`scenario ${name} ran nothing`);
  const objects = certificatesOf(rehearsal).objects(REPORT_BUCKET);
  const reports = [...objects.entries()]
    .filter(([key]) => key.startsWith('certificate-check/reports/') && key.endsWith('.json'))
    .map(([, object]) => JSON.parse(object.body) as ReportDocument);
  return { result, reports };
}

const emf = () => stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
const slackText = () => rehearsal.slack.messages.map((message) => JSON.stringify(message.body)).join('\n');
const lifecycle = () => rehearsal.account.events.map((event) => event.detailType);

describe('the daily certificate check', () => {
  it('reads every source, writes one report, publishes DaysToExpiry and tells Slack what to do, worst first', async () => {
    const { result, reports } = await run('daily-check');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      expect.arrayContaining([
        'ReadTrigger',
        'CollectAll',
        'CollectAws',
        'CollectCertManager',
        'ProbeEndpoints',
        'Report',
        'NotifyReport',
        'PublishSucceeded',
      ]),
    );
    const [report] = reports;
    expect(reports).toHaveLength(1);
    const severityOf = (match: (line: ReportDocument['certificates'][number]) => boolean) =>
      report?.certificates.find(match)?.severity;
    // ACM: eu-west-1, us-east-1 (CloudFront) and the configured eu-central-1.
    expect(severityOf((line) => line.name === 'api.example.com')).toBe('critical');
    expect(severityOf((line) => line.name === 'partner.example.com')).toBe('warning');
    expect(severityOf((line) => line.name === 'cdn.example.com')).toBe('ok');
    expect(severityOf((line) => line.name === 'legacy.example.com')).toBe('expired');
    // IAM, used by the load balancer's listener.
    expect(severityOf((line) => line.source === 'iam')).toBe('warning');
    // cert-manager: the Certificate its issuer refuses is critical.
    expect(severityOf((line) => line.source === 'cert-manager' && line.name.includes('payments'))).toBe(
      'critical',
    );
    expect(severityOf((line) => line.source === 'cert-manager' && line.name.includes('checkout'))).toBe('ok');
    // Live endpoints: valid, expiring in 5 days, wrong host name, refused.
    const endpoints = report?.certificates.filter((line) => line.source === 'endpoint') ?? [];
    expect(endpoints).toHaveLength(4);
    const endpoint = (sni: string) => endpoints.find((line) => line.id.includes(`(${sni})`));
    expect(endpoint('shop.rehearsal.test')?.severity).toBe('ok');
    expect(endpoint('pay.rehearsal.test')?.severity).toBe('critical');
    expect(endpoint('api.rehearsal.test')?.problems.map((problem) => problem.code)).toContain(
      'hostname-mismatch',
    );
    expect(endpoint('gone.rehearsal.test')?.problems.map((problem) => problem.code)).toEqual(['unreachable']);
    expect(report?.sourceFailures).toEqual([]);

    // The probes' private CA is trusted: the valid endpoint has no trust problem.
    expect(endpoint('shop.rehearsal.test')?.problems).toEqual([]);

    const metrics = emf();
    const days = metrics.filter((line) => 'DaysToExpiry' in line);
    expect(days.length).toBeGreaterThanOrEqual(9);
    expect(days.find((line) => String(line.Certificate).includes('shop.rehearsal.test'))).toMatchObject({
      Environment: 'prod',
      Source: 'endpoint',
    });
    expect(metrics.find((line) => 'EarliestDaysToExpiry' in line)).toMatchObject({
      EarliestDaysToExpiry: -4,
    });

    expect(rehearsal.slack.messages).toHaveLength(1);
    const text = slackText();
    expect(text).toContain('needs attention');
    expect(text).toContain('legacy.example.com');
    expect(text.indexOf('legacy.example.com')).toBeLessThan(text.indexOf('partner.example.com'));
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
    expect(rehearsal.account.pages).toHaveLength(0);
  });

  it('reads 10,000 ACM certificates in ten pages and describes only those near expiry', async () => {
    const { result, reports } = await run('ten-thousand-certificates');
    expect(result.status).toBe('SUCCEEDED');
    const calls = certificatesOf(rehearsal);
    expect(calls.callsTo('acm', 'ListCertificates', 'eu-west-1')).toBe(10);
    expect(calls.callsTo('acm', 'DescribeCertificate', 'eu-west-1')).toBe(20);
    expect(reports[0]?.certificates.filter((line) => line.source === 'acm')).toHaveLength(10_000);
    expect(reports[0]?.counts.warning).toBeGreaterThanOrEqual(20);
  });

  it('reports a throttled region and a failing load balancer API as sources not read, and the rest as usual', async () => {
    const { result, reports } = await run('throttled-regions');
    expect(result.status).toBe('SUCCEEDED');
    const failures = reports[0]?.sourceFailures ?? [];
    expect(failures.map(({ source, location }) => `${source}@${location}`).sort()).toEqual([
      'acm@us-east-1',
      'load-balancer@eu-central-1',
    ]);
    expect(failures.find((failure) => failure.source === 'acm')?.error).toMatch(
      /^AcmUnavailable: ListCertificates failed: ThrottlingException/,
    );
    expect(reports[0]?.certificates.some((line) => line.name === 'cdn.example.com')).toBe(false);
    expect(reports[0]?.certificates.some((line) => line.name === 'legacy.example.com')).toBe(true);
    expect(slackText()).toContain('Sources not read');
    expect(emf().find((line) => 'SourceFailures' in line)).toMatchObject({ SourceFailures: 2 });
  });

  it('still writes the report when the probe step fails, naming the endpoints as not read', async () => {
    const { result, reports } = await run('probe-step-crashes');
    expect(result.status).toBe('SUCCEEDED');
    expect(reports[0]?.sourceFailures).toEqual([
      expect.objectContaining({ source: 'endpoints', error: expect.stringContaining('Runtime.ExitError') }),
    ]);
    expect(reports[0]?.certificates.some((line) => line.source === 'endpoint')).toBe(false);
    expect(reports[0]?.certificates.some((line) => line.source === 'acm')).toBe(true);
  });

  it('pages on-call once and tells Slack when the report cannot be written', async () => {
    const { result, reports } = await run('report-not-written');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      expect.arrayContaining(['DescribePage', 'PageOnCall', 'NotifyFailed', 'Escalated']),
    );
    expect(reports).toHaveLength(0);
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(slackText()).toContain('S3Unavailable');
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookFailed']);
  });
});

describe('a certificate check started by ACM', () => {
  it('reads only the certificate an Expired event names, and tells Slack about it', async () => {
    const { result, reports } = await run('acm-expired-event');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toContain('CollectEventCertificate');
    expect(result.states).not.toContain('ProbeEndpoints');
    const calls = certificatesOf(rehearsal);
    expect(calls.callsTo('acm', 'ListCertificates')).toBe(0);
    expect(calls.callsTo('acm', 'DescribeCertificate', 'eu-central-1')).toBe(1);
    expect(reports[0]?.certificates.map((line) => [line.name, line.severity])).toEqual([
      ['legacy.example.com', 'expired'],
    ]);
    expect(rehearsal.slack.messages).toHaveLength(1);
    expect(rehearsal.slack.messages[0]?.body.text).toContain('legacy.example.com');
  });

  it('stays quiet in Slack for an Approaching Expiration event of a certificate only at warning', async () => {
    const { result, reports } = await run('acm-approaching-quiet');
    expect(result.status).toBe('SUCCEEDED');
    expect(reports[0]?.certificates.map((line) => line.severity)).toEqual(['warning']);
    expect(result.states).not.toContain('NotifyReport');
    expect(rehearsal.slack.messages).toHaveLength(0);
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
  });

  it('reports a certificate deleted since its event as not read, and acts on nothing', async () => {
    const { result, reports } = await run('acm-event-certificate-gone');
    expect(result.status).toBe('SUCCEEDED');
    expect(reports[0]?.certificates).toEqual([]);
    expect(reports[0]?.sourceFailures).toEqual([
      expect.objectContaining({
        source: 'acm',
        location: 'eu-west-1',
        error: expect.stringMatching(/ResourceNotFoundException/),
      }),
    ]);
  });

  it('rejects malformed events by name, before any API call', async () => {
    stdout.length = 0;
    const results = await rehearsal.runScenario('malformed-events');
    expect(results.map((result) => result.status)).toEqual([
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
    ]);
    for (const result of results) {
      expect(result.states).toEqual(['Describe', 'ReadTrigger', 'NotifyRejected', 'Rejected']);
    }
    expect(certificatesOf(rehearsal).calls).toEqual([]);
    const texts = rehearsal.slack.messages.map((message) => JSON.stringify(message.body));
    expect(texts).toHaveLength(4);
    expect(texts[0]).toContain('detail-type');
    expect(texts[1]).toContain('resources');
    expect(texts[2]).toContain('999988887777');
    expect(texts[3]).toContain('ap-southeast-2');
    expect(lifecycle()).toEqual([]);
  });
});
