import * as z from 'zod/mini';
import { canaryServiceSchema } from '../../lib/config/canary';
import { parseOrThrow, RunbookError } from '../shared/errors';

// The state one canary run carries from step to step (`$.run` in state-machines/canary.asl.json). The start
// step builds it from the request and the service's settings; every other step receives it, parses it here
// (a malformed state stops the run before any action) and returns the parts it changed.

/** The run's state is not what the workflow built: a bug or a hand-edited input, never acted on. */
export class InvalidCanaryRun extends RunbookError {
  override name = 'InvalidCanaryRun';
}

const jsonPatchOperationSchema = z.looseObject({
  op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
  path: z.string(),
});

export const canaryChangeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('image'), image: z.string(), container: z.optional(z.string()) }),
  z.object({ kind: z.literal('patch'), operations: z.array(jsonPatchOperationSchema) }),
]);

/** Where the ALB router's traffic is confirmed and its metrics read: found once, at the start. */
export const albTargetsSchema = z.object({
  loadBalancerArn: z.string(),
  listenerArns: z.array(z.string()),
  stableTargetGroupArn: z.string(),
  canaryTargetGroupArn: z.string(),
});
export type AlbTargetsFound = z.output<typeof albTargetsSchema>;

/** One check's last judgement as people read it (Slack, the CLI's status). */
export const checkOutcomeSchema = z.object({
  name: z.string(),
  status: z.enum(['passed', 'failed', 'no-data', 'not-judged']),
  canary: z.optional(z.number()),
  stable: z.optional(z.number()),
  /** The limit it was held to, e.g. "≤ 0.01", "≤ 1.5 × stable", "U test p < 0.05". */
  limit: z.string(),
  reason: z.string(),
});
export type CheckOutcome = z.output<typeof checkOutcomeSchema>;

/** What the last analysis decided; the workflow's Choice routes on `action`. */
export const stepAnalysisSchema = z.object({
  action: z.enum(['advance', 'retry', 'abort', 'pause', 'approve', 'promote']),
  /** After a granted approval: the next step, or the promotion. */
  onApproval: z.optional(z.enum(['advance', 'promote'])),
  /** One line: the verdict and what decided it. */
  summary: z.string(),
  at: z.string(),
  /** The step it judged: a retry of the same step reads the minutes after this window. */
  stepIndex: z.number(),
  window: z.object({ start: z.string(), end: z.string() }),
  /** A retry's analysis time: its own window over, and a minute for CloudWatch. */
  nextAnalyseAt: z.string(),
  checks: z.array(checkOutcomeSchema),
  /** Set when an alarm (the rollback runbook) or a person asked for the abort. */
  abortRequested: z.optional(z.object({ reason: z.string(), by: z.string() })),
  /** GetMetricData requests this analysis made (pages of its one call). */
  metricRequests: z.number(),
});
export type StepAnalysis = z.output<typeof stepAnalysisSchema>;

export const canaryRunSchema = z.object({
  /** The execution's ARN: the lock's holder. */
  executionArn: z.string(),
  /** The execution's name: the run's id in Slack, the CLI and the events. */
  runId: z.string(),
  /** The lock's key: `cluster/namespace/stableDeployment`, the key the rollback runbook locks too. */
  workload: z.string(),
  service: canaryServiceSchema,
  change: canaryChangeSchema,
  eventId: z.string(),
  requestedBy: z.string(),
  reference: z.string(),
  requestedAt: z.string(),
  startedAt: z.string(),
  /** The canary's weight at each step. */
  steps: z.array(z.number()),
  intervalSeconds: z.number(),
  threshold: z.number(),
  /** Seconds the approval (or a pause on no data) waits before the abort; 0 without approval. */
  approvalTimeoutSeconds: z.number(),
  /** The step whose weight is set or being set, 0-based; -1 before the first shift. */
  stepIndex: z.number(),
  /** The canary weight the runbook last wrote on the router (what its spec must still say). */
  weight: z.number(),
  /** When that weight was written: the router's confirmation deadline and the analysis window count from it. */
  weightSetAt: z.optional(z.string()),
  /** Failed analyses so far (Flagger's failed-check counter). */
  failures: z.number(),
  /** Images of the stable Deployment before the run (what an abort leaves serving). */
  stableImages: z.array(z.string()),
  /** Images the canary runs. */
  canaryImages: z.array(z.string()),
  /** Stable's replicas before the run: the canary is scaled to match (ALB, Gateway API) or splits them. */
  stableReplicas: z.number(),
  alb: z.optional(albTargetsSchema),
  /** The last analysis. */
  analysis: z.optional(stepAnalysisSchema),
  /** The stable Deployment's generation after promotion: its rollout is done once observed. */
  promotedGeneration: z.optional(z.number()),
  promotedAt: z.optional(z.string()),
  /** The parent message of the run's Slack thread, once posted (Slack-app mode only). */
  slack: z.optional(z.object({ channel: z.string(), ts: z.string() })),
});
export type CanaryRun = z.output<typeof canaryRunSchema>;

/** Reads `$.run` from a step's input. */
export function readRun(input: unknown): CanaryRun {
  return parseOrThrow(canaryRunSchema, input, 'the canary run ($.run)', InvalidCanaryRun);
}

/** The weight of the step the run is at (0 before the first). */
export function stepWeight(run: Pick<CanaryRun, 'steps' | 'stepIndex'>): number {
  return run.stepIndex < 0 ? 0 : (run.steps[run.stepIndex] ?? 0);
}

/** Whether the run is at its last step. */
export const atLastStep = (run: Pick<CanaryRun, 'steps' | 'stepIndex'>): boolean =>
  run.stepIndex === run.steps.length - 1;
