import { causeMessage } from '../shared/error-cause';
import type { ReportFact, ReportSection } from '../notify/report';
import type { Execution } from '../shared/execution';
import type { CertificateProblem, CertificateSource } from './certificate';
import { SEVERITIES, type ClassifiedCertificate, type Severity, type Thresholds } from './classify';
import { REPORTS_PREFIX, type PartName, type SourceFailure } from './parts';
import type { AcmEventType } from './trigger';

// What a run of the certificate check tells people, from its classified lines: the JSON report (every line,
// for tools and for the record), the Markdown report (the same, for a person), and the fields of the Slack
// summary the generic notifier renders. Pure: the handler reads the parts and writes what this returns.

/** What started the run, as the report states it. */
export type ReportTrigger =
  | { kind: 'schedule' }
  | { kind: 'acm-event'; detailType: AcmEventType; certificateArn: string; region: string };

export interface RunFacts {
  environment: string;
  execution: Execution;
  /** The instant the lines were classified against: "expires in 5 days" is counted from it. */
  generatedAt: Date;
  trigger: ReportTrigger;
  thresholds: Thresholds;
}

export type SeverityCounts = Record<Severity, number>;

/** One certificate of the report. Absent facts are `null`, so every line has the same fields. */
export interface ReportLine {
  severity: Severity;
  /** Whole days to `notAfter`, negative once expired; `null` when the expiry is unknown (unreachable). */
  daysToExpiry: number | null;
  notAfter: string | null;
  expiringCertificate: string | null;
  source: CertificateSource;
  id: string;
  name: string;
  location: string | null;
  renewsAutomatically: boolean;
  inUseBy: string[];
  problems: CertificateProblem[];
  actions: string[];
}

export interface CertificateReportDocument {
  generatedAt: string;
  environment: string;
  execution: Execution;
  trigger: ReportTrigger;
  thresholds: Thresholds;
  counts: SeverityCounts;
  total: number;
  sourceFailures: SourceFailure[];
  /** Worst first, then soonest to expire (unknown expiry first), then by id. */
  certificates: ReportLine[];
}

/** The fields of the Slack summary; the handler adds the link to the report. */
export interface CertificateNotification {
  /** For an ACM event: the certificate it names. */
  subject?: string;
  /** Only when something is expired or critical. */
  reasonText?: string;
  facts: ReportFact[];
  sections: ReportSection[];
}

export interface CertificateReport {
  document: CertificateReportDocument;
  markdown: string;
  notification: CertificateNotification;
}

const DAY_MS = 86_400_000;

const SEVERITY_TITLES: Record<Severity, string> = {
  expired: 'Expired',
  critical: 'Critical',
  warning: 'Warning',
  ok: 'OK',
};
const SEVERITY_EMOJI: Record<Exclude<Severity, 'ok'>, string> = {
  expired: '🔴',
  critical: '🟠',
  warning: '🟡',
};

/**
 * Lines per severity in Slack: enough to act on the worst at a glance; the report has the rest. Warnings get
 * fewer, they have weeks. Healthy certificates are only counted.
 */
const SHOWN_IN_SLACK: Record<Exclude<Severity, 'ok'>, number> = { expired: 10, critical: 10, warning: 5 };
const FAILURES_SHOWN_IN_SLACK = 10;
// Eleven lines of this length and a title fit one Slack section (3,000 characters) with room for the notifier's
// mrkdwn escapes, so it does not drop a line the summary counted as shown.
const SLACK_LINE_MAX = 240;
const SLACK_NAME_MAX = 80;
const FAILURE_ERROR_MAX = 1_000;

const SOURCE_LABELS: Record<CertificateSource, string> = {
  acm: 'ACM',
  iam: 'IAM',
  'load-balancer': 'load balancer',
  'cert-manager': 'cert-manager',
  endpoint: 'endpoint',
};

/**
 * What each problem code means, for the report's legend; the adapters and probes write the codes (a code not
 * listed is explained by the first sentence that came with it).
 */
const PROBLEM_MEANINGS: Record<string, string> = {
  unreachable: 'The probe could not connect or finish the TLS handshake: the expiry is unknown.',
  'unreadable-certificate': 'The server sent a certificate that cannot be parsed.',
  'no-certificate': 'The server presented no certificate.',
  'hostname-mismatch': 'The certificate does not cover the name clients connect to.',
  'self-signed': 'The certificate is self-signed: clients refuse it unless they pin it.',
  'untrusted-root': 'The chain ends at a root that is not trusted.',
  'missing-intermediate':
    'The server does not send the intermediate certificates, so clients cannot build the chain.',
  'legacy-tls': 'The server negotiates TLS 1.0 or 1.1, which current clients refuse.',
  'weak-key': 'A certificate of the chain has a key too short for current clients.',
  'sha1-signature': 'A certificate of the chain is signed with SHA-1, which clients refuse.',
  imported: 'Imported into ACM: ACM never renews it.',
  'renewal-failed': "ACM's managed renewal failed.",
  'renewal-pending-validation': 'ACM waits for the domains to be validated again before it renews.',
  'not-in-use': 'Nothing uses it, so ACM will not renew it.',
  'not-issued': 'In use although its ACM status is not ISSUED.',
  'unknown-certificate': "A listener serves a certificate in neither this account's ACM nor IAM.",
  'not-ready': "cert-manager's Certificate is not Ready.",
  'past-renewal-time': 'cert-manager should have renewed it by now.',
};

/** The JSON report, the Markdown report and the Slack fields of one run. */
export function buildCertificateReport(
  certificates: readonly ClassifiedCertificate[],
  sourceFailures: readonly SourceFailure[],
  run: RunFacts,
): CertificateReport {
  const document = buildReportDocument(certificates, sourceFailures, run);
  return { document, markdown: renderMarkdown(document), notification: buildNotification(document) };
}

export function buildReportDocument(
  certificates: readonly ClassifiedCertificate[],
  sourceFailures: readonly SourceFailure[],
  run: RunFacts,
): CertificateReportDocument {
  const counts = countBySeverity(certificates);
  return {
    generatedAt: run.generatedAt.toISOString(),
    environment: run.environment,
    execution: run.execution,
    trigger: run.trigger,
    thresholds: run.thresholds,
    counts,
    total: certificates.length,
    sourceFailures: [...sourceFailures],
    certificates: [...certificates].sort(worstFirst).map(reportLine),
  };
}

/** Every severity, zeros included: the workflow and the alarms read each by name. */
export function countBySeverity(certificates: readonly { severity: Severity }[]): SeverityCounts {
  const counts: SeverityCounts = { expired: 0, critical: 0, warning: 0, ok: 0 };
  for (const { severity } of certificates) counts[severity]++;
  return counts;
}

// The order classifyAll gives, kept here so the report does not depend on its input's order.
function worstFirst(a: ClassifiedCertificate, b: ClassifiedCertificate): number {
  return (
    SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
    (a.daysToExpiry ?? -Infinity) - (b.daysToExpiry ?? -Infinity) ||
    a.id.localeCompare(b.id)
  );
}

function reportLine(certificate: ClassifiedCertificate): ReportLine {
  return {
    severity: certificate.severity,
    daysToExpiry: certificate.daysToExpiry ?? null,
    notAfter: certificate.notAfter ?? null,
    expiringCertificate: certificate.expiringCertificate ?? null,
    source: certificate.source,
    id: certificate.id,
    name: certificate.name,
    location: certificate.location ?? null,
    renewsAutomatically: certificate.renewsAutomatically,
    inUseBy: certificate.inUseBy,
    problems: certificate.problems,
    actions: certificate.actions,
  };
}

/** Where the run writes its reports: one folder per day (UTC), one pair of objects per execution. */
export function reportKeys(
  executionName: string,
  generatedAt: Date,
): { reportKey: string; markdownKey: string } {
  const base = `${REPORTS_PREFIX}${generatedAt.toISOString().slice(0, 10)}/${executionName}`;
  return { reportKey: `${base}.json`, markdownKey: `${base}.md` };
}

/**
 * A collecting step that failed after its retries (the Parallel branch's Catch): its whole source is missing,
 * named with the error and, from a Lambda error's JSON `Cause`, its message.
 */
export function failedPartFailure(part: PartName, failed: { Error: string; Cause?: string }): SourceFailure {
  const cause = failed.Cause === undefined ? undefined : causeMessage(failed.Cause);
  return {
    source: part,
    location: '-',
    error: cut(cause ? `${failed.Error}: ${cause}` : failed.Error, FAILURE_ERROR_MAX),
  };
}

// Slack ---------------------------------------------------------------------------------------------------

export function buildNotification(document: CertificateReportDocument): CertificateNotification {
  const generatedAt = new Date(document.generatedAt);
  const sections: ReportSection[] = [];
  for (const severity of ['expired', 'critical', 'warning'] as const) {
    const lines = document.certificates.filter((line) => line.severity === severity);
    if (lines.length === 0) continue;
    sections.push({
      title: `${SEVERITY_EMOJI[severity]} ${SEVERITY_TITLES[severity]} (${lines.length})`,
      lines: shownWithRest(
        lines.map((line) => slackLine(line, generatedAt)),
        SHOWN_IN_SLACK[severity],
      ),
    });
  }
  if (document.sourceFailures.length > 0) {
    sections.push({
      title: `⚠️ Sources not read (${document.sourceFailures.length})`,
      lines: shownWithRest(
        document.sourceFailures.map((failure) => cut(failureText(failure), SLACK_LINE_MAX)),
        FAILURES_SHOWN_IN_SLACK,
      ),
    });
  }
  const subject = subjectOf(document);
  const reasonText = headline(document.counts, document.thresholds);
  return {
    ...(subject !== undefined && { subject }),
    ...(reasonText !== undefined && { reasonText }),
    facts: facts(document),
    sections,
  };
}

function shownWithRest(lines: string[], shown: number): string[] {
  if (lines.length <= shown) return lines;
  return [...lines.slice(0, shown), `…and ${lines.length - shown} more in the report`];
}

function facts(document: CertificateReportDocument): ReportFact[] {
  const { counts, thresholds } = document;
  return [
    ...SEVERITIES.map((severity) => ({ label: SEVERITY_TITLES[severity], value: counts[severity] })),
    { label: 'Certificates', value: document.total },
    { label: 'Sources not read', value: document.sourceFailures.length },
    { label: 'Trigger', value: triggerText(document.trigger) },
    {
      label: 'Thresholds',
      value: `critical under ${thresholds.criticalDays} days, warning under ${thresholds.warningDays} days`,
    },
  ];
}

function triggerText(trigger: ReportTrigger): string {
  return trigger.kind === 'schedule' ? 'schedule' : `${trigger.detailType} (${trigger.region})`;
}

function subjectOf({ trigger, certificates }: CertificateReportDocument): string | undefined {
  if (trigger.kind !== 'acm-event') return undefined;
  // The collector may have failed: the ARN still says which certificate the event was about.
  return certificates.find((line) => line.id === trigger.certificateArn)?.name ?? trigger.certificateArn;
}

/** The sentence that heads the summary when something needs doing now. */
function headline(counts: SeverityCounts, thresholds: Thresholds): string | undefined {
  const { expired, critical } = counts;
  const why = `under ${thresholds.criticalDays} days left, or a problem that needs action now`;
  const certificates = (n: number) => `${n} certificate${n === 1 ? '' : 's'}`;
  if (expired > 0 && critical > 0) {
    return `${certificates(expired)} ${expired === 1 ? 'has' : 'have'} expired and ${critical} more ${critical === 1 ? 'is' : 'are'} critical (${why}).`;
  }
  if (expired > 0) return `${certificates(expired)} ${expired === 1 ? 'has' : 'have'} expired.`;
  if (critical > 0) return `${certificates(critical)} ${critical === 1 ? 'is' : 'are'} critical (${why}).`;
  return undefined;
}

/** `name · where · when · problem codes — first action`, cut to fit a Slack section with its neighbours. */
function slackLine(line: ReportLine, generatedAt: Date): string {
  const parts = [cut(line.name, SLACK_NAME_MAX), whereText(line), whenText(line, generatedAt)];
  if (line.problems.length > 0) parts.push(line.problems.map((problem) => problem.code).join(', '));
  const action = line.actions[0];
  return cut(`${parts.join(' · ')}${action === undefined ? '' : ` — ${action}`}`, SLACK_LINE_MAX);
}

function whereText(line: Pick<ReportLine, 'source' | 'location'>): string {
  return line.location === null
    ? SOURCE_LABELS[line.source]
    : `${SOURCE_LABELS[line.source]} ${line.location}`;
}

/**
 * "expired 3 days ago (2026-11-29)", "expires in 5 days (2026-12-07)": whole days elapsed either way, from the
 * run's instant, so an expiry an hour ago is "less than a day ago", not "1 day".
 */
export function whenText(
  line: Pick<ReportLine, 'notAfter' | 'expiringCertificate'>,
  generatedAt: Date,
): string {
  if (line.notAfter === null) return 'expiry unknown';
  const notAfter = new Date(line.notAfter);
  const ms = notAfter.getTime() - generatedAt.getTime();
  const days = Math.floor(Math.abs(ms) / DAY_MS);
  const span = days === 0 ? 'less than a day' : `${days} day${days === 1 ? '' : 's'}`;
  const chain = line.expiringCertificate === null ? '' : `, ${line.expiringCertificate} in the chain`;
  const date = `(${notAfter.toISOString().slice(0, 10)}${chain})`;
  return ms < 0 ? `expired ${span} ago ${date}` : `expires in ${span} ${date}`;
}

function failureText({ source, location, error }: SourceFailure): string {
  return `${location === '-' ? source : `${source} ${location}`}: ${error}`;
}

/** Cuts to `max` characters with "…", without splitting a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, '')}…`;
}

// Markdown ------------------------------------------------------------------------------------------------

export function renderMarkdown(document: CertificateReportDocument): string {
  const generatedAt = new Date(document.generatedAt);
  const out: string[] = [
    `# Certificate check: ${inline(document.environment)}`,
    '',
    `Generated ${timestamp(document.generatedAt)} by execution ${code(document.execution.name)}, ${startedBy(document.trigger)}.`,
    `Critical: under ${document.thresholds.criticalDays} days left, or a problem clients already hit or that stops renewal. ` +
      `Warning: under ${document.thresholds.warningDays} days left, or a lesser problem.`,
    '',
    '| Severity | Certificates |',
    '| --- | ---: |',
    ...SEVERITIES.map((severity) => `| ${SEVERITY_TITLES[severity]} | ${document.counts[severity]} |`),
    `| **Total** | **${document.total}** |`,
    `| Sources not read | ${document.sourceFailures.length} |`,
  ];
  for (const severity of SEVERITIES) {
    const lines = document.certificates.filter((line) => line.severity === severity);
    out.push('', `## ${SEVERITY_TITLES[severity]} (${lines.length})`, '');
    if (lines.length === 0) {
      out.push('None.');
      continue;
    }
    out.push('| Certificate | Location | Expires | Days | What to do |', '| --- | --- | --- | ---: | --- |');
    for (const line of lines) out.push(markdownRow(line, generatedAt));
  }
  out.push('', `## Sources not read (${document.sourceFailures.length})`, '');
  if (document.sourceFailures.length === 0) {
    out.push('None: every source was read.');
  } else {
    out.push(
      'Their certificates are missing from this report.',
      '',
      '| Source | Location | Error |',
      '| --- | --- | --- |',
      ...document.sourceFailures.map(
        ({ source, location, error }) => `| ${cell(source)} | ${cell(location)} | ${cell(error)} |`,
      ),
    );
  }
  const legend = problemLegend(document.certificates);
  if (legend.length > 0) {
    out.push(
      '',
      '## Problem codes',
      '',
      '| Code | Meaning | Certificates |',
      '| --- | --- | ---: |',
      ...legend,
    );
  }
  return `${out.join('\n')}\n`;
}

function startedBy(trigger: ReportTrigger): string {
  return trigger.kind === 'schedule'
    ? 'started by the schedule'
    : `started by the ACM event "${inline(trigger.detailType)}" for ${code(trigger.certificateArn)} (${inline(trigger.region)})`;
}

function markdownRow(line: ReportLine, generatedAt: Date): string {
  const certificate = [inline(line.name)];
  if (line.id !== line.name) certificate.push(code(line.id));
  if (line.problems.length > 0) {
    certificate.push(`problems: ${line.problems.map((problem) => code(problem.code)).join(', ')}`);
  }
  if (line.inUseBy.length > 0) {
    const shown = line.inUseBy.slice(0, 3).map(code).join(', ');
    const more = line.inUseBy.length - 3;
    certificate.push(`used by ${shown}${more > 0 ? ` and ${more} more` : ''}`);
  }
  const expires =
    line.notAfter === null
      ? 'unknown'
      : `${timestamp(line.notAfter)}<br>${inline(whenText(line, generatedAt))}`;
  const actions =
    line.actions.length === 0
      ? '-'
      : line.actions.map((action, index) => `${index + 1}. ${inline(action)}`).join('<br>');
  return `| ${certificate.join('<br>')} | ${inline(whereText(line))} | ${expires} | ${line.daysToExpiry ?? '-'} | ${actions} |`;
}

function problemLegend(lines: readonly ReportLine[]): string[] {
  const seen = new Map<string, { text: string; count: number }>();
  for (const line of lines) {
    for (const code of new Set(line.problems.map((problem) => problem.code))) {
      const entry = seen.get(code);
      if (entry) entry.count++;
      else
        seen.set(code, {
          text: line.problems.find((problem) => problem.code === code)?.text ?? '',
          count: 1,
        });
    }
  }
  return [...seen]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([problemCode, { text, count }]) => {
      const meaning = PROBLEM_MEANINGS[problemCode] ?? text;
      return `| ${code(problemCode)} | ${inline(meaning)} | ${count} |`;
    });
}

function timestamp(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Text inside a table cell or a line, shown as written: names come from other systems, so no HTML, no
 * emphasis (`*.example.com` is a wildcard, not italics), no cell break, one line.
 */
function inline(text: string): string {
  return oneLine(text)
    .replace(/[\\`*_[\]~|]/g, '\\$&')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;');
}

/** A table cell ends at a line break and at an unescaped `|`, even inside a code span (GFM). */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

function cell(text: string): string {
  return text === '' ? '-' : inline(text);
}

/** A code span shows its content literally, entities included: only the backtick and the pipe need care. */
function code(text: string): string {
  return `\`${oneLine(text).replaceAll('`', "'").replaceAll('|', '\\|')}\``;
}
