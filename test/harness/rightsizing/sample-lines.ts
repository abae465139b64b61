import type { RecommendationLine, UsageDistribution } from '../../../lambdas/rightsizing/model';
import type { ReportSummaryInput } from '../../../lambdas/rightsizing/render/report-input';

// Recommendation lines for the report renderers' tests: a few written by hand (each a case the renderers
// must handle: hostile names, unpriced types, Compute Optimizer lines, HPA, too little data) and as many
// generated ones as a test asks for, deterministic (a seeded generator), so a page of 10,000 lines is the
// same page every run.

const MIB = 1024 * 1024;

export function distribution(
  values: { p50: number; p90: number; p95: number; p99: number; max: number },
  statistic = 'Average',
  periodSeconds = 300,
  datapoints = 4032,
): UsageDistribution {
  return { statistic, periodSeconds, datapoints, ...values };
}

/** A workload line priced from the bundled table; savings = current − recommended. */
export function workloadLine(
  overrides: Partial<RecommendationLine> & { name: string },
  { current, recommended }: { current: number; recommended: number } = { current: 120, recommended: 40 },
): RecommendationLine {
  const { name, ...rest } = overrides;
  const cluster = rest.cluster ?? 'prod-eu';
  const namespace = rest.namespace ?? 'shop';
  return {
    kind: 'workload',
    id: `${cluster}/${namespace}/Deployment/${name}`,
    cluster,
    namespace,
    name,
    source: 'cloudwatch',
    finding: recommended < current ? 'over-provisioned' : 'under-provisioned',
    current: { cpuMillicores: 1000, memoryBytes: 2048 * MIB, replicas: 3 },
    recommended: { cpuMillicores: 250, memoryBytes: 600 * MIB },
    evidence: {
      cpu: distribution({ p50: 90, p90: 160, p95: 210, p99: 260, max: 420 }),
      memory: distribution({
        p50: 380 * MIB,
        p90: 450 * MIB,
        p95: 480 * MIB,
        p99: 505 * MIB,
        max: 520 * MIB,
      }),
    },
    reason: 'CPU p95 is 210m of a 1000m request and memory peaks at 520 MiB of 2 GiB: lower both.',
    cost: {
      current,
      recommended,
      savings: current - recommended,
      priceSource: 'bundled',
      method: "the pods' share of their node's on-demand price (m7g.xlarge, bundled table)",
    },
    ...rest,
  };
}

/** The hand-written lines: one of each case. */
export function handWrittenLines(): RecommendationLine[] {
  return [
    workloadLine({ name: 'checkout-api' }, { current: 910.4, recommended: 220.15 }),
    workloadLine(
      {
        name: '<script>alert("x")</script>',
        namespace: 'evil',
        reason: '<img src=x onerror=alert(1)> | *bold* [link](http://example.com)',
      },
      { current: 600, recommended: 150 },
    ),
    workloadLine(
      {
        name: '=HYPERLINK("http://evil.example","click")',
        namespace: 'csv',
        reason: '+cmd, "quoted", with\na newline',
      },
      { current: 300, recommended: 100 },
    ),
    workloadLine(
      {
        name: 'search-indexer',
        finding: 'under-provisioned',
        current: { cpuMillicores: 200, memoryBytes: 512 * MIB, replicas: 2 },
        recommended: { cpuMillicores: 450, memoryBytes: 900 * MIB },
        evidence: {
          cpu: distribution({ p50: 180, p90: 330, p95: 390, p99: 440, max: 610 }),
          memory: distribution({
            p50: 600 * MIB,
            p90: 700 * MIB,
            p95: 740 * MIB,
            p99: 770 * MIB,
            max: 780 * MIB,
          }),
        },
        reason: 'CPU p95 390m is above the 200m request and memory peaks at 780 MiB of 512 MiB: raise both.',
      },
      { current: 200, recommended: 320 },
    ),
    workloadLine(
      {
        name: 'queue-worker',
        finding: 'hpa-managed',
        recommended: {},
        reason: 'An HPA scales it: resizing its requests moves its utilisation target, so it is not sized.',
      },
      { current: 150, recommended: 150 },
    ),
    {
      kind: 'workload',
      id: 'prod-eu/batch/StatefulSet/nightly-report',
      cluster: 'prod-eu',
      namespace: 'batch',
      name: 'nightly-report',
      source: 'cloudwatch',
      finding: 'insufficient-data',
      current: { cpuMillicores: 500, memoryBytes: 1024 * MIB, replicas: 1 },
      recommended: {},
      evidence: { cpu: distribution({ p50: 5, p90: 8, p95: 9, p99: 10, max: 400 }, 'Average', 300, 42) },
      reason: 'Only 42 datapoints of the 100 the strategy needs: no recommendation.',
      cost: {
        current: 40,
        recommended: 40,
        savings: 0,
        priceSource: 'bundled',
        method: "the pods' share of their node's price",
      },
    },
    {
      kind: 'ec2',
      id: 'i-0abc1234def567890',
      name: 'bastion',
      source: 'compute-optimizer',
      finding: 'over-provisioned',
      current: { instanceType: 'm5.2xlarge' },
      recommended: { instanceType: 'm7g.large' },
      evidence: {
        cpu: distribution({ p50: 2, p90: 4, p95: 5, p99: 9, max: 22 }, 'Maximum', 300, 4032),
        computeOptimizer: {
          finding: 'Overprovisioned',
          reasons: ['CPUOverprovisioned', 'MemoryOverprovisioned'],
          projectedCpuMaxPercent: 35,
        },
      },
      reason: 'Compute Optimizer: CPU and memory over-provisioned; m7g.large keeps CPU under 35 %.',
      cost: {
        current: 280.32,
        recommended: 59.57,
        savings: 220.75,
        priceSource: 'price-list',
        method: 'on-demand Linux price, Price List API',
      },
    },
    {
      kind: 'rds',
      id: 'orders-db',
      name: 'orders-db',
      source: 'cloudwatch',
      finding: 'over-provisioned',
      current: { instanceType: 'db.r6g.2xlarge' },
      recommended: { instanceType: 'db.r6g.xlarge' },
      evidence: { cpu: distribution({ p50: 8, p90: 14, p95: 17, p99: 25, max: 38 }, 'Maximum', 300, 4032) },
      reason: 'CPU p95 17 %, max 38 %: half the vCPUs keep the max under 80 %.',
      cost: {
        current: 730,
        recommended: 365,
        savings: 365,
        priceSource: 'price-list',
        method: 'on-demand single-AZ PostgreSQL price, Price List API',
      },
    },
    {
      kind: 'asg',
      id: 'eks-prod-eu-general',
      name: 'eks-prod-eu-general',
      source: 'cloudwatch',
      finding: 'over-provisioned',
      current: { instanceType: 'x9z.huge' },
      recommended: { instanceType: 'x9z.large' },
      evidence: { cpu: distribution({ p50: 20, p90: 30, p95: 33, p99: 40, max: 55 }) },
      reason: 'CPU p95 33 %: a smaller type fits.',
      cost: {
        priceSource: 'none',
        method: 'x9z.huge is in neither the Price List API nor the bundled table',
      },
    },
  ];
}

/** A small pseudo-random generator (mulberry32): the same lines every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** `count` generated workload lines, deterministic, with a spread of savings. */
export function generatedLines(count: number, seed = 7): RecommendationLine[] {
  const random = seeded(seed);
  const teams = ['payments', 'search', 'catalog', 'identity', 'media', 'ledger', 'notifications'];
  const lines: RecommendationLine[] = [];
  for (let i = 0; i < count; i += 1) {
    const team = teams[i % teams.length] ?? 'shop';
    const requestCpu = [250, 500, 1000, 2000][Math.floor(random() * 4)] ?? 500;
    const requestMem = [512, 1024, 2048, 4096][Math.floor(random() * 4)] ?? 1024;
    const p95 = requestCpu * (0.1 + random() * 0.9);
    const memMax = requestMem * (0.2 + random() * 0.9);
    const replicas = 1 + Math.floor(random() * 6);
    const current = round(replicas * (requestCpu / 1000) * 24.8 + replicas * (requestMem / 1024) * 3.3);
    const recCpu = Math.max(25, Math.round(p95));
    const recMem = Math.max(250, Math.round(memMax * 1.15));
    const recommended = round(replicas * (recCpu / 1000) * 24.8 + replicas * (recMem / 1024) * 3.3);
    lines.push(
      workloadLine(
        {
          name: `${team}-svc-${String(i).padStart(5, '0')}`,
          namespace: team,
          cluster: i % 3 === 0 ? 'prod-us' : 'prod-eu',
        },
        { current, recommended },
      ),
    );
    const line = lines[lines.length - 1];
    if (line === undefined) continue;
    line.current = { cpuMillicores: requestCpu, memoryBytes: requestMem * MIB, replicas };
    line.recommended = { cpuMillicores: recCpu, memoryBytes: recMem * MIB };
    line.evidence = {
      cpu: distribution({
        p50: round(p95 * 0.45),
        p90: round(p95 * 0.85),
        p95: round(p95),
        p99: round(p95 * 1.2),
        max: round(p95 * 1.6),
      }),
      memory: distribution({
        p50: Math.round(memMax * 0.7 * MIB),
        p90: Math.round(memMax * 0.85 * MIB),
        p95: Math.round(memMax * 0.9 * MIB),
        p99: Math.round(memMax * 0.97 * MIB),
        max: Math.round(memMax * MIB),
      }),
    };
    line.reason = `CPU p95 ${Math.round(p95)}m of ${requestCpu}m, memory max ${Math.round(memMax)} MiB of ${requestMem} MiB.`;
  }
  return lines;
}

/** A report of the hand-written lines and `generated` generated ones. */
export function sampleReport(
  generated = 12,
  overrides: Partial<ReportSummaryInput> = {},
): ReportSummaryInput {
  return {
    lines: [...handWrittenLines(), ...generatedLines(generated)],
    generatedAt: '2026-12-07T06:00:00.000Z',
    environment: 'production',
    lookbackDays: 14,
    periodSeconds: 300,
    strategy:
      'CPU request at P95 of usage, memory at the maximum + 15 %, at least 25m CPU and 250 MiB, at least 100 datapoints per series.',
    priceSources: [
      'AWS Price List API (us-east-1), cached 2026-12-07',
      'bundled table of common types (2026-11)',
    ],
    gaps: [{ scope: 'cluster staging-eu', reason: 'the API server did not answer within 10 s' }],
    csvHref: 'report.csv',
    ...overrides,
  };
}
