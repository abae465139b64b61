import * as z from 'zod/mini';
import { causeMessage } from '../shared/error-cause';
import { parseOrThrow } from '../shared/errors';
import { logger } from '../shared/logger';
import {
  outcomeMessage,
  parentMessage,
  rejectedMessage,
  stepMessage,
  type Outcome,
  type Phase,
} from './messages';
import { InvalidCanaryRun, readRun, type CanaryRun } from './run';
import type { CanarySlack } from './slack';
import type { CanaryStatus } from './status';

// The run as people follow it: the status record the CLI reads (on the lock item, kept after the release) and
// the Slack thread. Both are best effort for the workflow — a Slack outage must not stop an abort — but the
// status is written before Slack is tried, so the CLI is right even when Slack is not.

export interface StatusLock {
  writeStatus(workload: string, executionArn: string, status: CanaryStatus): Promise<void>;
}

export interface ThreadDeps {
  lock: StatusLock;
  slack: CanarySlack;
  environment: string;
  now: () => Date;
}

const outcomeSchema = z.looseObject({
  kind: z.enum(['promoted', 'aborted', 'failed']),
  reason: z.string(),
  detail: z.optional(z.unknown()),
});

const threadInputSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('started'), run: z.unknown() }),
  z.object({ kind: z.literal('step'), run: z.unknown() }),
  z.object({ kind: z.literal('finished'), run: z.unknown(), outcome: outcomeSchema }),
  z.object({
    kind: z.literal('rejected'),
    error: z.object({ Error: z.string(), Cause: z.optional(z.string()) }),
  }),
]);

/** What the run is doing once an analysis has decided. */
export function phaseAfterAnalysis(run: CanaryRun): Phase {
  switch (run.analysis?.action) {
    case 'advance':
      return 'shifting';
    case 'retry':
      return 'analysing';
    case 'pause':
    case 'approve':
      return 'awaiting-approval';
    case 'promote':
      return 'promoting';
    case 'abort':
      return 'aborting';
    default:
      return 'analysing';
  }
}

const NEW_STEP_MARGIN_MS = 2 * 60_000;

/** The status record for the CLI. */
export function buildStatus(run: CanaryRun, phase: Phase, now: Date, outcome?: Outcome): CanaryStatus {
  // A retry's analysis time is known; a new step's window starts at the next whole minute after its weight is
  // confirmed (seconds after the shift) and is analysed a minute after it ends: about 2 minutes past an interval.
  const nextAnalysisAt =
    outcome !== undefined || run.stepIndex < 0
      ? undefined
      : run.analysis?.action === 'retry'
        ? run.analysis.nextAnalyseAt
        : new Date(
            Math.max(Date.parse(run.weightSetAt ?? run.startedAt), Date.parse(run.analysis?.at ?? '') || 0) +
              run.intervalSeconds * 1000 +
              NEW_STEP_MARGIN_MS,
          ).toISOString();
  return {
    service: run.service.name,
    runId: run.runId,
    executionArn: run.executionArn,
    phase,
    steps: run.steps,
    stepIndex: run.stepIndex,
    weight: run.weight,
    failures: run.failures,
    threshold: run.threshold,
    intervalSeconds: run.intervalSeconds,
    ...(nextAnalysisAt !== undefined && { nextAnalysisAt }),
    updatedAt: now.toISOString(),
    requestedBy: run.requestedBy,
    reference: run.reference,
    canaryImages: run.canaryImages,
    stableImages: run.stableImages,
    checks: run.analysis?.checks ?? [],
    ...(outcome && {
      outcome: {
        kind: outcome.kind,
        reason: outcome.detail ? `${outcome.reason}: ${outcome.detail}` : outcome.reason,
        at: now.toISOString(),
      },
    }),
  };
}

/** A detail from the workflow: text, or a Step Functions error cause (JSON with errorMessage). */
const detailText = (detail: unknown): string | undefined =>
  detail === undefined || detail === null
    ? undefined
    : typeof detail === 'string'
      ? causeMessage(detail)
      : JSON.stringify(detail);

/**
 * Answers the run (with its Slack parent message once posted) for `started`, nothing for the others. Slack
 * failures are logged and swallowed here, after the status is written; a status that cannot be written throws.
 */
export async function updateThread(
  input: unknown,
  deps: ThreadDeps,
): Promise<CanaryRun | Record<string, never>> {
  const parsed = parseOrThrow(threadInputSchema, input, 'the thread step input', InvalidCanaryRun);
  const now = deps.now();
  const say = async <T>(what: string, send: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await send();
    } catch (error) {
      logger.warn('Slack message not delivered', {
        what,
        error: (error as Error).name,
        message: (error as Error).message,
      });
      return undefined;
    }
  };

  if (parsed.kind === 'rejected') {
    const error = {
      name: parsed.error.Error,
      message: causeMessage(parsed.error.Cause ?? '') || parsed.error.Error,
    };
    await say('rejected', () => deps.slack.post(rejectedMessage(deps.environment, error)));
    return {};
  }

  const run = readRun(parsed.run);
  if (parsed.kind === 'started') {
    await deps.lock.writeStatus(run.workload, run.executionArn, buildStatus(run, 'starting', now));
    const ref = await say('started', () => deps.slack.post(parentMessage(run, 'starting', deps.environment)));
    return ref ? { ...run, slack: { channel: ref.channel, ts: ref.ts } } : run;
  }

  if (parsed.kind === 'step') {
    const phase = phaseAfterAnalysis(run);
    await deps.lock.writeStatus(run.workload, run.executionArn, buildStatus(run, phase, now));
    const { slack } = run;
    if (deps.slack.threads && slack) {
      await say('step', () => deps.slack.update(slack, parentMessage(run, phase, deps.environment)));
      await say('step reply', () => deps.slack.post(stepMessage(run), slack.ts));
    }
    return {};
  }

  const detail = detailText(parsed.outcome.detail);
  const outcome: Outcome = {
    kind: parsed.outcome.kind,
    reason: parsed.outcome.reason,
    ...(detail !== undefined && { detail }),
  };
  const phase: Phase = outcome.kind;
  await deps.lock.writeStatus(run.workload, run.executionArn, buildStatus(run, phase, now, outcome));
  const message = parentMessage(run, phase, deps.environment, outcome);
  const { slack } = run;
  if (deps.slack.threads && slack) {
    await say('finished', () => deps.slack.update(slack, message));
    await say('finished reply', () => deps.slack.post(outcomeMessage(run, outcome), slack.ts));
  } else {
    await say('finished', () => deps.slack.post(message));
  }
  return {};
}
