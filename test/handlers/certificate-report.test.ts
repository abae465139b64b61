import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { safeParse } from 'zod/v4/core';
import type { ObservedCertificate } from '../../lambdas/certificates/certificate';
import {
  partKey,
  type CollectedPart,
  type PartName,
  type PartSummary,
} from '../../lambdas/certificates/parts';
import type { CertificateReportDocument } from '../../lambdas/certificates/report';
import { runbookReportSchema } from '../../lambdas/notify/report';
import { buildSlackMessage } from '../../lambdas/notify/slack-message';

// Vitest gives dummy credentials and a closed endpoint; every S3 call is answered here, from `objects`.
const s3Mock = mockClient(S3Client);
const BUCKET = 'platform-runbooks-reports-111122223333';
const DAY_MS = 86_400_000;
const inDays = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString();

const execution = {
  id: 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-production-certificates:daily-42',
  name: 'daily-42',
  startTime: '2026-12-02T06:00:00Z',
};

/** The bucket: key → body, as the collecting steps left it. */
let objects: Map<string, string>;
let written: PutObjectCommandInput[];
let stdout: string[];

beforeEach(() => {
  objects = new Map();
  written = [];
  stdout = [];
  s3Mock.reset();
  s3Mock.on(GetObjectCommand).callsFake(async (input: { Bucket?: string; Key?: string }) => {
    const body = input.Bucket === BUCKET ? objects.get(String(input.Key)) : undefined;
    if (body === undefined) {
      throw new NoSuchKey({
        message: 'The specified key does not exist.',
        $metadata: { httpStatusCode: 404 },
      });
    }
    return { Body: { transformToString: () => Promise.resolve(body) } as never };
  });
  s3Mock.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
    written.push(input);
    return {};
  });
  // The EMF lines (and any log line) the function writes, kept off the test output and read by the tests.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
});

afterAll(() => {
  s3Mock.restore();
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** A fresh handler module, reading its environment as at a cold start. */
async function coldStart(env: Record<string, string> = {}) {
  vi.resetModules();
  vi.stubEnv('REPORT_BUCKET', BUCKET);
  vi.stubEnv('ENVIRONMENT_NAME', 'production');
  vi.stubEnv('WARNING_DAYS', '30');
  vi.stubEnv('CRITICAL_DAYS', '7');
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'certificates-report');
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  return import('../../lambdas/certificates/handlers/report');
}

const acm = (
  id: string,
  days: number | undefined,
  overrides: Partial<ObservedCertificate> = {},
): ObservedCertificate => ({
  source: 'acm',
  id: `arn:aws:acm:eu-west-1:111122223333:certificate/${id}`,
  name: `${id}.example.com`,
  location: 'eu-west-1',
  ...(days !== undefined && { notAfter: inDays(days + 0.5) }),
  renewsAutomatically: true,
  inUseBy: [],
  problems: [],
  ...overrides,
});

/** Leaves a part in the bucket as its step would, and returns the summary the step put in the state. */
function storedPart(part: PartName, body: Omit<CollectedPart, 'part' | 'collectedAt'>): PartSummary {
  const key = partKey(execution.name, part);
  objects.set(key, JSON.stringify({ part, collectedAt: new Date().toISOString(), ...body }));
  return {
    part,
    bucket: BUCKET,
    key,
    certificates: body.certificates.length,
    failures: body.failures.length,
  };
}

const summaryOnly = (part: PartName): PartSummary => ({
  part,
  bucket: BUCKET,
  key: partKey(execution.name, part),
  certificates: 1,
  failures: 0,
});

const writtenAt = (key: string) => written.find((put) => put.Key === key);
const reportDocument = (key: string) => JSON.parse(String(writtenAt(key)?.Body)) as CertificateReportDocument;
const emfLines = () =>
  stdout
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the report step', () => {
  it('reads every part, writes the JSON and Markdown reports, publishes the metrics and answers a small summary', async () => {
    const { handler } = await coldStart();
    const parts = [
      storedPart('aws', {
        certificates: [acm('gone', -3), acm('soon', 3), acm('fine', 200)],
        failures: [{ source: 'acm', location: 'ap-south-1', error: 'ThrottlingException: Rate exceeded' }],
      }),
      storedPart('cert-manager', {
        certificates: [
          {
            source: 'cert-manager',
            id: 'shop/web-tls',
            name: 'shop/web-tls',
            location: 'prod-eks',
            notAfter: inDays(20.5),
            renewsAutomatically: true,
            inUseBy: [],
            problems: [],
          },
        ],
        failures: [],
      }),
      storedPart('endpoints', {
        certificates: [
          {
            source: 'endpoint',
            id: 'legacy.example.com:443 (legacy.example.com)',
            name: 'legacy.example.com:443',
            renewsAutomatically: false,
            inUseBy: [],
            problems: [{ code: 'unreachable', text: 'Unreachable (timeout): check the endpoint.' }],
          },
        ],
        failures: [],
      }),
    ];
    const result = await handler({ execution, trigger: { kind: 'schedule' }, parts });

    const date = /^certificate-check\/reports\/\d{4}-\d{2}-\d{2}\/daily-42\.(json|md)$/;
    expect(result).toMatchObject({
      counts: { expired: 1, critical: 2, warning: 1, ok: 1 },
      total: 5,
      sourceFailures: 1,
      reportKey: expect.stringMatching(date),
      markdownKey: result.reportKey.replace(/\.json$/, '.md'),
    });
    expect(written.map((put) => [put.Bucket, put.Key, put.ContentType]).sort()).toEqual(
      [
        [BUCKET, result.reportKey, 'application/json'],
        [BUCKET, result.markdownKey, 'text/markdown; charset=utf-8'],
      ].sort(),
    );
    const document = reportDocument(result.reportKey);
    expect(result.reportKey).toContain(`/${document.generatedAt.slice(0, 10)}/`);
    expect(document.certificates.map((line) => [line.severity, line.name])).toEqual([
      ['expired', 'gone.example.com'],
      ['critical', 'legacy.example.com:443'],
      ['critical', 'soon.example.com'],
      ['warning', 'shop/web-tls'],
      ['ok', 'fine.example.com'],
    ]);
    expect(document).toMatchObject({
      environment: 'production',
      execution,
      trigger: { kind: 'schedule' },
      thresholds: { warningDays: 30, criticalDays: 7 },
    });
    expect(String(writtenAt(result.markdownKey)?.Body)).toMatch(/^# Certificate check: production\n/);

    const emf = emfLines();
    expect(emf.filter((line) => 'DaysToExpiry' in line).map((line) => line.Certificate)).toHaveLength(4);
    expect(emf.at(-1)).toMatchObject({
      Environment: 'production',
      EarliestDaysToExpiry: -3,
      SourceFailures: 1,
    });

    expect(result.notification).toMatchObject({
      runbook: 'certificates',
      title: 'Certificate check',
      // The check ran; what it found needs someone.
      outcome: 'attention',
      reasonText: expect.stringMatching(/^1 certificate has expired and 2 more are critical/),
      links: [
        {
          label: 'Report',
          url: `https://s3.console.aws.amazon.com/s3/object/${BUCKET}?region=eu-west-1&bucketType=general&prefix=${encodeURIComponent(result.markdownKey)}`,
        },
      ],
      execution,
    });
    expect(result.notification).not.toHaveProperty('subject');
    expect(result.notification.sections.map((section) => section.title)).toEqual([
      '🔴 Expired (1)',
      '🟠 Critical (2)',
      '🟡 Warning (1)',
      '⚠️ Sources not read (1)',
    ]);
    expect(safeParse(runbookReportSchema, result.notification).success).toBe(true);
  });

  it('names a failed branch as a source failure and still writes the report', async () => {
    const { handler } = await coldStart();
    const cause = JSON.stringify({
      errorType: 'KubernetesUnreachable',
      errorMessage: 'prod-eks: connect ETIMEDOUT',
    });
    const result = await handler({
      execution,
      trigger: { kind: 'schedule' },
      parts: [
        storedPart('aws', { certificates: [acm('fine', 100)], failures: [] }),
        { part: 'cert-manager', failed: { Error: 'KubernetesUnreachable', Cause: cause } },
        { part: 'endpoints', failed: { Error: 'States.Timeout' } },
      ],
    });
    expect(result).toMatchObject({ total: 1, sourceFailures: 2, counts: { ok: 1 } });
    expect(reportDocument(result.reportKey).sourceFailures).toEqual([
      { source: 'cert-manager', location: '-', error: 'KubernetesUnreachable: prod-eks: connect ETIMEDOUT' },
      { source: 'endpoints', location: '-', error: 'States.Timeout' },
    ]);
    expect(result.notification.sections.at(-1)?.lines).toEqual([
      'cert-manager: KubernetesUnreachable: prod-eks: connect ETIMEDOUT',
      'endpoints: States.Timeout',
    ]);
  });

  it('counts a missing or unreadable part as a source failure and still writes the report', async () => {
    const { handler } = await coldStart();
    const unreadable = storedPart('endpoints', { certificates: [], failures: [] });
    objects.set(
      unreadable.key,
      JSON.stringify({ part: 'endpoints', collectedAt: 'x', certificates: [{ id: 1 }] }),
    );
    const notJson = storedPart('cert-manager', { certificates: [], failures: [] });
    objects.set(notJson.key, '{"part":');
    const result = await handler({
      execution,
      trigger: { kind: 'schedule' },
      parts: [summaryOnly('aws'), notJson, unreadable],
    });
    const failures = reportDocument(result.reportKey).sourceFailures;
    expect(failures.map(({ source, location }) => [source, location])).toEqual([
      ['aws', '-'],
      ['cert-manager', '-'],
      ['endpoints', '-'],
    ]);
    expect(failures[0]?.error).toBe(
      `S3InvalidObject: s3://${BUCKET}/${partKey('daily-42', 'aws')} does not exist`,
    );
    expect(failures[1]?.error).toMatch(/^S3InvalidObject: s3:\/\/.+\/cert-manager\.json is not JSON/);
    expect(failures[2]?.error).toMatch(
      /^S3InvalidObject: s3:\/\/.+\/endpoints\.json is malformed: .*certificates\.0\.source/,
    );
    expect(result).toMatchObject({ total: 0, sourceFailures: 3 });
    expect(emfLines().at(-1)).toMatchObject({ SourceFailures: 3 });
  });

  it('lets S3 not answering a read or a write fail the step as S3Unavailable, for the workflow to retry', async () => {
    const { handler } = await coldStart();
    const throttled = () =>
      new S3ServiceException({
        name: 'SlowDown',
        $fault: 'server',
        $metadata: {},
        message: 'Please reduce your request rate.',
      });
    const input = () => ({
      execution,
      trigger: { kind: 'schedule' },
      parts: [storedPart('aws', { certificates: [acm('fine', 100)], failures: [] })],
    });
    s3Mock.on(PutObjectCommand).rejects(throttled());
    await expect(handler(input())).rejects.toMatchObject({ name: 'S3Unavailable' });
    s3Mock.on(GetObjectCommand).rejects(throttled());
    await expect(handler(input())).rejects.toMatchObject({
      name: 'S3Unavailable',
      message: expect.stringContaining(`GetObject s3://${BUCKET}/${partKey('daily-42', 'aws')}`),
    });
  });

  it('names the certificate of an ACM event in the summary', async () => {
    const { handler } = await coldStart();
    const certificate = acm('checkout', -1);
    const result = await handler({
      execution,
      trigger: {
        kind: 'acm-event',
        detailType: 'ACM Certificate Expired',
        certificateArn: certificate.id,
        region: 'eu-west-1',
        eventId: 'e-1',
      },
      parts: [storedPart('aws', { certificates: [certificate], failures: [] })],
    });
    expect(result.notification.subject).toBe('checkout.example.com');
    expect(reportDocument(result.reportKey).trigger).toEqual({
      kind: 'acm-event',
      detailType: 'ACM Certificate Expired',
      certificateArn: certificate.id,
      region: 'eu-west-1',
    });
  });

  it('refuses a malformed input, naming the field, before reading anything', async () => {
    const { handler } = await coldStart();
    const failure = (input: unknown) =>
      handler(input).then(
        () => undefined,
        (error: Error) => `${error.name}: ${error.message}`,
      );
    expect(
      await failure({ execution: { ...execution, name: '' }, trigger: { kind: 'schedule' }, parts: [] }),
    ).toMatch(/^InvalidInput: The report input is malformed: execution\.name: /);
    expect(await failure({ execution, trigger: { kind: 'cron' }, parts: [] })).toMatch(
      /^InvalidInput: .*trigger: must be \{kind: "schedule"\} or/,
    );
    expect(await failure({ execution, trigger: { kind: 'schedule' }, parts: [{ part: 'aws' }] })).toMatch(
      /^InvalidInput: .*parts\.0: must be a part summary/,
    );
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('refuses to start with unusable thresholds or without its bucket, naming the variable', async () => {
    await expect(coldStart({ WARNING_DAYS: 'thirty' })).rejects.toMatchObject({
      name: 'InvalidSetting',
      message: 'environment variable WARNING_DAYS must be a whole number of days, not "thirty"',
    });
    await expect(coldStart({ CRITICAL_DAYS: '30' })).rejects.toMatchObject({
      name: 'InvalidSetting',
      message: 'environment variable CRITICAL_DAYS (30) must be less than WARNING_DAYS (30)',
    });
    await expect(coldStart({ REPORT_BUCKET: '' })).rejects.toMatchObject({
      name: 'InvalidSetting',
      message: 'environment variable REPORT_BUCKET is not set',
    });
  });

  it('answers a few kilobytes for 10,000 certificates, all of them in the report', async () => {
    const { handler } = await coldStart();
    const certificates = Array.from({ length: 10_000 }, (_, i) =>
      acm(`c${String(i).padStart(5, '0')}`, (i % 60) - 10, {
        name: `service-${i}.${'long-subdomain.'.repeat(5)}example.com`,
        inUseBy: [
          `arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/lb-${i}/0123456789abcdef`,
        ],
      }),
    );
    const started = performance.now();
    const result = await handler({
      execution,
      trigger: { kind: 'schedule' },
      parts: [storedPart('aws', { certificates, failures: [] })],
    });
    const ms = performance.now() - started;
    const size = Buffer.byteLength(JSON.stringify(result));
    expect(size).toBeLessThan(16_000);
    expect(result.total).toBe(10_000);
    expect(reportDocument(result.reportKey).certificates).toHaveLength(10_000);
    expect(
      String(writtenAt(result.markdownKey)?.Body)
        .split('\n')
        .filter((line) => line.startsWith('| ')).length,
    ).toBeGreaterThan(10_000);
    expect(emfLines().filter((line) => 'DaysToExpiry' in line)).toHaveLength(10_000);
    const message = buildSlackMessage(result.notification, { environment: 'production' });
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    // Measured about 2 s on this 2-core machine; the function's timeout is 300 s.
    expect(ms).toBeLessThan(60_000);
  });
});
