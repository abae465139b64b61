import type { RecommendationLine } from '../model';
import {
  changeOf,
  countLines,
  countBy,
  DEFAULT_TOP_N,
  displayName,
  isUnpriced,
  KIND_LABELS,
  LINE_KINDS,
  LINE_SOURCES,
  measurementsOf,
  SOURCE_LABELS,
  topSavings,
  totalsBy,
  totalsOf,
  UNPRICED_LISTED,
  usd,
  type ReportSummaryInput,
  type SavingsTotals,
} from './report-input';

// The report's Markdown summary, for a person: totals (by kind and by source), the top savings, findings,
// the method, and the lines that could not be priced. Every line is in the CSV; this is the reading copy.

/**
 * Text from the data (workload names, reasons) as inert Markdown: a table cell stays one cell, and nothing
 * becomes a link, emphasis, code, a heading, a list or HTML. Newlines become spaces. Punctuation that means
 * nothing mid-line (`-`, `.`, `(`) is left alone, so the raw file stays readable.
 */
export function markdownText(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|~])/g, '\\$1')
    .replace(/^([#+\-=])/, '\\$1')
    .replace(/^(\d+)([.)])/, '$1\\$2');
}

const count = (n: number) => n.toLocaleString('en-US');

/** A table; `align` has one letter per column: `l` text, `r` figures. */
function table(header: string[], align: string, rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (align[i] === 'r' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

function totalsRow(label: string, totals: SavingsTotals): string[] {
  return [
    label,
    count(totals.lines),
    count(totals.unpriced),
    usd(totals.savings),
    usd(totals.extraCost),
    usd(totals.net),
  ];
}

const TOTALS_HEADER = ['', 'lines', 'unpriced', 'savings / month', 'extra cost / month', 'net / month'];

function lineRow(line: RecommendationLine, rank: number): string[] {
  return [
    String(rank),
    markdownText(displayName(line)),
    line.kind,
    line.source,
    markdownText(changeOf(line)),
    usd(line.cost.savings ?? 0),
    markdownText(line.reason),
  ];
}

/** The Markdown summary of a report. */
export function renderMarkdown(report: ReportSummaryInput): string {
  const { lines } = report;
  const topN = report.topN ?? DEFAULT_TOP_N;
  const totals = totalsOf(lines);
  const top = topSavings(lines, topN);
  const unpriced = lines.filter(isUnpriced);
  const out: string[] = [];

  out.push(`# Right-sizing report: ${markdownText(report.environment)}`, '');
  out.push(
    `Generated ${markdownText(report.generatedAt)} from ${report.lookbackDays} days of metrics` +
      (report.executionName === undefined ? '.' : ` (execution ${markdownText(report.executionName)}).`),
    '',
  );
  out.push(
    `**${usd(totals.savings)} a month** could be saved across ${count(totals.priced)} priced lines` +
      (totals.extraCost > 0
        ? `; growing under-provisioned lines costs ${usd(totals.extraCost)}, net ${usd(totals.net)}`
        : '') +
      '.' +
      (totals.unpriced > 0
        ? ` ${count(totals.unpriced)} of ${count(totals.lines)} lines could not be priced.`
        : ''),
    '',
  );

  out.push('## Totals', '');
  out.push('### By kind', '');
  out.push(
    ...table(TOTALS_HEADER, 'lrrrrr', [
      ...totalsBy(lines, LINE_KINDS, (line) => line.kind).map(({ key, totals: t }) =>
        totalsRow(KIND_LABELS[key], t),
      ),
      totalsRow('**all**', totals),
    ]),
    '',
  );
  out.push('### By source', '');
  out.push(
    ...table(TOTALS_HEADER, 'lrrrrr', [
      ...totalsBy(lines, LINE_SOURCES, (line) => line.source).map(({ key, totals: t }) =>
        totalsRow(SOURCE_LABELS[key], t),
      ),
      totalsRow('**all**', totals),
    ]),
    '',
  );

  out.push(`## Top ${topN} savings`, '');
  if (top.length === 0) out.push('No line saves money.', '');
  else {
    out.push(
      ...table(
        ['#', 'line', 'kind', 'source', 'change', 'savings / month', 'why'],
        'rllllrl',
        top.map((line, i) => lineRow(line, i + 1)),
      ),
      '',
    );
  }

  out.push('## Findings', '');
  out.push(
    ...table(
      ['finding', 'lines'],
      'lr',
      countBy(lines, (line) => line.finding).map(({ key, count: n }) => [key, count(n)]),
    ),
    '',
  );

  if (report.gaps !== undefined && report.gaps.length > 0) {
    out.push('## Not covered', '');
    out.push('These parts of the inventory could not be read; the report covers the rest.', '');
    for (const gap of report.gaps) out.push(`- ${markdownText(gap.scope)}: ${markdownText(gap.reason)}`);
    out.push('');
  }

  out.push('## Method', '');
  out.push(`- **Strategy:** ${markdownText(report.strategy)}`);
  out.push(`- **Lookback:** ${report.lookbackDays} days, datapoints every ${report.periodSeconds} s.`);
  const measurements = measurementsOf(lines);
  if (measurements.length > 0) {
    out.push(
      `- **Statistics:** ${measurements.map(({ key, count: n }) => `${markdownText(key)} (${count(n)} series)`).join('; ')}; ` +
        'percentiles are computed from those datapoints.',
    );
  }
  out.push(
    `- **Sources:** ${LINE_SOURCES.map((source) => `${SOURCE_LABELS[source]}: ${countLines(lines.filter((line) => line.source === source).length)}`).join('; ')}.`,
  );
  out.push(
    `- **Prices:** ${report.priceSources.length === 0 ? 'none stated' : report.priceSources.map(markdownText).join('; ')}. ` +
      `Lines priced from the Price List API: ${count(lines.filter((line) => line.cost.priceSource === 'price-list').length)}, ` +
      `from the bundled table: ${count(lines.filter((line) => line.cost.priceSource === 'bundled').length)}, ` +
      `unpriced: ${count(totals.unpriced)}. Monthly = hourly × 730.`,
  );
  const methods = countBy(
    lines.filter((line) => !isUnpriced(line)),
    (line) => line.cost.method,
  );
  if (methods.length > 0) {
    out.push('- **Costs:**');
    for (const { key, count: n } of methods) out.push(`  - ${markdownText(key)} (${countLines(n)})`);
  }
  out.push('');

  out.push('## Lines that could not be priced', '');
  if (unpriced.length === 0) out.push('None: every line was priced.', '');
  else {
    out.push(
      'Neither the Price List API nor the bundled table knows their type; they count in no total.',
      '',
      ...unpriced
        .slice(0, UNPRICED_LISTED)
        .map(
          (line) =>
            `- ${markdownText(displayName(line))} (${line.kind}, ${markdownText(changeOf(line))}): ${markdownText(line.cost.method)}`,
        ),
    );
    if (unpriced.length > UNPRICED_LISTED) {
      out.push(`- … and ${count(unpriced.length - UNPRICED_LISTED)} more (price_source \`none\` in the CSV)`);
    }
    out.push('');
  }
  return out.join('\n');
}
