import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datapointsPerSeries, lowerBoundCalls } from '../../lambdas/rightsizing/metric-queries';
import type { RunbooksConfig } from '../../lib/config/schema';
import { Rehearsal, type RehearsalResult } from '../harness/rehearsal';
import { CLUSTERS, REPORT_BUCKET, rightsizingPeersOf } from '../harness/rightsizing/peers';
import { readReport, type WrittenReport } from '../harness/rightsizing/report-reader';
import { rehearsedRunbook } from '../harness/rightsizing/rehearsal';
import {
  arrangedAccountOf,
  THROTTLED_CALLS,
  UNPRICED_RDS_CLASS,
  workloadLineId,
  type ArrangedAccount,
  type FleetMachine,
} from '../harness/rightsizing/scenarios';

// The cost right-sizing report's real ASL file and handlers against two simulated Kubernetes API servers
// (Deployments, StatefulSets, DaemonSets, HPAs), CloudWatch's GetMetricData with fourteen days of Container
// Insights series, Compute Optimizer, the Price List API, RDS, the reports bucket and a real Slack receiver.
// Each scenario asserts on what a person gets: the CSV, Markdown and HTML in S3, the Slack summary and the
// lifecycle events.

let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  rehearsal = await Rehearsal.start(rehearsedRunbook);
});
afterAll(async () => {
  await rehearsal?.close();
});

interface Ran {
  result: RehearsalResult;
  account: ArrangedAccount;
  report: WrittenReport;
}

async function run(name: string): Promise<Ran> {
  const [result] = await rehearsal.runScenario(name);
  if (!result) throw new Error(`scenario ${name} ran nothing`);
  return { result, account: arrangedAccountOf(rehearsal), report: readReport(peers().buckets) };
}

const peers = () => rightsizingPeersOf(rehearsal);
const lifecycle = () => rehearsal.account.events.map((event) => event.detailType);
const slackText = () => rehearsal.slack.messages.map((message) => JSON.stringify(message.body)).join('\n');
/** The clusters DescribeCluster was asked about (by any step) since the scenario began. */
const describedClusters = () =>
  rehearsal.account.calls.filter((call) => call.operation === 'DescribeCluster').map((call) => call.target);
const count = (states: string[], name: string) => states.filter((state) => state === name).length;

/** The ASL's retrier of CollectWorkloads for MetricDataThrottled. */
function throttlingRetrier(): { BackoffRate?: number; MaxAttempts?: number; JitterStrategy?: string } {
  const asl = JSON.parse(readFileSync(rehearsedRunbook.definitionPath, 'utf8')) as {
    States: {
      Collect: {
        Branches: Array<{
          States: Record<
            string,
            { ItemProcessor?: { States: Record<string, { Retry?: Array<Record<string, unknown>> }> } }
          >;
        }>;
      };
    };
  };
  const task = asl.States.Collect.Branches[0]?.States.CollectClusters?.ItemProcessor?.States.CollectWorkloads;
  const retrier = task?.Retry?.find((candidate) =>
    (candidate.ErrorEquals as string[]).includes('MetricDataThrottled'),
  );
  if (!retrier) throw new Error('CollectWorkloads has no retrier for MetricDataThrottled');
  return retrier;
}

/** USD as the report writes it: `$1,234.50`. */
const usd = (amount: number) =>
  `$${amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** The totals a reader of the CSV adds up: savings (positive lines), what growing costs, net, unpriced. */
function csvTotals(report: WrittenReport) {
  const priced = report.rows.filter(
    (line) => line.price_source !== 'none' && line.monthly_savings_usd !== '',
  );
  const amounts = priced.map((line) => Number(line.monthly_savings_usd));
  const round = (value: number) => Math.round(value * 100) / 100;
  const savings = round(amounts.filter((value) => value > 0).reduce((sum, value) => sum + value, 0));
  const added = round(-amounts.filter((value) => value < 0).reduce((sum, value) => sum + value, 0));
  return {
    lines: report.rows.length,
    unpriced: report.rows.length - priced.length,
    savings,
    added,
    net: round(savings - added),
  };
}

/** The amounts of the Slack summary's top-savings lines, in order (`<name>: $X a month. …`). */
function slackTopSavings(): string[] {
  const section = rehearsal.slack.messages
    .flatMap((message) => (message.body.blocks ?? []) as Array<{ text?: { text?: string } }>)
    .map((block) => block.text?.text ?? '')
    .find((text) => /^\*Top \d+ savings\*/.test(text));
  return [...(section ?? '').matchAll(/^• .+?: (\$[\d,.]+) a month\./gm)].map((match) => match[1] ?? '');
}

/** The CSV row of a line id. */
function row(report: WrittenReport, id: string): Record<string, string> {
  const found = report.rows.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`The CSV has no row ${id}; it has ${report.rows.map((r) => r.id).join(', ')}`);
  return found;
}

/** The id a machine's line has: the instance id, the group name, the DB identifier. */
const machineLineId = (machine: FleetMachine) => machine.id;

/** The GetMetricData calls for Container Insights series, and the least the API's limits allow for them. */
function podMetricCalls(workloadsPerCluster: number[]) {
  const calls = peers().metrics.calls.filter(
    (call) =>
      call.error === undefined && call.metricNames.some((name) => name.startsWith('ContainerInsights/')),
  );
  const period = rehearsal.config.rightsizing?.periodSeconds ?? 300;
  const lookback = (rehearsal.config.rightsizing?.lookbackDays ?? 14) * 86_400_000;
  const points = datapointsPerSeries({ start: new Date(0), end: new Date(lookback) }, period);
  const lowerBound = workloadsPerCluster.reduce(
    (sum, workloads) => sum + lowerBoundCalls(workloads * 2, points),
    0,
  );
  return { calls: calls.length, lowerBound };
}

function expectWorkloadRows(report: WrittenReport, account: ArrangedAccount, clusters: string[]): void {
  for (const workload of account.workloads.filter((candidate) => clusters.includes(candidate.cluster))) {
    expect(row(report, workloadLineId(workload)), workloadLineId(workload)).toMatchObject({
      kind: 'workload',
      cluster: workload.cluster,
      namespace: workload.namespace,
      name: workload.name,
      source: 'cloudwatch',
      finding: workload.expected,
    });
  }
}

/** The Slack links by label (Slack's mrkdwn `<url|label>`, `&` escaped as `&amp;`). */
function slackLinks(): Record<string, string> {
  return Object.fromEntries(
    [...slackText().matchAll(/<(https?:\/\/[^|>]+)\|([^>]+)>/g)].map((match) => [
      match[2],
      (match[1] ?? '').replace(/&amp;/g, '&'),
    ]),
  );
}

describe('the cost right-sizing report', () => {
  // First: the collector must be cold to learn from DescribeCluster that the endpoint is private-only.
  it('names a cluster that cannot be reached, needs attention, and still reports the other cluster, EC2 and RDS', async () => {
    const { result, account, report } = await run('cluster-unreachable');
    // The collector described the cluster in this run (a warm one would have its endpoint cached).
    expect(describedClusters()).toContain(CLUSTERS.batch.name);
    expect(result.status).toBe('SUCCEEDED');
    // Its Map iteration failed by name and became a part the report names.
    expect(result.states).toContain('CollectWorkloadsFailed');
    expect(
      result.lambdaInvocations
        .filter((call) => call.name.startsWith('rightsizing-') && call.error !== undefined)
        .map((call) => call.error),
    ).toEqual(['ClusterEndpointUnreachable']);
    expect(rehearsal.cluster(CLUSTERS.batch.name).requests).toEqual([]);
    expectWorkloadRows(report, account, [CLUSTERS.prod.name]);
    expect(report.rows.filter((line) => line.cluster === CLUSTERS.batch.name)).toEqual([]);
    for (const machine of account.machines) expect(row(report, machine.id).source).toBe('compute-optimizer');
    const gap = `cluster ${CLUSTERS.batch.name}: ClusterEndpointUnreachable`;
    expect(report.markdown).toContain(gap);
    expect(report.html).toContain(`<b>cluster ${CLUSTERS.batch.name}</b>: ClusterEndpointUnreachable`);
    expect(slackText()).toContain(gap);
    expect(rehearsal.slack.messages[0]?.body.text).toMatch(/needs attention/);
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
    expect(rehearsal.account.pages).toEqual([]);
  });

  it('sizes both clusters’ workloads from Container Insights and EC2/RDS from Compute Optimizer, prices every line and reports', async () => {
    const { result, account, report } = await run('healthy');
    expect(result.status).toBe('SUCCEEDED');
    expect(count(result.states, 'CollectWorkloads')).toBe(2);
    expect(result.states).toEqual(
      expect.arrayContaining(['CollectCompute', 'Report', 'NotifyReport', 'PublishSucceeded']),
    );
    expect(result.states).not.toContain('CollectWorkloadsFailed');
    expect(result.states).not.toContain('CollectComputeFailed');

    // The CSV: a row per workload with the finding the scenario's data means, and per machine from Compute Optimizer.
    expectWorkloadRows(report, account, [CLUSTERS.prod.name, CLUSTERS.batch.name]);
    for (const machine of account.machines) {
      expect(row(report, machineLineId(machine))).toMatchObject({
        kind: machine.kind,
        source: 'compute-optimizer',
        current_instance_type: machine.type,
        recommended_instance_type: machine.computeOptimizer.recommended ?? machine.type,
      });
    }
    expect(report.rows).toHaveLength(account.workloads.length + account.machines.length);
    // The numbers behind a workload line: the statistic, period and datapoints of its usage.
    expect(row(report, `${CLUSTERS.prod.name}/checkout/Deployment/storefront`)).toMatchObject({
      cpu_statistic: 'Average',
      cpu_period_seconds: '300',
      cpu_datapoints: '4032',
      memory_statistic: 'Maximum',
    });
    // Deployed two hours ago: 24 datapoints (23 when the run starts in the next 5-minute period).
    expect(
      Number(row(report, `${CLUSTERS.prod.name}/checkout/Deployment/promo-banner`).cpu_datapoints),
    ).toBeGreaterThanOrEqual(23);
    expect(
      Number(row(report, `${CLUSTERS.prod.name}/checkout/Deployment/promo-banner`).cpu_datapoints),
    ).toBeLessThanOrEqual(24);
    // Every type is in the Price List: every sized machine and workload priced from it.
    for (const machine of account.machines) expect(row(report, machine.id).price_source).toBe('price-list');
    const totals = csvTotals(report);
    expect(totals).toMatchObject({ lines: 15, unpriced: 0 });
    expect(totals.savings).toBeGreaterThan(1000);

    // The Markdown summary: its totals are the CSV's; the HTML page has its charts inline and loads nothing.
    expect(report.markdown).toContain(
      `| **all** | ${totals.lines} | ${totals.unpriced} | ${usd(totals.savings)} | ${usd(totals.added)} | ${usd(totals.net)} |`,
    );
    expect(report.html).toMatch(/^<!doctype html>/i);
    expect(report.html).toContain('<svg');
    expect(report.html).not.toMatch(/<(script|img|link)[^>]+(src|href)=["']https?:/i);

    // Slack: the totals, the top savings largest first (at most topN), and presigned links that last 72 hours.
    expect(rehearsal.slack.messages).toHaveLength(1);
    expect(slackText()).toContain(`*Savings a month:* ${usd(totals.savings)}`);
    expect(slackText()).toContain(`*Net a month:* ${usd(totals.net)}`);
    const top = report.rows
      .map((line) => Number(line.monthly_savings_usd))
      .filter((value) => value > 0)
      .sort((a, b) => b - a)
      .slice(0, 10);
    expect(slackTopSavings()).toEqual(top.map(usd));
    const links = slackLinks();
    for (const [label, file] of [
      ['Report (HTML)', 'report.html'],
      ['Every line (CSV)', 'report.csv'],
    ] as const) {
      const url = new URL(links[label] ?? 'missing:');
      expect(url.protocol).toBe('https:');
      expect(url.hostname).toBe(`${REPORT_BUCKET}.s3.eu-west-1.amazonaws.com`);
      expect(url.pathname).toMatch(new RegExp(`^/rightsizing/reports/.+/${file}$`));
      expect(report.keys).toContain(url.pathname.slice(1));
      expect(url.searchParams.get('X-Amz-Expires')).toBe(String(72 * 3600));
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
    expect(rehearsal.account.events[1]?.detail).toMatchObject({
      runbook: 'rightsizing',
      reportKey: report.keys.find((key) => key.endsWith('.html')),
      totals: { lines: totals.lines, unpriced: 0, gaps: 0 },
    });

    // GetMetricData packed to the API's limits: one call per cluster (12 and 8 series of 4,032 points each),
    // as counted here and as each step reports it in its part.
    const metricCalls = podMetricCalls([6, 4]);
    expect(metricCalls.calls).toBe(metricCalls.lowerBound);
    const [clusterParts] = (result.output as { parts: [Array<Record<string, unknown>>, unknown] }).parts;
    expect(
      clusterParts.map(({ cluster, metricCalls: calls, metricCallsLowerBound }) => [
        cluster,
        calls,
        metricCallsLowerBound,
      ]),
    ).toEqual([
      [CLUSTERS.prod.name, 1, 1],
      [CLUSTERS.batch.name, 1, 1],
    ]);
    // Opted in: Compute Optimizer sized the machines, not CloudWatch.
    expect(
      peers().metrics.calls.some((call) => call.metricNames.some((name) => name.startsWith('AWS/'))),
    ).toBe(false);
  });

  it('sizes EC2 and RDS from their CloudWatch CPU when the account has not opted in to Compute Optimizer', async () => {
    const { result, account, report } = await run('not-opted-in');
    expect(result.status).toBe('SUCCEEDED');
    // Every running instance (the bastion and each node) and each database, from CPUUtilization.
    const nodes = Object.values(account.nodes).flat();
    const expected = [
      ...account.machines.filter((machine) => machine.kind !== 'asg').map((machine) => machine.id),
      ...nodes,
    ];
    for (const id of expected) {
      expect(row(report, id), id).toMatchObject({
        source: 'cloudwatch',
        cpu_statistic: 'Average',
        cpu_period_seconds: '300',
        cpu_datapoints: '4032',
      });
    }
    expect(nodes).toHaveLength(9);
    expect(row(report, nodes[0] ?? '')).toMatchObject({ kind: 'ec2', current_instance_type: 'm5.2xlarge' });
    // The bastion idles at 4 % of 8 vCPUs: the smallest m5; the analytics database runs at ~80 % of 2: larger.
    expect(row(report, 'i-0a1b2c3d4e5f60718')).toMatchObject({
      finding: 'over-provisioned',
      recommended_instance_type: 'm5.large',
    });
    expect(row(report, 'analytics-prod')).toMatchObject({
      finding: 'under-provisioned',
      recommended_instance_type: 'db.m6g.xlarge',
    });
    // Groups are Compute Optimizer's alone: not sized, and the report says why.
    expect(report.rows.filter((line) => line.kind === 'asg')).toEqual([]);
    expect(report.markdown).toMatch(/not opted in to Compute Optimizer/);
    expect(peers().optimizer.calls.map((call) => [call.operation, call.error])).toEqual([
      ['GetEnrollmentStatus', undefined],
    ]);
    // One GetMetricData call for the 12 instance series: the lower bound.
    const instanceCalls = peers().metrics.calls.filter(
      (call) =>
        call.error === undefined &&
        call.metricNames.every(
          (name) => name === 'AWS/EC2/CPUUtilization' || name === 'AWS/RDS/CPUUtilization',
        ),
    );
    expect(instanceCalls).toHaveLength(lowerBoundCalls(expected.length, 4032));
    expectWorkloadRows(report, account, [CLUSTERS.prod.name, CLUSTERS.batch.name]);
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
  });

  it('retries a throttled GetMetricData with backoff and still reports every workload', async () => {
    const { result, account, report } = await run('metrics-throttled');
    expect(result.status).toBe('SUCCEEDED');
    expect(peers().metrics.throttledCalls).toBe(THROTTLED_CALLS);
    // Each throttled call failed its step (MetricDataThrottled), which Step Functions retried with backoff.
    const retries = result.timeline.filter((entry) => entry.text === '↻ retry CollectWorkloads');
    expect(retries).toHaveLength(THROTTLED_CALLS);
    expect(
      result.lambdaInvocations
        .filter((call) => call.error === 'MetricDataThrottled')
        .map((call) => call.name),
    ).toEqual(Array(THROTTLED_CALLS).fill('rightsizing-collect-workloads'));
    expect(throttlingRetrier()).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
    expect(throttlingRetrier().MaxAttempts).toBeGreaterThanOrEqual(THROTTLED_CALLS);
    expect(result.states).not.toContain('CollectWorkloadsFailed');
    expectWorkloadRows(report, account, [CLUSTERS.prod.name, CLUSTERS.batch.name]);
    // The throttled calls were asked again: the answered ones are still the lower bound.
    const metricCalls = podMetricCalls([6, 4]);
    expect(metricCalls.calls).toBe(metricCalls.lowerBound);
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
  });

  it('reports a cluster whose API server resets every connection once, as a cluster not covered, and the rest', async () => {
    const { result, account, report } = await run('cluster-connection-reset');
    expect(result.status).toBe('SUCCEEDED');
    expectWorkloadRows(report, account, [CLUSTERS.prod.name]);
    expect(report.rows.filter((line) => line.cluster === CLUSTERS.batch.name)).toEqual([]);
    for (const machine of account.machines) expect(row(report, machine.id).source).toBe('compute-optimizer');
    // Every list of both namespaces was tried; the cluster is named once, not once per namespace and kind.
    const batch = rehearsal.cluster(CLUSTERS.batch.name).requests;
    expect(batch.length).toBeGreaterThanOrEqual(8);
    expect(batch.every((request) => request.status === 0)).toBe(true);
    expect(report.markdown).toContain(`cluster ${CLUSTERS.batch.name}`);
    expect(report.markdown.split(`${CLUSTERS.batch.name}/`).length - 1).toBe(0);
    expect(slackText()).toContain(`cluster ${CLUSTERS.batch.name}: KubernetesUnavailable`);
    expect(slackText()).toContain('needs attention');
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
  });

  it('reports a line whose price neither the Price List nor the bundled table knows as unpriced, out of the totals', async () => {
    const { result, report } = await run('price-missing');
    expect(result.status).toBe('SUCCEEDED');
    expect(row(report, 'analytics-prod')).toMatchObject({
      current_instance_type: UNPRICED_RDS_CLASS,
      price_source: 'none',
      monthly_savings_usd: '',
    });
    expect(row(report, 'analytics-prod').reason).toMatch(/no price/i);
    expect(peers().pricing.calls.some((call) => call.filters.instanceType === UNPRICED_RDS_CLASS)).toBe(true);
    expect(report.markdown).toMatch(/could not be priced/);
    // The totals leave it out, and say so.
    const totals = csvTotals(report);
    expect(totals.unpriced).toBe(1);
    expect(report.markdown).toContain(`1 of ${totals.lines} lines could not be priced`);
    expect(slackText()).toContain(`*Savings a month:* ${usd(totals.savings)}`);
    expect(slackText()).toContain(`*Lines:* ${totals.lines} (1 unpriced)`);
    expect(lifecycle()).toEqual(['RunbookStarted', 'RunbookSucceeded']);
  });
});
