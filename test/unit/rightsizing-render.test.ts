import { describe, expect, it } from 'vitest';
import {
  CSV_COLUMNS,
  csvField,
  formatNumber,
  guardFormula,
  renderCsv,
} from '../../lambdas/rightsizing/render/csv';
import { escapeHtml, renderHtml } from '../../lambdas/rightsizing/render/html';
import { markdownText, renderMarkdown } from '../../lambdas/rightsizing/render/markdown';
import { describeStrategy, totalsOf } from '../../lambdas/rightsizing/render/report-input';
import { handWrittenLines, sampleReport, workloadLine } from '../harness/rightsizing/sample-lines';

/** A minimal RFC 4180 reader: enough to prove the writer's output parses back to the same cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 1;
    } else cell += c;
  }
  expect(cell).toBe('');
  expect(row).toEqual([]);
  return rows;
}

describe('the CSV', () => {
  it('quotes fields with commas, quotes, CR or LF, doubling the quotes (RFC 4180)', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField(undefined)).toBe('');
    expect(csvField('')).toBe('');
  });

  it('prefixes text cells a spreadsheet would run as a formula with a single quote', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r']) {
      expect(guardFormula(`${start}SUM(A1:A9)`)).toBe(`'${start}SUM(A1:A9)`);
    }
    expect(guardFormula('checkout-api')).toBe('checkout-api');
    expect(guardFormula("'already")).toBe("'already");
    // Guarded and quoted: the quote prefix sits inside the quoted field.
    expect(csvField('=HYPERLINK("http://evil.example","click")')).toBe(
      '"\'=HYPERLINK(""http://evil.example"",""click"")"',
    );
  });

  it('writes numbers as plain decimals, negative savings included, without guarding them', () => {
    expect(csvField(-12.5)).toBe('-12.5');
    expect(csvField(1e-7)).toBe('0');
    expect(csvField(2_147_483_648)).toBe('2147483648');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(Number.NaN)).toBe('');
    expect(formatNumber(-0)).toBe('0');
  });

  it('has a header and one CRLF-terminated row per line, sorted by savings, that parse back to the data', () => {
    const lines = handWrittenLines();
    const text = renderCsv(lines);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text);
    const header = rows[0] ?? [];
    expect(header).toEqual(CSV_COLUMNS.map(([name]) => name));
    expect(rows).toHaveLength(lines.length + 1);
    for (const row of rows) expect(row).toHaveLength(header.length);

    const records = rows
      .slice(1)
      .map((row) => Object.fromEntries(header.map((name, i) => [name, row[i] ?? ''])));
    expect(records[0]?.name).toBe('checkout-api');
    expect(records[0]?.monthly_savings_usd).toBe('690.25');
    expect(records.at(-1)?.price_source).toBe('none');
    expect(records.at(-1)?.monthly_savings_usd).toBe('');

    const hostile = records.find((record) => record.namespace === 'csv');
    expect(hostile?.name).toBe('\'=HYPERLINK("http://evil.example","click")');
    expect(hostile?.reason).toBe('\'+cmd, "quoted", with\na newline');
    expect(hostile?.current_memory_bytes).toBe(String(2048 * 1024 * 1024));

    const grows = records.find((record) => record.name === 'search-indexer');
    expect(grows?.monthly_savings_usd).toBe('-120');

    const ec2 = records.find((record) => record.kind === 'ec2');
    expect(ec2?.compute_optimizer_reasons).toBe('CPUOverprovisioned; MemoryOverprovisioned');
    expect(ec2?.cpu_statistic).toBe('Maximum');
    expect(ec2?.recommended_instance_type).toBe('m7g.large');
  });

  it('guards no cell it wrote from a number, and every text cell that starts like a formula', () => {
    const rows = parseCsv(renderCsv(handWrittenLines())).slice(1);
    for (const cell of rows.flat()) expect(cell).not.toMatch(/^[=+@\t\r]/);
    for (const cell of rows.flat().filter((c) => c.startsWith('-'))) expect(cell).toMatch(/^-\d+(\.\d+)?$/);
  });
});

describe('the Markdown summary', () => {
  const report = sampleReport(0);
  const markdown = renderMarkdown(report);

  it('totals the savings, the extra cost of growing and the net, leaving unpriced lines out', () => {
    // 690.25 + 450 + 200 + 220.75 + 365 saved; search-indexer costs 120 more; the ASG is unpriced.
    const totals = totalsOf(report.lines);
    expect(totals).toMatchObject({ lines: 9, priced: 8, unpriced: 1, extraCost: 120 });
    expect(totals.savings).toBeCloseTo(1926, 6);
    expect(totals.net).toBeCloseTo(1806, 6);
    expect(markdown).toContain('**$1,926.00 a month** could be saved across 8 priced lines');
    expect(markdown).toContain('growing under-provisioned lines costs $120.00, net $1,806.00');
    expect(markdown).toContain('1 of 9 lines could not be priced');
  });

  it('totals by kind and by source', () => {
    expect(markdown).toContain('| EKS workloads | 6 | 0 | $1,340.25 | $120.00 | $1,220.25 |');
    expect(markdown).toContain('| EC2 instances | 1 | 0 | $220.75 | $0.00 | $220.75 |');
    expect(markdown).toContain('| RDS instances | 1 | 0 | $365.00 | $0.00 | $365.00 |');
    expect(markdown).toContain('| Auto Scaling groups | 1 | 1 | $0.00 | $0.00 | $0.00 |');
    expect(markdown).toContain('| Compute Optimizer | 1 | 0 | $220.75 | $0.00 | $220.75 |');
    expect(markdown).toContain('| CloudWatch (our method) | 8 | 1 | $1,705.25 | $120.00 | $1,585.25 |');
    expect(markdown).toContain('| **all** | 9 | 1 | $1,926.00 | $120.00 | $1,806.00 |');
  });

  it('lists the top savings largest first, counts findings, and states the method and price sources', () => {
    const top = markdown.slice(markdown.indexOf('## Top 10 savings'), markdown.indexOf('## Findings'));
    const ranks = top.split('\n').filter((line) => /^\| \d+ \|/.test(line));
    expect(ranks).toHaveLength(5);
    expect(ranks[0]).toContain('checkout-api');
    expect(ranks[0]).toContain('$690.25');
    expect(ranks[1]).toContain('$450.00');
    expect(ranks[2]).toContain('orders-db');
    expect(markdown).toContain('| over-provisioned | 6 |');
    expect(markdown).toContain('| under-provisioned | 1 |');
    expect(markdown).toContain('| insufficient-data | 1 |');
    expect(markdown).toContain('CPU: Average over 300 s (7 series)');
    expect(markdown).toContain('CPU: Maximum over 300 s (2 series)');
    expect(markdown).toContain('AWS Price List API (us-east-1), cached 2026-12-07');
    expect(markdown).toContain(
      'Lines priced from the Price List API: 2, from the bundled table: 6, unpriced: 1',
    );
    expect(markdown).toContain('cluster staging-eu: the API server did not answer within 10 s');
  });

  it('lists the lines that could not be priced', () => {
    const section = markdown.slice(markdown.indexOf('## Lines that could not be priced'));
    expect(section).toContain('eks-prod-eu-general (asg, x9z.huge → x9z.large)');
    expect(
      renderMarkdown({ ...report, lines: report.lines.filter((line) => line.cost.priceSource !== 'none') }),
    ).toContain('None: every line was priced.');
  });

  it('keeps hostile text inert: no HTML, no link, no table cell broken', () => {
    expect(markdownText('<script>x</script> | [a](b) *c* `d`')).toBe(
      '&lt;script&gt;x&lt;/script&gt; \\| \\[a\\](b) \\*c\\* \\`d\\`',
    );
    expect(markdownText('# not a heading')).toBe('\\# not a heading');
    expect(markdownText('- not a list')).toBe('\\- not a list');
    expect(markdownText('1. not a list')).toBe('1\\. not a list');
    expect(markdown).not.toContain('<script>');
    expect(markdown).not.toContain('<img');
    const evil = markdown.split('\n').find((line) => line.includes('evil/'));
    // 7 columns: 8 unescaped pipes.
    expect(evil?.match(/(?<!\\)\|/g)).toHaveLength(8);
  });

  it('says so when nothing saves money', () => {
    const lines = [workloadLine({ name: 'tight' }, { current: 10, recommended: 10 })];
    expect(renderMarkdown({ ...report, lines, gaps: [] })).toContain('No line saves money.');
  });
});

describe('the HTML page (structure; the browser test renders it)', () => {
  it('escapes every string from the data and carries no script and no external reference', async () => {
    const page = await renderHtml(sampleReport(3));
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img/i);
    expect(page).toContain('&lt;script&gt;alert(');
    expect(page).toContain("default-src 'none'".replaceAll("'", '&#39;'));
    // No URL but the SVG namespaces and the data's own (escaped) text; no src, no stylesheet link.
    expect(page).not.toMatch(/<[a-z][^>]*\ssrc=/i);
    expect(page).not.toMatch(/<link/i);
    expect(page).not.toMatch(/url\((?!#)/);
  });

  it('describes the strategy from the configuration', () => {
    expect(
      describeStrategy({
        cpuPercentile: 95,
        memoryMarginPercent: 15,
        minCpuMillicores: 25,
        minMemoryMiB: 250,
        minDatapoints: 100,
        hpa: 'skip',
        tolerancePercent: 10,
      }),
    ).toBe(
      'CPU request at P95 of usage, memory at the maximum + 15 %, at least 25m CPU and 250 MiB, at least 100 ' +
        'datapoints per series, changes under 10 % reported as optimized; workloads an HPA scales are reported ' +
        'as HPA-managed, not sized.',
    );
  });
});
