import * as z from 'zod/mini';
import { executionSchema } from '../shared/execution';
import { parseOrThrow } from '../shared/errors';
import type { KubernetesClient } from '../kubernetes/client';
import { undoRollout } from './undo';
import type { WorkloadLock } from '../workload-lock/workload-lock';
import type { Change } from './prepare';
import { reasonText } from './reason-text';

const name = z.string().check(z.minLength(1));
const revision = z.int().check(z.positive());
const undoInputSchema = z.object({
  target: z.object({ cluster: name, namespace: name, deployment: name }),
  plan: z.object({ fromRevision: revision, toRevision: revision }),
  lock: z.object({ key: name, eventId: name }),
  execution: executionSchema,
});

export type UndoOutcome =
  | { performed: true; change: Change; patchedAt: string; attempts: number; generation: number }
  | { performed: false; reason: string; reasonText: string; detail: string };

export interface UndoDeps {
  kubernetes: { clientFor(cluster: string): Promise<KubernetesClient> };
  lock: WorkloadLock;
  now: () => Date;
}

/** Sends the undo patch planned by Prepare, then starts the cooldown. */
export async function performUndo(input: unknown, deps: UndoDeps): Promise<UndoOutcome> {
  const { target, plan, lock, execution } = parseOrThrow(undoInputSchema, input, 'The undo input');
  const client = await deps.kubernetes.clientFor(target.cluster);
  const result = await undoRollout(
    client,
    { namespace: target.namespace, deployment: target.deployment },
    plan,
  );
  if (!result.performed) {
    return {
      performed: false,
      reason: result.reason,
      reasonText: reasonText(result.reason),
      detail: result.detail,
    };
  }
  const patchedAt = deps.now();
  await deps.lock.recordRollback(lock.key, execution.id, lock.eventId, patchedAt);
  return {
    performed: true,
    change: {
      fromRevision: result.fromRevision,
      toRevision: result.toRevision,
      fromImages: result.fromImages,
      toImages: result.toImages,
    },
    patchedAt: patchedAt.toISOString(),
    attempts: result.attempts,
    generation: result.generation,
  };
}
