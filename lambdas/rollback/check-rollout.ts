import * as z from 'zod/mini';
import { parseOrThrow } from '../shared/errors';
import type { KubernetesClient } from '../kubernetes/client';
import { evaluateRollout } from './rollout-status';

const rolloutInputSchema = z.object({
  target: z.object({
    cluster: z.string().check(z.minLength(1)),
    namespace: z.string().check(z.minLength(1)),
    deployment: z.string().check(z.minLength(1)),
  }),
});

export type RolloutCheck = ReturnType<typeof evaluateRollout> & { checkedAt: string };

/** One read of the rollout (`kubectl rollout status` semantics); the state machine does the waiting. */
export async function checkRollout(
  input: unknown,
  deps: { kubernetes: { clientFor(cluster: string): Promise<KubernetesClient> }; now: () => Date },
): Promise<RolloutCheck> {
  const { target } = parseOrThrow(rolloutInputSchema, input, 'The rollout-status input');
  const client = await deps.kubernetes.clientFor(target.cluster);
  const deployment = await client.getDeployment(target.namespace, target.deployment);
  return { ...evaluateRollout(deployment), checkedAt: deps.now().toISOString() };
}
