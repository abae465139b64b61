import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../lambdas/rightsizing/render/html';
import { topSavings, type ReportSummaryInput } from '../../lambdas/rightsizing/render/report-input';
import { generatedLines, handWrittenLines, sampleReport } from '../harness/rightsizing/sample-lines';

// The right-sizing report's HTML page in a real browser: Debian's chromium, driven by puppeteer-core. The page
// must render its charts with no console error, no page error, no dialog and not one network request (every
// request but the page itself is aborted and counted), show hostile workload names as text, and stay usable
// at 10,000 lines. The screenshot the README shows is taken here.

const SCREENSHOT = 'docs/images/rightsizing-report.png';
const INSTALL = 'apt-get update && apt-get install -y --no-install-recommends chromium';

/** Debian's chromium: CHROMIUM_PATH if set, else `chromium` on PATH, else /usr/bin/chromium. Never a silent skip. */
function chromiumPath(): string {
  const missing = (where: string) =>
    new Error(
      `The right-sizing HTML test needs Debian's chromium and found none (${where}). ` +
        `Install it as root: ${INSTALL} (.ci/run does this), or set CHROMIUM_PATH to a chromium binary.`,
    );
  const configured = process.env.CHROMIUM_PATH;
  if (configured !== undefined && configured !== '') {
    if (!existsSync(configured)) throw missing(`CHROMIUM_PATH=${configured} does not exist`);
    return configured;
  }
  let onPath = '';
  try {
    onPath = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    // not on PATH: try Debian's location
  }
  const found = [onPath, '/usr/bin/chromium'].find((path) => path !== '' && existsSync(path));
  if (found === undefined) throw missing('not on PATH, not at /usr/bin/chromium');
  return found;
}

interface Opened {
  page: Page;
  consoleErrors: string[];
  pageErrors: string[];
  /** Every request but the page's own, aborted. */
  requests: string[];
  dialogs: string[];
  loadMs: number;
}

let browser: Browser;
let dir: string;

beforeAll(async () => {
  browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in a container: chromium's sandbox needs user namespaces it does not get here.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none'],
  });
  dir = mkdtempSync(join(tmpdir(), 'rightsizing-html-'));
});

afterAll(async () => {
  await browser?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Writes the page to a file and opens it from its file:// URL, as from a downloaded S3 object. */
async function open(pageHtml: string, name: string): Promise<Opened> {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, pageHtml);
  const url = pathToFileURL(file).href;
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1400, deviceScaleFactor: 1 });
  const opened: Opened = { page, consoleErrors: [], pageErrors: [], requests: [], dialogs: [], loadMs: 0 };
  page.on('console', (message) => {
    if (message.type() === 'error') opened.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => opened.pageErrors.push(String(error)));
  page.on('dialog', (dialog) => {
    opened.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    if (request.url() === url && request.isNavigationRequest()) {
      void request.continue();
    } else {
      opened.requests.push(`${request.resourceType()} ${request.url()}`);
      void request.abort('blockedbyclient');
    }
  });
  const started = performance.now();
  await page.goto(url, { waitUntil: 'load' });
  opened.loadMs = performance.now() - started;
  return opened;
}

const count = (page: Page, selector: string) => page.$$eval(selector, (elements) => elements.length);

/** Runs in the page; a string, since the project's TypeScript has no DOM library. */
async function evaluate<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(expression)) as T;
}

describe('the right-sizing HTML report in a real browser', () => {
  it('counts a request the page makes (the detector the other tests rely on works)', async () => {
    const opened = await open(
      '<!doctype html><html><head><title>probe</title></head><body><img src="http://192.0.2.1/x.png"></body></html>',
      'probe',
    );
    expect(opened.requests).toEqual(['image http://192.0.2.1/x.png']);
    await opened.page.close();
  });

  it('renders its charts with no console error, no page error and no network request', async () => {
    const report: ReportSummaryInput = {
      ...sampleReport(0),
      lines: [...handWrittenLines().filter((line) => /^[\w-]+$/.test(line.name)), ...generatedLines(40)],
      gaps: [],
    };
    const opened = await open(await renderHtml(report), 'report');
    const { page } = opened;

    // (b) one bar per top saving, (a) per charted workload five bars (p50 … max) for CPU and five for memory,
    // and a rule each for the current request and the recommendation.
    expect(await count(page, 'figure[data-chart="top-savings"] svg [aria-roledescription="bar"]')).toBe(
      topSavings(report.lines, 10).length,
    );
    expect(topSavings(report.lines, 10)).toHaveLength(10);
    const charts = await page.$$('figure[data-chart="workload-usage"]');
    expect(charts).toHaveLength(8);
    for (const chart of charts) {
      expect(await chart.$$eval('svg [aria-roledescription="bar"]', (bars) => bars.length)).toBe(10);
      expect(await chart.$$eval('svg [aria-roledescription="rule mark"]', (rules) => rules.length)).toBe(4);
    }
    // The SVG has a size: it was laid out, not just parsed.
    const width = await evaluate<number>(
      page,
      `document.querySelector('figure[data-chart="top-savings"] svg').getBoundingClientRect().width`,
    );
    expect(width).toBeGreaterThan(400);
    expect(await count(page, 'table.lines tbody tr')).toBe(report.lines.length);
    expect(await evaluate<number>(page, 'document.scripts.length')).toBe(0);

    expect(opened.consoleErrors).toEqual([]);
    expect(opened.pageErrors).toEqual([]);
    expect(opened.requests).toEqual([]);
    expect(opened.dialogs).toEqual([]);

    await page.screenshot({ path: SCREENSHOT, type: 'png' });
    expect(statSync(SCREENSHOT).size).toBeLessThan(300_000);
    await page.close();
  });

  it('shows hostile workload names and reasons as text, never as markup', async () => {
    const report = sampleReport(4);
    const opened = await open(await renderHtml(report), 'hostile');
    const { page } = opened;

    const names = await evaluate<string[]>(
      page,
      `[...document.querySelectorAll('table.lines td.name')].map((cell) => cell.textContent)`,
    );
    expect(names).toContain('prod-eu/evil/<script>alert("x")</script>');
    const reasons = await evaluate<string[]>(
      page,
      `[...document.querySelectorAll('table.lines td.reason')].map((cell) => cell.textContent)`,
    );
    expect(reasons).toContain('<img src=x onerror=alert(1)> | *bold* [link](http://example.com)');
    const headings = await evaluate<string[]>(
      page,
      `[...document.querySelectorAll('figure[data-chart="workload-usage"] h3')].map((h) => h.textContent)`,
    );
    expect(headings).toContain('prod-eu/evil/<script>alert("x")</script>');
    // In the SVG too: the top-savings axis label is text.
    const labels = await evaluate<string[]>(
      page,
      `[...document.querySelectorAll('figure[data-chart="top-savings"] svg text')].map((t) => t.textContent)`,
    );
    expect(labels.some((label) => label.includes('<script>alert('))).toBe(true);
    expect(await evaluate<number>(page, 'document.scripts.length')).toBe(0);
    expect(await count(page, 'img')).toBe(0);

    expect(opened.consoleErrors).toEqual([]);
    expect(opened.pageErrors).toEqual([]);
    expect(opened.requests).toEqual([]);
    expect(opened.dialogs).toEqual([]);
    await page.close();
  });

  it('stays usable at 10,000 lines: the table is capped and links the CSV', async () => {
    const report = sampleReport(10_000, { csvHref: 'report.csv' });
    const started = performance.now();
    const pageHtml = await renderHtml(report);
    const renderMs = performance.now() - started;
    const opened = await open(pageHtml, 'large');
    const { page } = opened;

    expect(await count(page, 'table.lines tbody tr')).toBe(500);
    expect(await count(page, 'a[href="report.csv"]')).toBeGreaterThan(0);
    expect(await count(page, 'figure[data-chart="top-savings"] svg [aria-roledescription="bar"]')).toBe(10);
    expect(await count(page, 'figure[data-chart="workload-usage"]')).toBe(8);
    expect(opened.consoleErrors).toEqual([]);
    expect(opened.pageErrors).toEqual([]);
    expect(opened.requests).toEqual([]);
    // Generous bounds on a shared 2-core machine: the point is that neither grows with the line count.
    expect(pageHtml.length).toBeLessThan(2_000_000);
    expect(renderMs).toBeLessThan(15_000);
    expect(opened.loadMs).toBeLessThan(10_000);
    await page.close();
  });
});
