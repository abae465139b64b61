import { createHash } from 'node:crypto';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { RecommendationLine, UsageDistribution } from '../model';
import {
  bySavings,
  changeOf,
  countLines,
  countBy,
  DEFAULT_CHART_WORKLOADS,
  DEFAULT_CSV_HREF,
  DEFAULT_TABLE_ROWS,
  DEFAULT_TOP_N,
  displayName,
  formatCpu,
  formatMemory,
  isUnpriced,
  KIND_LABELS,
  LINE_KINDS,
  LINE_SOURCES,
  measurementsOf,
  MIB,
  savingsOf,
  SOURCE_LABELS,
  topSavings,
  totalsBy,
  totalsOf,
  UNPRICED_LISTED,
  usd,
  type ReportSummaryInput,
  type SavingsTotals,
} from './report-input';

// The report's HTML page: one self-contained file that opens from an S3 object (or disk) with no server.
//
// - It fetches nothing: no script, font, image or stylesheet from anywhere, everything inline, and a
//   Content-Security-Policy meta that forbids every load (`default-src 'none'`) but its own inline style.
// - It runs no JavaScript: the charts are SVG rendered here, in the Lambda, by Vega-Lite (compiled to Vega,
//   rendered by a headless `vega.View` with `renderer: 'none'`), so the page needs no script at all.
// - Every string from the data goes through `safe` (escaped); Vega escapes the text and attributes of its
//   SVG itself (vega-scenegraph's markup). The only raw markup is ours and Vega's.
// - The table is capped (`tableRows`, sorted by savings) and links the CSV, which has every line: a page of
//   10,000 rows is megabytes a browser renders slowly and nobody reads.

/** Markup that is already safe: ours, or Vega's SVG. */
class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

type Fragment = Markup | string | number | undefined | null | false | readonly Fragment[];

function fragment(value: Fragment): string {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(fragment).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** A template whose every interpolation is escaped, unless it is `Markup`. */
function safe(strings: TemplateStringsArray, ...values: Fragment[]): Markup {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += fragment(value) + (strings[i + 1] ?? '');
  });
  return new Markup(out);
}

// ---- charts ---------------------------------------------------------------------------------------------

const COLORS = {
  usage: '#4c78a8',
  request: '#d62728',
  recommended: '#2ca02c',
  kinds: ['#4c78a8', '#f58518', '#72b7b2', '#b279a2'],
};

const CHART_CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', gridColor: '#e5e5e5' },
} as const;

/** Vega must load nothing: the specs carry their data inline; a URL anywhere is a bug, refused. */
function refuse(): Promise<never> {
  return Promise.reject(new Error('the right-sizing report loads nothing: data is inline'));
}
const offlineLoader: vega.Loader = { load: refuse, sanitize: refuse, http: refuse, file: refuse };

async function renderSvg(spec: TopLevelSpec): Promise<Markup> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none', loader: offlineLoader });
  try {
    return new Markup(await view.toSVG());
  } finally {
    view.finalize();
  }
}

const truncate = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** (b) The top savings, one horizontal bar per line, coloured by kind. */
export function topSavingsSpec(top: readonly RecommendationLine[]): TopLevelSpec {
  const shownKinds = LINE_KINDS.filter((kind) => top.some((line) => line.kind === kind));
  return {
    description: 'Top savings, USD a month',
    width: 520,
    height: { step: 22 },
    config: CHART_CONFIG,
    data: {
      values: top.map((line, i) => ({
        rank: i + 1,
        label: `${i + 1}. ${truncate(displayName(line), 56)}`,
        savings: Math.round((savingsOf(line) ?? 0) * 100) / 100,
        kind: KIND_LABELS[line.kind],
      })),
    },
    encoding: {
      y: {
        field: 'label',
        type: 'nominal',
        sort: { field: 'rank', op: 'min' },
        title: null,
        axis: { labelLimit: 360 },
      },
      x: { field: 'savings', type: 'quantitative', title: 'savings, USD a month', axis: { format: '$,.0f' } },
    },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          color: {
            field: 'kind',
            type: 'nominal',
            // Only the kinds shown, each in its own colour whichever others are present.
            scale: {
              domain: shownKinds.map((kind) => KIND_LABELS[kind]),
              range: shownKinds.map((kind) => COLORS.kinds[LINE_KINDS.indexOf(kind)] ?? COLORS.usage),
            },
            legend: { orient: 'bottom', title: null, direction: 'horizontal' },
          },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11, color: '#333' },
        encoding: { text: { field: 'savings', type: 'quantitative', format: '$,.2f' } },
      },
    ],
  };
}

const STATS = ['p50', 'p90', 'p95', 'p99', 'max'] as const;

interface Panel {
  title: string;
  unit: string;
  distribution: UsageDistribution;
  /** To the panel's unit. */
  scale: number;
  current?: number;
  recommended?: number;
}

function panelSpec(panel: Panel) {
  const value = (v: number) => Number((v * panel.scale).toFixed(1));
  const marks = [
    ...(panel.current === undefined ? [] : [{ line: 'current request', value: value(panel.current) }]),
    ...(panel.recommended === undefined ? [] : [{ line: 'recommended', value: value(panel.recommended) }]),
  ];
  const x = { field: 'value', type: 'quantitative' as const, title: panel.unit };
  return {
    title: {
      text: panel.title,
      fontSize: 11,
      fontWeight: 'normal' as const,
      anchor: 'start' as const,
    },
    width: 210,
    height: { step: 16 },
    layer: [
      {
        data: {
          values: STATS.map((stat, i) => ({ stat, order: i, value: value(panel.distribution[stat]) })),
        },
        encoding: {
          y: {
            field: 'stat',
            type: 'nominal' as const,
            sort: { field: 'order', op: 'min' as const },
            title: null,
          },
          x,
        },
        layer: [
          { mark: { type: 'bar' as const, color: COLORS.usage, height: 11 } },
          {
            mark: { type: 'text' as const, align: 'left' as const, dx: 3, fontSize: 10, color: '#333' },
            encoding: { text: { field: 'value', type: 'quantitative' as const, format: ',.1~f' } },
          },
        ],
      },
      ...(marks.length === 0
        ? []
        : [
            {
              data: { values: marks },
              mark: { type: 'rule' as const, strokeWidth: 2 },
              encoding: {
                x,
                color: {
                  field: 'line',
                  type: 'nominal' as const,
                  scale: {
                    domain: ['current request', 'recommended'],
                    range: [COLORS.request, COLORS.recommended],
                  },
                  legend: null,
                },
                strokeDash: {
                  field: 'line',
                  type: 'nominal' as const,
                  scale: {
                    domain: ['current request', 'recommended'],
                    range: [
                      [5, 3],
                      [1, 0],
                    ],
                  },
                  legend: null,
                },
              },
            },
          ]),
    ],
  };
}

/** The usage panels of a workload: CPU in millicores, memory in MiB (per pod), where measured. */
export function workloadPanels(line: RecommendationLine): Panel[] {
  const panels: Panel[] = [];
  if (line.evidence.cpu !== undefined) {
    panels.push({
      title: 'CPU',
      unit: 'millicores per pod',
      distribution: line.evidence.cpu,
      scale: 1,
      current: line.current.cpuMillicores,
      recommended: line.recommended.cpuMillicores,
    });
  }
  if (line.evidence.memory !== undefined) {
    panels.push({
      title: 'memory',
      unit: 'MiB per pod',
      distribution: line.evidence.memory,
      scale: 1 / MIB,
      current: line.current.memoryBytes,
      recommended: line.recommended.memoryBytes,
    });
  }
  return panels;
}

/** What a workload's panels were measured from: `CPU: Average over 300 s, 4,032 datapoints; memory: …`. */
function measuredFrom(line: RecommendationLine): string {
  return workloadPanels(line)
    .map(
      ({ title, distribution: d }) =>
        `${title}: ${d.statistic} over ${d.periodSeconds} s, ${d.datapoints.toLocaleString('en-US')} datapoints`,
    )
    .join('; ');
}

/** (a) A workload's usage distribution (p50 … max of CPU and memory) against its request and the recommendation. */
export function workloadUsageSpec(line: RecommendationLine): TopLevelSpec {
  return {
    description: `Usage of ${displayName(line)} against its request and the recommendation`,
    config: CHART_CONFIG,
    hconcat: workloadPanels(line).map(panelSpec),
    spacing: 28,
  } as TopLevelSpec;
}

/** The workloads charted: the largest savings first (then the ones that must grow), with measured usage. */
export function chartedWorkloads(lines: readonly RecommendationLine[], n: number): RecommendationLine[] {
  return lines
    .filter(
      (line) => line.kind === 'workload' && workloadPanels(line).length > 0 && savingsOf(line) !== undefined,
    )
    .sort(bySavings)
    .slice(0, n);
}

// ---- page -----------------------------------------------------------------------------------------------

const STYLE = `
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 4px; overflow-wrap: anywhere; }
p, li { color: var(--ink); }
.meta, .note { color: var(--muted); font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 150px; background: var(--soft); }
.card b { display: block; font-size: 20px; }
.card span { color: var(--muted); font-size: 12px; }
.card.savings b { color: #1a7f37; }
.card.extra b { color: #cf222e; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 0; }
figure svg { max-width: 100%; height: auto; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 20px 28px; }
.charts figure { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.charts figcaption { font-size: 12px; color: var(--muted); margin-bottom: 6px; }
.legend { display: flex; gap: 18px; font-size: 12px; color: var(--muted); margin: 4px 0 12px; align-items: center; }
.legend svg { vertical-align: middle; margin-right: 4px; }
.lines { width: 100%; }
.lines td.reason { max-width: 420px; }
.lines td.name { max-width: 300px; overflow-wrap: anywhere; }
.finding { white-space: nowrap; }
.finding.over-provisioned { color: #1a7f37; }
.finding.under-provisioned { color: #cf222e; }
code { font-size: 12px; background: var(--soft); padding: 0 3px; border-radius: 3px; }
`;

/** The page's one style element; the policy allows exactly its text, by hash. */
const STYLE_ELEMENT = new Markup(`<style>${STYLE}</style>`);

/** Forbids every load but the page's own style: no script, no font, no image, no connection, no frame. */
export function contentSecurityPolicy(style: string): string {
  const styleHash = createHash('sha256').update(style).digest('base64');
  return [
    "default-src 'none'",
    `style-src 'sha256-${styleHash}'`,
    "img-src 'none'",
    "font-src 'none'",
    "connect-src 'none'",
    "script-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

const count = (n: number) => n.toLocaleString('en-US');

function totalsTable(rows: { label: string; totals: SavingsTotals }[], all: SavingsTotals): Markup {
  const row = (
    label: string,
    t: SavingsTotals,
    strong = false,
  ) => safe`<tr${strong ? new Markup(' class="all"') : ''}>
    <td>${strong ? safe`<b>${label}</b>` : label}</td><td class="num">${count(t.lines)}</td><td class="num">${count(t.unpriced)}</td>
    <td class="num">${usd(t.savings)}</td><td class="num">${usd(t.extraCost)}</td><td class="num">${usd(t.net)}</td></tr>`;
  return safe`<table>
    <thead>
      <tr>
        <th></th>
        <th class="num">lines</th>
        <th class="num">unpriced</th>
        <th class="num">savings / month</th>
        <th class="num">extra cost / month</th>
        <th class="num">net / month</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(({ label, totals }) => row(label, totals))}${row('all', all, true)}
    </tbody>
  </table>`;
}

function usageSummary(line: RecommendationLine): string {
  const { cpu, memory } = line.evidence;
  const parts: string[] = [];
  if (line.kind === 'workload') {
    if (cpu) parts.push(`CPU p95 ${formatCpu(cpu.p95)}, max ${formatCpu(cpu.max)}`);
    if (memory) parts.push(`memory p95 ${formatMemory(memory.p95)}, max ${formatMemory(memory.max)}`);
  } else {
    if (cpu) parts.push(`CPU p95 ${Number(cpu.p95.toFixed(1))} %, max ${Number(cpu.max.toFixed(1))} %`);
    if (memory)
      parts.push(`memory p95 ${Number(memory.p95.toFixed(1))} %, max ${Number(memory.max.toFixed(1))} %`);
  }
  const co = line.evidence.computeOptimizer;
  if (co?.projectedCpuMaxPercent !== undefined)
    parts.push(`projected CPU max ${co.projectedCpuMaxPercent} %`);
  return parts.length === 0 ? '—' : parts.join('; ');
}

function linesTable(lines: readonly RecommendationLine[]): Markup {
  return safe`<table class="lines">
    <thead>
      <tr>
        <th class="num">#</th>
        <th>line</th>
        <th>kind</th>
        <th>source</th>
        <th>finding</th>
        <th>change</th>
        <th>measured</th>
        <th class="num">savings / month</th>
        <th>reason</th>
      </tr>
    </thead>
    <tbody>
      ${lines.map((line, i) => {
        const savings = savingsOf(line);
        return safe`<tr>
          <td class="num">${i + 1}</td>
          <td class="name">${displayName(line)}</td>
          <td>${line.kind}</td>
          <td>${line.source}</td>
          <td class="finding ${line.finding}">${line.finding}</td>
          <td>${changeOf(line)}</td>
          <td>${usageSummary(line)}</td>
          <td class="num">${savings === undefined ? 'unpriced' : usd(savings)}</td>
          <td class="reason">${line.reason}</td>
        </tr> `;
      })}
    </tbody>
  </table>`;
}

const LEGEND = new Markup(
  `<div class="legend" aria-hidden="true">` +
    `<span><svg width="22" height="10"><rect width="22" height="10" fill="${COLORS.usage}"/></svg>measured usage (p50, p90, p95, p99, max)</span>` +
    `<span><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke="${COLORS.request}" stroke-width="2" stroke-dasharray="5 3"/></svg>current request</span>` +
    `<span><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" stroke="${COLORS.recommended}" stroke-width="2"/></svg>recommended</span>` +
    `</div>`,
);

/** The HTML page of a report: self-contained, no script, no network load, charts as inline SVG. */
export async function renderHtml(report: ReportSummaryInput): Promise<string> {
  const { lines } = report;
  const topN = report.topN ?? DEFAULT_TOP_N;
  const tableRows = report.tableRows ?? DEFAULT_TABLE_ROWS;
  const csvHref = report.csvHref ?? DEFAULT_CSV_HREF;
  const totals = totalsOf(lines);
  const top = topSavings(lines, topN);
  const charted = chartedWorkloads(lines, report.chartWorkloads ?? DEFAULT_CHART_WORKLOADS);
  const sorted = [...lines].sort(bySavings);
  const unpriced = lines.filter(isUnpriced);

  const topChart = top.length === 0 ? undefined : await renderSvg(topSavingsSpec(top));
  const workloadCharts: Markup[] = [];
  for (const line of charted) {
    const savings = savingsOf(line) ?? 0;
    workloadCharts.push(
      safe`<figure data-chart="workload-usage" data-line-id="${line.id}">
        <h3>${displayName(line)}</h3>
        <figcaption>
          ${line.finding} · ${changeOf(line)} ·
          ${savings >= 0 ? `saves ${usd(savings)} a month` : `costs ${usd(-savings)} more a month`} ·
          ${line.current.replicas === undefined ? '' : `${line.current.replicas} replicas`}
          <br />${measuredFrom(line)}
        </figcaption>
        ${await renderSvg(workloadUsageSpec(line))}
      </figure>`,
    );
  }

  const title = `Right-sizing report: ${report.environment}`;
  const page = safe`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(STYLE)}" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${title}</title>
        ${STYLE_ELEMENT}
      </head>
      <body>
        <main>
          <h1>${title}</h1>
          <p class="meta">
            Generated ${report.generatedAt} from ${report.lookbackDays} days of metrics (a datapoint every
            ${report.periodSeconds}
            s)${report.executionName === undefined ? '' : ` · execution ${report.executionName}`} ·
            <a href="${csvHref}">every line as CSV</a>
          </p>
          <div class="cards">
            <div class="card savings"><b>${usd(totals.savings)}</b><span>savings a month</span></div>
            <div class="card extra">
              <b>${usd(totals.extraCost)}</b><span>extra cost a month (growing under-provisioned lines)</span>
            </div>
            <div class="card"><b>${usd(totals.net)}</b><span>net a month</span></div>
            <div class="card">
              <b>${count(totals.lines)}</b><span>lines, ${count(totals.unpriced)} unpriced</span>
            </div>
          </div>

          <h2>Top ${topN} savings</h2>
          ${topChart === undefined ? safe`<p>No line saves money.</p>` : safe`<figure data-chart="top-savings">${topChart}</figure>`}

          <h2>Usage against requests</h2>
          <p class="note">
            The ${charted.length} workloads with the largest savings: each bar is a percentile of measured use
            per pod, the dashed line the current request, the green line the recommendation.
          </p>
          ${LEGEND}
          <div class="charts">${workloadCharts}</div>

          <h2>Totals</h2>
          <div class="row">
            <div>
              <h3>By kind</h3>
              ${totalsTable(
                totalsBy(lines, LINE_KINDS, (line) => line.kind).map(({ key, totals: t }) => ({
                  label: KIND_LABELS[key],
                  totals: t,
                })),
                totals,
              )}
            </div>
            <div>
              <h3>By source</h3>
              ${totalsTable(
                totalsBy(lines, LINE_SOURCES, (line) => line.source).map(({ key, totals: t }) => ({
                  label: SOURCE_LABELS[key],
                  totals: t,
                })),
                totals,
              )}
            </div>
            <div>
              <h3>Findings</h3>
              <table>
                <thead>
                  <tr>
                    <th>finding</th>
                    <th class="num">lines</th>
                  </tr>
                </thead>
                <tbody>
                  ${countBy(lines, (line) => line.finding).map(
                    ({ key, count: n }) =>
                      safe`<tr>
                        <td class="finding ${key}">${key}</td>
                        <td class="num">${count(n)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>
          </div>

          ${
            report.gaps !== undefined && report.gaps.length > 0
              ? safe`<h2>Not covered</h2>
                  <p>These parts of the inventory could not be read; the report covers the rest.</p>
                  <ul>
                    ${report.gaps.map((gap) => safe`<li><b>${gap.scope}</b>: ${gap.reason}</li>`)}
                  </ul>`
              : ''
          }

          <h2>Method</h2>
          <ul>
            <li><b>Strategy:</b> ${report.strategy}</li>
            <li>
              <b>Lookback:</b> ${report.lookbackDays} days, a datapoint every ${report.periodSeconds} s.
            </li>
            <li>
              <b>Statistics:</b> ${
                measurementsOf(lines)
                  .map(({ key, count: n }) => `${key} (${count(n)} series)`)
                  .join('; ') || 'none'
              };
              percentiles are computed from those datapoints.
            </li>
            <li>
              <b>Sources:</b>
              ${LINE_SOURCES.map((source) => `${SOURCE_LABELS[source]}: ${countLines(lines.filter((line) => line.source === source).length)}`).join('; ')}.
            </li>
            <li>
              <b>Prices:</b> ${report.priceSources.join('; ') || 'none stated'}. Price List API:
              ${count(lines.filter((line) => line.cost.priceSource === 'price-list').length)} lines, bundled
              table: ${count(lines.filter((line) => line.cost.priceSource === 'bundled').length)}, unpriced:
              ${count(totals.unpriced)}. Monthly = hourly × 730.
            </li>
          </ul>

          <h2>Lines that could not be priced</h2>
          ${
            unpriced.length === 0
              ? safe`<p>None: every line was priced.</p>`
              : safe`<p>
                    Neither the Price List API nor the bundled table knows their type; they count in no total.
                  </p>
                  <ul>
                    ${unpriced.slice(0, UNPRICED_LISTED).map((line) => safe`<li>${displayName(line)} (${line.kind}, ${changeOf(line)})</li>`)}
                  </ul>
                  ${unpriced.length > UNPRICED_LISTED ? safe`<p class="note">… and ${count(unpriced.length - UNPRICED_LISTED)} more in the CSV.</p>` : ''}`
          }

          <h2>All lines</h2>
          <p class="note">
            ${
              sorted.length > tableRows
                ? `The ${count(tableRows)} lines with the largest savings of ${count(sorted.length)}, sorted by savings; `
                : `${count(sorted.length)} lines, sorted by savings; `
            }<a href="${csvHref}">the CSV</a> has every line with every figure.
          </p>
          ${linesTable(sorted.slice(0, tableRows))}
        </main>
      </body>
    </html> `;
  return page.text;
}
