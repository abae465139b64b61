import { describe, expect, it } from 'vitest';
import { clusterInputSchema, rightsizingSettingsSchema } from '../../lambdas/rightsizing/settings';
import {
  rightsizingClusters,
  rightsizingRuntime,
  type RightsizingSection,
  rightsizingSectionSchema,
} from '../../lib/config/rightsizing';
import { configSchema, type RunbooksConfig } from '../../lib/config/schema';

const clusters = [
  { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
  { name: 'tools-eks', namespaces: ['ingress'] },
];

/** A configuration with the right-sizing report alone, its section as given. */
const raw = (rightsizing: Record<string, unknown> = {}): Record<string, unknown> => ({
  environment: 'prod',
  slack: { webhookSecretName: 'platform-runbooks/slack-webhook' },
  eksClusters: clusters,
  rightsizing,
});

interface Issue {
  path: string;
  message: string;
}

function issuesOf(config: unknown): Issue[] {
  const result = configSchema.safeParse(config);
  if (result.success) throw new Error('the configuration was accepted');
  return result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

const messagesAt = (config: unknown, path: string): string[] =>
  issuesOf(config)
    .filter((issue) => issue.path === path)
    .map((issue) => issue.message);

function accepted(config: unknown): RunbooksConfig {
  const result = configSchema.safeParse(config);
  if (!result.success) throw new Error(`refused: ${JSON.stringify(result.error.issues)}`);
  return result.data;
}

function section(config: unknown): RightsizingSection {
  const { rightsizing } = accepted(config);
  if (!rightsizing) throw new Error('the configuration has no rightsizing section');
  return rightsizing;
}

/** What `States.StringToJson('${Key}')` yields once Step Functions has substituted the ASL string. */
function fromAslString(substituted: string | undefined): unknown {
  if (substituted === undefined) throw new Error('no such substitution');
  // The substitution sits inside a JSON string literal of the ASL file: decode that literal, then the JSON.
  return JSON.parse(JSON.parse(`"${substituted}"`) as string);
}

describe('the rightsizing section', () => {
  it("is a runbook section of its own: the configuration with it alone is accepted, and without it there's no report", () => {
    expect(accepted(raw()).rightsizing).toBeDefined();
    const { rightsizing, ...withoutIt } = raw();
    expect(rightsizing).toBeDefined();
    expect(issuesOf(withoutIt).map((issue) => issue.message)).toEqual([
      expect.stringContaining('rightsizing'),
    ]);
  });

  it("defaults to a weekly Monday 06:00 UTC run over 14 days of 5-minute data, with KRR's and VPA's strategy", () => {
    expect(section(raw())).toEqual({
      schedule: 'cron(0 6 ? * MON *)',
      timeZone: 'UTC',
      lookbackDays: 14,
      periodSeconds: 300,
      strategy: {
        cpuPercentile: 95,
        memoryMarginPercent: 15,
        minCpuMillicores: 25,
        minMemoryMiB: 250,
        minDatapoints: 100,
        hpa: 'skip',
        tolerancePercent: 10,
      },
      ec2: true,
      rds: true,
      topN: 10,
      linkExpiryHours: 12,
      reportRetentionDays: 400,
    });
  });

  it('fills the strategy defaults around the fields it is given', () => {
    expect(section(raw({ strategy: { cpuPercentile: 99, hpa: 'size' } })).strategy).toMatchObject({
      cpuPercentile: 99,
      hpa: 'size',
      memoryMarginPercent: 15,
      minMemoryMiB: 250,
    });
  });

  it('refuses a cluster that is not in eksClusters, naming the ones that are', () => {
    expect(messagesAt(raw({ clusters: ['prod-eks', 'staging-eks'] }), 'rightsizing.clusters.1')).toEqual([
      'cluster "staging-eks" is not in eksClusters (prod-eks, tools-eks)',
    ]);
  });

  it('refuses a schedule that is neither cron(…) nor rate(…)', () => {
    expect(messagesAt(raw({ schedule: '0 6 * * 1' }), 'rightsizing.schedule')).toEqual([
      'must be a cron(…) or rate(…) expression',
    ]);
  });

  it.each([
    ['lookbackDays', 16],
    ['lookbackDays', 0],
    ['periodSeconds', 120],
    ['topN', 21],
    // SigV4 presigned URLs last at most 7 days.
    ['linkExpiryHours', 169],
    ['reportRetentionDays', 6],
  ])('refuses %s %s', (field, value) => {
    expect(messagesAt(raw({ [field]: value }), `rightsizing.${field}`)).not.toEqual([]);
  });

  it('refuses an unknown field, in the section and in the strategy', () => {
    expect(issuesOf(raw({ lookback: 14 })).map((issue) => issue.path)).toEqual(['rightsizing']);
    expect(issuesOf(raw({ strategy: { cpuPercentil: 95 } })).map((issue) => issue.path)).toEqual([
      'rightsizing.strategy',
    ]);
  });

  it.each([
    ['cpuPercentile', 49],
    ['cpuPercentile', 101],
    ['memoryMarginPercent', -1],
    ['minCpuMillicores', 0],
    ['minMemoryMiB', 15],
    ['minDatapoints', 0],
    ['hpa', 'ignore'],
    ['tolerancePercent', 101],
  ])('refuses the strategy %s %s', (field, value) => {
    expect(messagesAt(raw({ strategy: { [field]: value } }), `rightsizing.strategy.${field}`)).not.toEqual(
      [],
    );
  });

  it('accepts a 1-minute period over the 15 days CloudWatch keeps 1-minute data', () => {
    expect(section(raw({ periodSeconds: 60, lookbackDays: 15 })).periodSeconds).toBe(60);
  });
});

describe('the clusters the report sizes', () => {
  const parsed = (rightsizing: Record<string, unknown> = {}) => rightsizingSectionSchema.parse(rightsizing);

  it('are every configured cluster, with its namespaces, when the section names none', () => {
    expect(rightsizingClusters(parsed(), clusters)).toEqual(clusters);
  });

  it('are the named ones, in the order of eksClusters, with their namespaces', () => {
    expect(rightsizingClusters(parsed({ clusters: ['tools-eks', 'prod-eks'] }), clusters)).toEqual(clusters);
    expect(rightsizingClusters(parsed({ clusters: ['tools-eks'] }), clusters)).toEqual([
      { name: 'tools-eks', namespaces: ['ingress'] },
    ]);
  });

  it('are none for an empty list', () => {
    expect(rightsizingClusters(parsed({ clusters: [] }), clusters)).toEqual([]);
  });
});

describe('what the runbook is deployed with (rightsizingRuntime)', () => {
  const runtime = (rightsizing: Record<string, unknown> = {}) =>
    rightsizingRuntime({ settings: section(raw(rightsizing)), clusters });

  it('substitutes the settings as a JSON document the steps parse with their own schema', () => {
    const settings = fromAslString(
      runtime({ lookbackDays: 7, topN: 5, rds: false }).substitutions.RightsizingSettings,
    );
    expect(rightsizingSettingsSchema.parse(settings)).toEqual({
      lookbackDays: 7,
      periodSeconds: 300,
      strategy: expect.objectContaining({ cpuPercentile: 95, hpa: 'skip' }) as unknown,
      ec2: true,
      rds: false,
      topN: 5,
      linkExpiryHours: 12,
    });
    // What the steps do not use stays out of the definition.
    expect(Object.keys(settings as object)).not.toContain('schedule');
    expect(Object.keys(settings as object)).not.toContain('reportRetentionDays');
  });

  it('substitutes the sized clusters as the list the Map iterates, each a valid item of the workloads step', () => {
    const items = fromAslString(runtime({ clusters: ['prod-eks'] }).substitutions.RightsizingClusters);
    expect(items).toEqual([{ name: 'prod-eks', namespaces: ['checkout', 'payments'] }]);
    for (const cluster of items as unknown[]) {
      const input = {
        execution: {
          id: 'arn:aws:states:eu-west-1:123456789012:execution:platform-runbooks-prod-rightsizing:run',
          name: 'run',
          startTime: '2026-12-07T06:00:00Z',
        },
        settings: fromAslString(runtime().substitutions.RightsizingSettings),
        cluster,
      };
      expect(clusterInputSchema.safeParse(input).success).toBe(true);
    }
    expect(runtime({ clusters: ['prod-eks'] }).clusters.map((cluster) => cluster.name)).toEqual(['prod-eks']);
  });

  it('keeps quotes and backslashes intact through the ASL string', () => {
    // A namespace cannot hold them, but a future setting could: the encoding must survive both parses.
    const { substitutions } = rightsizingRuntime({
      settings: rightsizingSectionSchema.parse({}),
      clusters: [{ name: 'prod-eks', namespaces: ['a"b\\c'] }],
    });
    expect(fromAslString(substitutions.RightsizingClusters)).toEqual([
      { name: 'prod-eks', namespaces: ['a"b\\c'] },
    ]);
  });
});
