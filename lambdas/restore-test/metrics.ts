import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger } from '../shared/logger';
import { RESTORE_TEST_METRICS_NAMESPACE, RestoreTestDimension, RestoreTestMetric } from './metric-names';
import type { RestoreTestReport } from './report';

/**
 * Writes the run's figures as one Embedded Metric Format document (no API call), dimensions Environment and
 * Database exactly: Powertools' `service` default dimension is removed, since the construct's alarms read
 * these two (a metric with one more dimension is another metric, and the alarm would see no data).
 * A figure the run did not measure is absent, not zero: an RTO alarm must not see a failed run as fast.
 * @returns the metric names written
 */
export function publishRestoreTestMetrics(
  report: RestoreTestReport,
  { serviceName = process.env.POWERTOOLS_SERVICE_NAME }: { serviceName?: string } = {},
): string[] {
  const metrics = new Metrics({ namespace: RESTORE_TEST_METRICS_NAMESPACE, logger });
  metrics.clearDefaultDimensions();
  metrics.addDimension(RestoreTestDimension.environment, report.environment);
  metrics.addDimension(RestoreTestDimension.database, report.database);
  if (serviceName) metrics.addMetadata('service', serviceName);
  metrics.addMetadata('execution', report.execution.id);
  const written: string[] = [];
  const add = (
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number | undefined,
  ) => {
    if (value === undefined) return;
    metrics.addMetric(name, unit, value);
    written.push(name);
  };
  const { figures } = report;
  add(RestoreTestMetric.failed, MetricUnit.Count, report.outcome === 'failed' ? 1 : 0);
  add(RestoreTestMetric.leftBehind, MetricUnit.Count, report.cleanup.leftBehind.length > 0 ? 1 : 0);
  add(RestoreTestMetric.rtoSeconds, MetricUnit.Seconds, figures.rtoSeconds);
  add(RestoreTestMetric.rpoSeconds, MetricUnit.Seconds, figures.rpoSeconds);
  add(RestoreTestMetric.snapshotAgeSeconds, MetricUnit.Seconds, figures.snapshotAgeSeconds);
  add(RestoreTestMetric.restoreSeconds, MetricUnit.Seconds, figures.restoreSeconds);
  add(RestoreTestMetric.validationSeconds, MetricUnit.Seconds, figures.validationSeconds);
  metrics.publishStoredMetrics();
  return written;
}
