import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CertificateSource } from '../../lambdas/certificates/certificate';
import type { Severity } from '../../lambdas/certificates/classify';
import { CERTIFICATE_METRICS_NAMESPACE } from '../../lambdas/certificates/metric-names';
import {
  certificateDimension,
  MAX_DIMENSION_VALUE,
  publishCertificateMetrics,
  type CertificateMetricsInput,
} from '../../lambdas/certificates/metrics';

// Powertools writes each EMF document to stdout, as Lambda's log collector reads it: these tests read the same
// bytes and check every line against the EMF specification (CloudWatch_Embedded_Metric_Format_Specification).

interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every line `publish` writes to stdout, each parsed and checked as an EMF document, and how long it took. */
function publishedTimed(input: CertificateMetricsInput, serviceName = 'certificates-report') {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  const started = performance.now();
  const documents = publishCertificateMetrics(input, { serviceName });
  const ms = performance.now() - started;
  vi.restoreAllMocks();
  const lines = chunks.join('').split('\n');
  expect(lines.pop()).toBe('');
  const emf = lines.map((line) => JSON.parse(line) as EmfDocument);
  expect(emf.flatMap(emfProblems)).toEqual([]);
  expect(emf).toHaveLength(documents);
  return { emf, ms };
}

const published = (input: CertificateMetricsInput, serviceName?: string) =>
  publishedTimed(input, serviceName).emf;

const PRINTABLE_ASCII = /^[\x20-\x7e]*[^\s][\x20-\x7e]*$/;

/** What makes a document invalid EMF, or one CloudWatch would refuse to extract; empty when none. */
function emfProblems(document: EmfDocument, index: number): string[] {
  const problems: string[] = [];
  const fail = (problem: string) => problems.push(`document ${index}: ${problem}`);
  const { Timestamp, CloudWatchMetrics } = document._aws;
  if (!Number.isInteger(Timestamp) || Math.abs(Timestamp - Date.now()) > 60_000)
    fail(`Timestamp ${Timestamp}`);
  if (CloudWatchMetrics.length !== 1) fail(`${CloudWatchMetrics.length} directives`);
  for (const directive of CloudWatchMetrics) {
    if (directive.Namespace !== CERTIFICATE_METRICS_NAMESPACE) fail(`namespace ${directive.Namespace}`);
    if (directive.Dimensions.length === 0) fail('no dimension set');
    for (const set of directive.Dimensions) {
      if (set.length === 0 || set.length > 30) fail(`a dimension set of ${set.length}`);
      for (const key of set) {
        const value = document[key];
        if (typeof value !== 'string') fail(`dimension ${key} is ${typeof value}`);
        else if (!PRINTABLE_ASCII.test(value) || value.length > 1_024) fail(`dimension ${key} = ${value}`);
      }
    }
    if (directive.Metrics.length === 0 || directive.Metrics.length > 100) {
      fail(`${directive.Metrics.length} metrics`);
    }
    for (const metric of directive.Metrics) {
      if (!['None', 'Count'].includes(metric.Unit)) fail(`unit ${metric.Unit}`);
      if (typeof document[metric.Name] !== 'number')
        fail(`metric ${metric.Name} is ${typeof document[metric.Name]}`);
    }
  }
  return problems;
}

const line = (
  id: string,
  severity: Severity,
  daysToExpiry: number | undefined,
  source: CertificateSource = 'acm',
): CertificateMetricsInput['certificates'][number] => ({
  id,
  source,
  severity,
  ...(daysToExpiry !== undefined && { daysToExpiry }),
});

const dimensionsOf = (document: EmfDocument) => document._aws.CloudWatchMetrics[0]?.Dimensions;
const metricsOf = (document: EmfDocument) => document._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name);

describe('the certificate metrics', () => {
  it('writes DaysToExpiry per certificate, Certificates per severity, then the earliest expiry and failures', () => {
    const emf = published({
      environment: 'production',
      certificates: [
        line('arn:aws:acm:eu-west-1:111122223333:certificate/a', 'critical', 3),
        line('api.example.com:443 (api.example.com)', 'warning', 12, 'endpoint'),
        line('shop/web-tls', 'ok', 60, 'cert-manager'),
      ],
      sourceFailures: 2,
    });
    expect(emf.map((document) => ({ ...document, _aws: undefined }))).toEqual([
      {
        service: 'certificates-report',
        Environment: 'production',
        Source: 'acm',
        Certificate: 'arn:aws:acm:eu-west-1:111122223333:certificate/a',
        DaysToExpiry: 3,
      },
      {
        service: 'certificates-report',
        Environment: 'production',
        Source: 'endpoint',
        Certificate: 'api.example.com:443 (api.example.com)',
        DaysToExpiry: 12,
      },
      {
        service: 'certificates-report',
        Environment: 'production',
        Source: 'cert-manager',
        Certificate: 'shop/web-tls',
        DaysToExpiry: 60,
      },
      ...(['expired', 'critical', 'warning', 'ok'] as const).map((severity) => ({
        service: 'certificates-report',
        Environment: 'production',
        Severity: severity,
        Certificates: severity === 'expired' ? 0 : 1,
      })),
      {
        service: 'certificates-report',
        Environment: 'production',
        EarliestDaysToExpiry: 3,
        SourceFailures: 2,
      },
    ]);
    // Exactly the alarms' dimensions: Powertools' `service` is a property, so the metric is the one alarmed on.
    expect(emf.map(dimensionsOf)).toEqual([
      [['Environment', 'Source', 'Certificate']],
      [['Environment', 'Source', 'Certificate']],
      [['Environment', 'Source', 'Certificate']],
      ...Array.from({ length: 4 }, () => [['Environment', 'Severity']]),
      [['Environment']],
    ]);
    expect(emf.map(metricsOf)).toEqual([
      ['DaysToExpiry'],
      ['DaysToExpiry'],
      ['DaysToExpiry'],
      ...Array.from({ length: 4 }, () => ['Certificates']),
      ['EarliestDaysToExpiry', 'SourceFailures'],
    ]);
  });

  it('writes every severity, zeros included, and SourceFailures of 0 when everything was read', () => {
    const emf = published({ environment: 'staging', certificates: [], sourceFailures: 0 });
    expect(emf.map((document) => [document.Severity, document.Certificates])).toEqual([
      ['expired', 0],
      ['critical', 0],
      ['warning', 0],
      ['ok', 0],
      [undefined, undefined],
    ]);
    expect(emf.at(-1)).toMatchObject({ Environment: 'staging', SourceFailures: 0 });
  });

  it('skips the lines whose expiry is unknown, and writes no earliest expiry when none is known', () => {
    const unreachable = line('down.example.com:443', 'critical', undefined, 'endpoint');
    const some = published({
      environment: 'production',
      certificates: [unreachable, line('a', 'expired', -4), line('b', 'ok', 100)],
      sourceFailures: 0,
    });
    expect(
      some.filter((document) => 'DaysToExpiry' in document).map((document) => document.Certificate),
    ).toEqual(['a', 'b']);
    expect(some.at(-1)?.EarliestDaysToExpiry).toBe(-4);

    const none = published({ environment: 'production', certificates: [unreachable], sourceFailures: 1 });
    expect(none.some((document) => 'DaysToExpiry' in document)).toBe(false);
    expect(none.at(-1)).not.toHaveProperty('EarliestDaysToExpiry');
    expect(metricsOf(none.at(-1) as EmfDocument)).toEqual(['SourceFailures']);
  });

  it('writes no service property when the function has no service name', () => {
    const emf = published({ environment: 'production', certificates: [], sourceFailures: 0 }, '');
    for (const document of emf) expect(document).not.toHaveProperty('service');
  });

  it('publishes 10,000 certificates, one valid document each, in well under the function’s timeout', () => {
    const certificates = Array.from({ length: 10_000 }, (_, i) =>
      line(
        `arn:aws:acm:eu-west-1:111122223333:certificate/${String(i).padStart(8, '0')}`,
        'ok',
        40 + (i % 300),
      ),
    );
    const { emf, ms } = publishedTimed({ environment: 'production', certificates, sourceFailures: 0 });
    expect(emf).toHaveLength(10_005);
    expect(new Set(emf.slice(0, 10_000).map((document) => document.Certificate)).size).toBe(10_000);
    expect(emf.at(-1)?.EarliestDaysToExpiry).toBe(40);
    expect(emf.find((document) => document.Severity === 'ok')?.Certificates).toBe(10_000);
    // Measured about 0.4 s on this 2-core machine; the function's timeout is 300 s.
    expect(ms).toBeLessThan(30_000);
  });
});

describe('the Certificate dimension', () => {
  it('is the id itself when CloudWatch accepts it', () => {
    const id = 'api.example.com:443 (api.example.com)';
    expect(certificateDimension(id)).toBe(id);
    expect(certificateDimension('x'.repeat(MAX_DIMENSION_VALUE))).toBe('x'.repeat(MAX_DIMENSION_VALUE));
  });

  it('cuts a long id to CloudWatch’s limit the same way every run, keeping ids that share a prefix apart', () => {
    const long = 'a'.repeat(2_000);
    const cut = certificateDimension(long);
    expect(cut).toHaveLength(MAX_DIMENSION_VALUE);
    expect(cut).toMatch(/^a{1007}#[0-9a-f]{16}$/);
    expect(certificateDimension(long)).toBe(cut);
    expect(certificateDimension(`${long}b`)).not.toBe(cut);
    expect(certificateDimension('a'.repeat(MAX_DIMENSION_VALUE + 1))).not.toBe(cut);
  });

  it('makes an id with non-ASCII or control characters ASCII, still distinct', () => {
    const unicode = certificateDimension('bücher.example:443');
    expect(unicode).toMatch(/^b\?cher\.example:443#[0-9a-f]{16}$/);
    expect(certificateDimension('b\u00fccher.example:443')).toBe(unicode);
    expect(certificateDimension('bächer.example:443')).not.toBe(unicode);
    expect(certificateDimension('a\tb')).toMatch(/^a\?b#/);
    expect(certificateDimension(' ')).toMatch(/^ #[0-9a-f]{16}$/);
  });

  it('is what the EMF document carries for a long id', () => {
    const id = `ns/${'n'.repeat(1_500)}`;
    const [document] = published({
      environment: 'production',
      certificates: [line(id, 'ok', 90, 'cert-manager')],
      sourceFailures: 0,
    });
    expect(document?.Certificate).toBe(certificateDimension(id));
    expect((document?.Certificate as string).length).toBe(MAX_DIMENSION_VALUE);
  });
});
