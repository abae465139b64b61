import type { CertificateSource, ObservedCertificate } from './certificate';

// How urgent each certificate is, from its expiry and its problems, and what to do about it: the report
// groups by severity, the Slack summary leads with the worst, and `DaysToExpiry` feeds the alarms.

export type Severity = 'expired' | 'critical' | 'warning' | 'ok';

/** Worst first: the order of the report's groups. */
export const SEVERITIES: readonly Severity[] = ['expired', 'critical', 'warning', 'ok'];

export interface Thresholds {
  /** Fewer days to expiry than this: critical. @default 7 */
  criticalDays: number;
  /** Fewer days to expiry than this: warning. @default 30 */
  warningDays: number;
}

export interface ClassifiedCertificate extends ObservedCertificate {
  severity: Severity;
  /** Whole days until `notAfter` (negative once expired); undefined when the expiry is unknown. */
  daysToExpiry?: number;
  /** What to do, in order; empty for a healthy certificate. */
  actions: string[];
}

/**
 * Problems that make a certificate critical whatever its expiry: clients already fail, or it will not renew.
 * Others (legacy TLS, a weak key, SHA-1, a renewal waiting for validation) make it at least a warning.
 */
const CRITICAL_PROBLEMS = new Set([
  'unreachable',
  'hostname-mismatch',
  'untrusted-root',
  'self-signed',
  'missing-intermediate',
  'renewal-failed',
  'not-ready',
  'past-renewal-time',
  'unknown-certificate',
]);

/**
 * Facts rather than trouble: an imported certificate never renews, which matters only as its expiry nears, so
 * on its own it does not make a line a warning (its expiry does, and its action then says to re-import).
 */
const INFORMATIONAL_PROBLEMS = new Set(['imported']);

const DAY_MS = 86_400_000;

/** What renews it, or who must: the first action for a certificate close to expiry. */
const RENEWAL_ACTION: Record<CertificateSource, (certificate: ObservedCertificate) => string> = {
  acm: ({ renewsAutomatically, problems }) =>
    renewsAutomatically
      ? 'ACM renews it: check that its DNS validation records still exist (ACM console, Renewal status).'
      : problems.some((problem) => problem.code === 'imported')
        ? 'Imported into ACM, so it never renews: import a renewed certificate over it (aws acm import-certificate --certificate-arn …).'
        : 'ACM will not renew it (not eligible, e.g. nothing uses it): request a new certificate, or delete this one if it is unused.',
  iam: () =>
    'IAM server certificates never renew: upload a new one and move the listeners to it, or move them to ACM.',
  'load-balancer': () => 'Replace the listener certificate with a current ACM certificate.',
  'cert-manager': () =>
    "cert-manager renews it: check the Certificate's Ready condition and its Issuer (kubectl describe certificate).",
  endpoint: () => "Renew it where the endpoint's certificate is managed, then check the chain it serves.",
};

function severityOf(
  days: number | undefined,
  problems: ObservedCertificate['problems'],
  thresholds: Thresholds,
): Severity {
  const byDays: Severity =
    days === undefined
      ? 'ok'
      : days < 0
        ? 'expired'
        : days < thresholds.criticalDays
          ? 'critical'
          : days < thresholds.warningDays
            ? 'warning'
            : 'ok';
  const troubles = problems.filter((problem) => !INFORMATIONAL_PROBLEMS.has(problem.code));
  const byProblems: Severity = troubles.some((problem) => CRITICAL_PROBLEMS.has(problem.code))
    ? 'critical'
    : troubles.length > 0
      ? 'warning'
      : 'ok';
  return SEVERITIES[Math.min(SEVERITIES.indexOf(byDays), SEVERITIES.indexOf(byProblems))] as Severity;
}

export function classify(
  certificate: ObservedCertificate,
  thresholds: Thresholds,
  now: Date,
): ClassifiedCertificate {
  const days =
    certificate.notAfter === undefined
      ? undefined
      : Math.floor((Date.parse(certificate.notAfter) - now.getTime()) / DAY_MS);
  const severity = severityOf(days, certificate.problems, thresholds);
  const actions: string[] = [];
  if (days !== undefined && days < thresholds.warningDays) {
    actions.push(RENEWAL_ACTION[certificate.source](certificate));
  }
  for (const problem of certificate.problems) actions.push(problem.text);
  return { ...certificate, severity, ...(days !== undefined && { daysToExpiry: days }), actions };
}

/** Every certificate classified, worst first, then soonest to expire. */
export function classifyAll(
  certificates: ObservedCertificate[],
  thresholds: Thresholds,
  now: Date,
): ClassifiedCertificate[] {
  return certificates
    .map((certificate) => classify(certificate, thresholds, now))
    .sort(
      (a, b) =>
        SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
        (a.daysToExpiry ?? -Infinity) - (b.daysToExpiry ?? -Infinity) ||
        a.id.localeCompare(b.id),
    );
}
