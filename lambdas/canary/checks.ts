// zod/mini, not zod: the canary's Lambdas import these schemas (docs/development.md, Decisions).
import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';

// The canary analysis's checks: what each one reads for the canary and for the stable version, and the limits
// that decide it. One check is judged three ways, each optional but the first:
// - an absolute limit, `max` or `min`, on the canary's aggregate over the step (Flagger's `thresholdRange`);
// - a ratio limit against the stable version's aggregate over the same window, so a canary twice as bad as
//   stable fails even under the absolute limit;
// - a Mann-Whitney U test of the canary's per-minute values against stable's (what Kayenta judges with),
//   failing only when the canary is significantly worse.
// Built-in templates read the ALB router's target groups from AWS/ApplicationELB; anything else is a CloudWatch
// metric or metric math expression written out in full.

/**
 * A GetMetricData query id: CloudWatch requires a lowercase first letter, then letters, digits and "_"
 * (CloudWatch API Reference, MetricDataQuery.Id). Metric math refers to its inputs by these ids.
 */
export const metricQueryId = z
  .string()
  .check(
    z.regex(
      /^[a-z][a-zA-Z0-9_]{0,254}$/,
      'must be a CloudWatch query id: a lowercase letter, then letters, digits or "_"',
    ),
  );

/** A CloudWatch metric and the statistic of each per-minute datapoint (`Sum`, `Average`, `p99`, …). */
export const metricStatSchema = z.strictObject({
  namespace: z.string().check(z.minLength(1), z.maxLength(255)),
  metricName: z.string().check(z.minLength(1), z.maxLength(255)),
  /** Name → value. CloudWatch matches the exact set: a metric published with more dimensions is another metric. */
  dimensions: z._default(
    z.record(
      z.string().check(z.minLength(1), z.maxLength(255)),
      z.string().check(z.minLength(1), z.maxLength(1024)),
    ),
    {},
  ),
  stat: z.string().check(z.minLength(1), z.maxLength(64)),
});
export type MetricStat = z.output<typeof metricStatSchema>;

/**
 * Where one side's per-minute values come from: a metric, or a metric math expression over named metrics (the
 * expression refers to each input by its id). The next slice gives every query a unique id per call.
 */
export const seriesSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('metric'), metric: metricStatSchema }),
  z
    .strictObject({
      type: z.literal('expression'),
      /** CloudWatch metric math, e.g. `FILL(errors, 0) / requests`. */
      expression: z.string().check(z.minLength(1), z.maxLength(1024)),
      /** The metrics the expression reads, by the id it uses for each (a CloudWatch query id). */
      inputs: z.record(z.string(), metricStatSchema),
    })
    .check(
      z.refine((series) => Object.keys(series.inputs).length > 0, {
        message: 'an expression needs at least one input metric',
        path: ['inputs'],
      }),
      z.superRefine((series, ctx) => {
        // Keys checked here rather than by the record's key schema, whose message is only "Invalid key in
        // record". A typo in an input id would otherwise surface as a CloudWatch validation error mid-canary.
        for (const id of Object.keys(series.inputs)) {
          const key = z.safeParse(metricQueryId, id);
          if (!key.success) {
            ctx.addIssue({
              code: 'custom',
              path: ['inputs', id],
              message: key.error.issues[0]?.message ?? 'invalid id',
            });
          } else if (!new RegExp(`\\b${id}\\b`).test(series.expression)) {
            ctx.addIssue({
              code: 'custom',
              path: ['inputs', id],
              message: `input "${id}" is not used by the expression "${series.expression}"`,
            });
          }
        }
      }),
    ),
]);
export type Series = z.output<typeof seriesSchema>;

/** The built-in checks of the ALB router, read per target group (see `albTemplateSeries`). */
export const albTemplates = ['alb-5xx-rate', 'alb-p99-latency'] as const;
export const albTemplateSchema = z.enum(albTemplates);
export type AlbTemplate = z.output<typeof albTemplateSchema>;

/** How a side's per-minute values become the one value the absolute and ratio limits compare. */
export const aggregateSchema = z.enum(['mean', 'median', 'max', 'min']);
export type Aggregate = z.output<typeof aggregateSchema>;

/**
 * What no data for a check means (reference.md, "Canary traffic on EKS without a mesh"): `fail` counts it as a
 * failed check, as Flagger does ("Halt advancement no values found", scheduler_metrics.go); `pause` makes the
 * step inconclusive and asks a person, as Argo Rollouts does.
 */
export const noDataPolicySchema = z.enum(['fail', 'pause']);
export type NoDataPolicy = z.output<typeof noDataPolicySchema>;

const finite = z.number().check(z.refine(Number.isFinite, 'must be a finite number'));

export const checkSchema = z
  .strictObject({
    /** Shown in Slack, events and the CLI; unique within a service. */
    name: z
      .string()
      .check(z.regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase name (a-z, 0-9, "-")')),
    /** A built-in ALB check; or give `canary` and `stable`. */
    template: z.optional(albTemplateSchema),
    /** The canary's series; with `stable`, instead of `template`. */
    canary: z.optional(seriesSchema),
    /** The stable version's series, read over the same window. */
    stable: z.optional(seriesSchema),
    /** The canary's aggregate must not exceed this. At least one of `max` and `min`. */
    max: z.optional(finite),
    /** The canary's aggregate must not fall below this. */
    min: z.optional(finite),
    /**
     * Which way is worse, for the ratio and the U test. @default 'higher' when `max` is set (errors, latency),
     * else 'lower' (success rate, throughput)
     */
    worse: z.optional(z.enum(['higher', 'lower'])),
    /** How each side's per-minute values are aggregated for `max`, `min` and `ratio`. @default 'mean' */
    aggregate: z._default(aggregateSchema, 'mean'),
    /**
     * Canary against stable: with worse 'higher', fail when canary > limit × stable; with worse 'lower', when
     * canary < limit × stable. Not judged while stable's aggregate is below `minStable`: against a stable with
     * no errors, a ratio would fail the canary's first error (with the default 0 it does, on purpose).
     */
    ratio: z.optional(
      z.strictObject({
        limit: z.number().check(z.gt(0), z.refine(Number.isFinite, 'must be a finite number')),
        /** @default 0 */
        minStable: z._default(
          z.number().check(z.gte(0), z.refine(Number.isFinite, 'must be a finite number')),
          0,
        ),
      }),
    ),
    /**
     * A two-sided Mann-Whitney U test of the canary's per-minute values against stable's, failing the check only
     * when p < alpha and the canary is the worse one (a canary significantly better passes). With the default
     * alpha, at least 4 minutes on each side are needed for any result to be significant (the smallest exact
     * two-sided p-value for 3 and 3 values is 2/20 = 0.1; for 4 and 4, 2/70 ≈ 0.029).
     */
    mannWhitney: z.optional(
      z.strictObject({
        /** Significance level. @default 0.05 */
        alpha: z._default(z.number().check(z.gt(0), z.lt(0.5)), 0.05),
      }),
    ),
  })
  .check(
    z.superRefine((check, ctx) => {
      const issue = (path: string, message: string) =>
        ctx.addIssue({ code: 'custom', path: [path], message });
      if (check.template !== undefined) {
        if (check.canary !== undefined)
          issue('canary', 'give either template or canary and stable, not both');
        if (check.stable !== undefined)
          issue('stable', 'give either template or canary and stable, not both');
      } else {
        if (check.canary === undefined) issue('canary', 'is required without a template');
        if (check.stable === undefined) issue('stable', 'is required without a template');
      }
      if (check.max === undefined && check.min === undefined) {
        issue('max', 'a check needs an absolute limit: max or min (or both)');
      }
      if (check.max !== undefined && check.min !== undefined && check.min > check.max) {
        issue('min', `is above max (${check.min} > ${check.max})`);
      }
    }),
  );
export type CheckInput = z.input<typeof checkSchema>;
export type Check = z.output<typeof checkSchema>;

export const checksSchema = z.array(checkSchema).check(
  z.minLength(1, 'a canary needs at least one check'),
  z.superRefine((checks, ctx) => {
    const seen = new Set<string>();
    checks.forEach((check, index) => {
      if (seen.has(check.name)) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `check "${check.name}" is defined twice`,
        });
      }
      seen.add(check.name);
    });
  }),
);

/** Parses a service's checks, or throws InvalidInput naming every field at fault. */
export function parseChecks(input: unknown, what = 'checks'): Check[] {
  return parseOrThrow(checksSchema, input, what);
}

/** Which way the check is worse: its `worse`, else 'higher' when it has a `max`, else 'lower'. */
export function worseDirection(check: Pick<Check, 'worse' | 'max'>): 'higher' | 'lower' {
  return check.worse ?? (check.max !== undefined ? 'higher' : 'lower');
}

// --- ALB templates ----------------------------------------------------------------------------------------

/**
 * The ALB's metric dimensions of the canary's and stable's target groups. CloudWatch wants the ARN suffixes:
 * `app/<load balancer name>/<id>` and `targetgroup/<name>/<id>` (Elastic Load Balancing User Guide for ALBs,
 * "Metric dimensions for Application Load Balancers"); `albDimension` derives them from ARNs.
 */
export interface AlbTargets {
  loadBalancer: string;
  canaryTargetGroup: string;
  stableTargetGroup: string;
}

export const ALB_NAMESPACE = 'AWS/ApplicationELB';

/**
 * The dimension value of a load balancer or target group ARN: everything after `loadbalancer/` or the
 * resource type's `:` (`arn:…:loadbalancer/app/x/123` → `app/x/123`, `arn:…:targetgroup/y/456` →
 * `targetgroup/y/456`). A value already in that form is returned as is.
 */
export function albDimension(arnOrSuffix: string): string {
  const loadBalancer = /:loadbalancer\/(app\/[^/]+\/[^/]+)$/.exec(arnOrSuffix);
  if (loadBalancer?.[1]) return loadBalancer[1];
  const targetGroup = /:(targetgroup\/[^/]+\/[^/]+)$/.exec(arnOrSuffix);
  if (targetGroup?.[1]) return targetGroup[1];
  if (/^(app|targetgroup)\/[^/]+\/[^/]+$/.test(arnOrSuffix)) return arnOrSuffix;
  throw new RangeError(`"${arnOrSuffix}" is neither an ALB or target group ARN nor its dimension value`);
}

/** The series of one ALB template for one target group. */
export function albTemplateSeries(template: AlbTemplate, loadBalancer: string, targetGroup: string): Series {
  // Both dimensions: the per-target-group metrics are published with the set {TargetGroup, LoadBalancer}
  // (a target group can sit behind several load balancers), and CloudWatch matches the exact set.
  const dimensions = { TargetGroup: albDimension(targetGroup), LoadBalancer: albDimension(loadBalancer) };
  const metric = (metricName: string, stat: string): MetricStat => ({
    namespace: ALB_NAMESPACE,
    metricName,
    dimensions,
    stat,
  });
  switch (template) {
    case 'alb-5xx-rate':
      // ELB publishes HTTPCode_Target_5XX_Count only for minutes with a nonzero value, and RequestCount only
      // for minutes with requests (ALB User Guide, "Reporting criteria"): FILL the errors with 0 so a minute
      // of traffic without errors reads 0 %, and leave minutes without requests empty, so no traffic is no
      // data, not a perfect score.
      return {
        type: 'expression',
        expression: 'FILL(errors, 0) / requests',
        inputs: {
          errors: metric('HTTPCode_Target_5XX_Count', 'Sum'),
          requests: metric('RequestCount', 'Sum'),
        },
      };
    case 'alb-p99-latency':
      // Seconds, from the request leaving the load balancer to the target's response headers.
      return { type: 'metric', metric: metric('TargetResponseTime', 'p99') };
  }
}

/** A check with both series written out. */
export type ResolvedCheck = Omit<Check, 'template' | 'canary' | 'stable'> & {
  template?: AlbTemplate;
  canary: Series;
  stable: Series;
};

/**
 * The check with its series: a template's read from the ALB's target groups (which only the router knows, at
 * run time: the AWS Load Balancer Controller names them), a written-out check's as given.
 */
export function resolveCheck(check: Check, alb?: AlbTargets): ResolvedCheck {
  if (check.template !== undefined) {
    if (!alb)
      throw new Error(`check "${check.name}" uses template ${check.template}, which needs the ALB router`);
    return {
      ...check,
      canary: albTemplateSeries(check.template, alb.loadBalancer, alb.canaryTargetGroup),
      stable: albTemplateSeries(check.template, alb.loadBalancer, alb.stableTargetGroup),
    };
  }
  // The schema guarantees both when there is no template.
  if (!check.canary || !check.stable) throw new Error(`check "${check.name}" has no series`);
  return { ...check, canary: check.canary, stable: check.stable };
}
