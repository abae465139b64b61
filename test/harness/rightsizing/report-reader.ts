import { REPORTS_PREFIX, RUNS_PREFIX } from '../../../lambdas/rightsizing/parts';
import type { SimulatedBuckets } from '../simulated-buckets';
import { REPORT_BUCKET } from './peers';

// Reads back what a right-sizing run left in the reports bucket, as a person (or a spreadsheet) would: the
// CSV parsed by RFC 4180 (not by the renderer's own code), the Markdown and the HTML as text.

/** RFC 4180: fields separated by commas, quoted when they hold a comma, quote, CR or LF; "" is a quote. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[index + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      index += 1;
    } else if (char === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

export interface WrittenReport {
  /** Every key written under the reports prefix. */
  keys: string[];
  csvKey: string | undefined;
  /** The CSV's rows as objects keyed by its header. */
  rows: Array<Record<string, string>>;
  header: string[];
  csv: string;
  markdown: string;
  html: string;
  /** The parts the collecting steps wrote under the runs prefix. */
  partKeys: string[];
}

export function readReport(buckets: SimulatedBuckets): WrittenReport {
  const objects = buckets.objects(REPORT_BUCKET);
  const keys = [...objects.keys()].filter((key) => key.startsWith(REPORTS_PREFIX));
  const find = (extension: string) => keys.find((key) => key.endsWith(extension));
  const body = (key: string | undefined) => (key === undefined ? '' : (objects.get(key)?.body ?? ''));
  const csvKey = find('.csv');
  const csv = body(csvKey);
  const [header = [], ...records] = parseCsv(csv);
  return {
    keys,
    csvKey,
    header,
    rows: records
      .filter((record) => record.length > 1 || record[0] !== '')
      .map((record) => Object.fromEntries(header.map((column, index) => [column, record[index] ?? '']))),
    csv,
    markdown: body(find('.md')),
    html: body(find('.html')),
    partKeys: [...objects.keys()].filter((key) => key.startsWith(RUNS_PREFIX)),
  };
}
