import { createHash } from 'node:crypto';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger } from '../shared/logger';
import { SEVERITIES, type ClassifiedCertificate } from './classify';
import { CERTIFICATE_METRICS_NAMESPACE, CertificateDimension, CertificateMetric } from './metric-names';
import { countBySeverity } from './report';

// The run's metrics as Embedded Metric Format log lines (Powertools Metrics): CloudWatch extracts them from the
// function's log group, no API call and no PutMetricData quota. One EMF document holds one value per dimension,
// so each certificate is a document of its own.

/** CloudWatch's limit on a dimension value (API Reference, `Dimension`): 1,024 ASCII characters. */
export const MAX_DIMENSION_VALUE = 1_024;

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;
const DIGEST_LENGTH = 16;

export interface CertificateMetricsInput {
  environment: string;
  certificates: readonly Pick<ClassifiedCertificate, 'source' | 'id' | 'severity' | 'daysToExpiry'>[];
  sourceFailures: number;
}

export interface PublishOptions {
  /** Written on every document as a property, not a dimension. @default POWERTOOLS_SERVICE_NAME */
  serviceName?: string;
}

/**
 * Writes `DaysToExpiry` per line with a known expiry (Environment, Source, Certificate), `EarliestDaysToExpiry`
 * and `SourceFailures` (Environment), and `Certificates` per severity, zeros included (Environment, Severity).
 * Returns the number of EMF documents (Powertools writes none when POWERTOOLS_METRICS_DISABLED is set).
 *
 * Not `singleMetric()`: each of its instances adds Powertools' `service` default dimension back, and the
 * construct's alarms read exactly the dimensions of metric-names.ts (a metric with one more dimension is a
 * different metric, and the alarm would see no data). One instance, published after each document, also
 * costs one Console for the run instead of one per certificate.
 */
export function publishCertificateMetrics(
  input: CertificateMetricsInput,
  { serviceName = process.env.POWERTOOLS_SERVICE_NAME }: PublishOptions = {},
): number {
  const metrics = new Metrics({ namespace: CERTIFICATE_METRICS_NAMESPACE, logger });
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ [CertificateDimension.environment]: input.environment });
  let documents = 0;
  const publish = (dimensions: Record<string, string>, add: () => void): void => {
    for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
    if (serviceName) metrics.addMetadata('service', serviceName);
    add();
    metrics.publishStoredMetrics();
    documents++;
  };

  let earliest: number | undefined;
  for (const certificate of input.certificates) {
    const days = certificate.daysToExpiry;
    if (days === undefined) continue;
    earliest = earliest === undefined ? days : Math.min(earliest, days);
    publish(
      {
        [CertificateDimension.source]: certificate.source,
        [CertificateDimension.certificate]: certificateDimension(certificate.id),
      },
      () => metrics.addMetric(CertificateMetric.daysToExpiry, MetricUnit.NoUnit, days),
    );
  }
  const counts = countBySeverity(input.certificates);
  for (const severity of SEVERITIES) {
    publish({ [CertificateDimension.severity]: severity }, () =>
      metrics.addMetric(CertificateMetric.certificates, MetricUnit.Count, counts[severity]),
    );
  }
  // No known expiry at all (every endpoint unreachable): no EarliestDaysToExpiry, and the alarm, which treats
  // missing data as breaching, pages. A made-up value would hide it.
  publish({}, () => {
    if (earliest !== undefined) {
      metrics.addMetric(CertificateMetric.earliestDaysToExpiry, MetricUnit.NoUnit, earliest);
    }
    metrics.addMetric(CertificateMetric.sourceFailures, MetricUnit.Count, input.sourceFailures);
  });
  return documents;
}

/**
 * The Certificate dimension of a line: its id when CloudWatch accepts it, else a printable-ASCII prefix and a
 * digest of the whole id, so the value is the same every run and two long ids sharing a prefix stay apart.
 */
export function certificateDimension(id: string): string {
  if (id.length <= MAX_DIMENSION_VALUE && PRINTABLE_ASCII.test(id) && id.trim() !== '') return id;
  const digest = createHash('sha256').update(id).digest('hex').slice(0, DIGEST_LENGTH);
  const prefix = id.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_DIMENSION_VALUE - DIGEST_LENGTH - 1);
  return `${prefix}#${digest}`;
}
