import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';
import { hasExpired, isoTimestamp } from '../shared/deadline';
import type { KubernetesClient } from '../kubernetes/client';
import { evaluateRollout } from './rollout-status';

const rolloutInputSchema = z.object({
  target: z.object({
    cluster: z.string().check(z.minLength(1)),
    namespace: z.string().check(z.minLength(1)),
    deployment: z.string().check(z.minLength(1)),
  }),
  /** When the wait began (the PATCH's `patchedAt`) and how long it may last: the deadline is the clock's. */
  startedAt: isoTimestamp,
  timeoutSeconds: z.int().check(z.positive()),
});

export type RolloutCheck = ReturnType<typeof evaluateRollout> & {
  checkedAt: string;
  /** The wait's time is up; the state machine stops polling and pages, whatever the count of polls. */
  expired: boolean;
};

/** One read of the rollout (`kubectl rollout status` semantics); the state machine does the waiting. */
export async function checkRollout(
  input: unknown,
  deps: { kubernetes: { clientFor(cluster: string): Promise<KubernetesClient> }; now: () => Date },
): Promise<RolloutCheck> {
  const { target, startedAt, timeoutSeconds } = parseOrThrow(
    rolloutInputSchema,
    input,
    'The rollout-status input',
  );
  const client = await deps.kubernetes.clientFor(target.cluster);
  const deployment = await client.getDeployment(target.namespace, target.deployment);
  const now = deps.now();
  return {
    ...evaluateRollout(deployment),
    checkedAt: now.toISOString(),
    expired: hasExpired(startedAt, timeoutSeconds, now),
  };
}
