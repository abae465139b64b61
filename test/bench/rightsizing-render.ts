// `npx tsx test/bench/rightsizing-render.ts`: what the report's charting library (vega + vega-lite) costs a
// Lambda. It bundles a tiny handler that imports the three renderers with the project's esbuild settings
// (`esbuildOptions()`, as RunbookFunction bundles), once as is and once with vega and vega-lite replaced by an
// empty stub (the renderers without the chart library), then for each: the minified size, and in fresh `node`
// processes (median of 5) the cold import time and the first render of a 10,000-line report.
// A script, not a test: these machines are noisy; read the ratios within one run.
import { build, type Plugin } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { esbuildOptions } from '../../lib/lambda-bundling';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}.bench/rightsizing-render/`;
mkdirSync(out, { recursive: true });
const RUNS = 5;

const handler = `
import { renderCsv } from '../../lambdas/rightsizing/render/csv';
import { renderHtml } from '../../lambdas/rightsizing/render/html';
import { renderMarkdown } from '../../lambdas/rightsizing/render/markdown';
import { sampleReport } from '../../test/harness/rightsizing/sample-lines';
export async function handler(event: { lines: number; charts: boolean }) {
  const report = sampleReport(event.lines);
  const csv = renderCsv(report.lines);
  const markdown = renderMarkdown(report);
  const html = event.charts ? await renderHtml(report) : '';
  return { csv: csv.length, markdown: markdown.length, html: html.length };
}
`;
writeFileSync(`${out}handler.ts`, handler);

/** vega and vega-lite as empty modules: the bundle of everything else. */
const withoutCharts: Plugin = {
  name: 'no-chart-library',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^vega(-lite)?$/ }, (args) => ({ path: args.path, namespace: 'stub' }));
    pluginBuild.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        'export const View = class {}; export const parse = () => ({}); export const compile = () => ({});',
      loader: 'js',
    }));
  },
};

const timer = `${out}time.mjs`;
writeFileSync(
  timer,
  `const started = performance.now();
const { handler } = await import(process.argv[2]);
const imported = performance.now();
const sizes = await handler({ lines: 10000, charts: process.argv[3] === 'charts' });
const rendered = performance.now();
console.log(JSON.stringify({ importMs: imported - started, renderMs: rendered - imported, sizes }));
`,
);

const median = (samples: number[]) =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? NaN;

const rows: string[] = [];
for (const variant of [
  { name: 'renderers + vega + vega-lite', file: 'with-vega.mjs', plugins: [], charts: true },
  {
    name: 'renderers, chart library stubbed',
    file: 'without-vega.mjs',
    plugins: [withoutCharts],
    charts: false,
  },
]) {
  await build({
    ...esbuildOptions(),
    entryPoints: [`${out}handler.ts`],
    outfile: `${out}${variant.file}`,
    plugins: variant.plugins,
  });
  const bytes = statSync(`${out}${variant.file}`).size;
  const samples = Array.from({ length: RUNS }, () => {
    const line = execFileSync(
      process.execPath,
      [timer, `${out}${variant.file}`, variant.charts ? 'charts' : ''],
      {
        encoding: 'utf8',
      },
    );
    return JSON.parse(line) as { importMs: number; renderMs: number; sizes: Record<string, number> };
  });
  const sizes = samples[0]?.sizes ?? {};
  rows.push(
    `| ${variant.name} | ${bytes.toLocaleString('en-US')} | ${median(samples.map((s) => s.importMs)).toFixed(0)} | ` +
      `${median(samples.map((s) => s.renderMs)).toFixed(0)} | ${Object.entries(sizes)
        .map(([part, length]) => `${part} ${(length / 1024).toFixed(0)} KB`)
        .join(', ')} |`,
  );
}

console.log(`Node ${process.version}, ${RUNS} fresh processes each, medians; a 10,000-line report\n`);
console.log(
  '| bundle | minified bytes | cold import ms | first render ms (CSV + Markdown + HTML) | output |',
);
console.log('| --- | ---: | ---: | ---: | --- |');
for (const row of rows) console.log(row);
