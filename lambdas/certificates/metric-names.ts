// The check's metrics, as the report step publishes them (Embedded Metric Format) and the construct's alarms
// read them: one definition, so an alarm cannot watch a metric nobody writes.

export const CERTIFICATE_METRICS_NAMESPACE = 'PlatformRunbooks/CertificateCheck';

export const CertificateMetric = {
  /** Per certificate or endpoint; dimensions Environment, Source, Certificate (its id). */
  daysToExpiry: 'DaysToExpiry',
  /** The least DaysToExpiry of the run; dimension Environment. The check's alarm watches it. */
  earliestDaysToExpiry: 'EarliestDaysToExpiry',
  /** Lines per severity; dimensions Environment, Severity. */
  certificates: 'Certificates',
  /** Sources the run could not read (a region, a cluster, a whole step); dimension Environment. */
  sourceFailures: 'SourceFailures',
} as const;

export const CertificateDimension = {
  environment: 'Environment',
  source: 'Source',
  certificate: 'Certificate',
  severity: 'Severity',
} as const;
