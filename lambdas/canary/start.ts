import * as z from 'zod/mini';
import {
  CANARY_HISTORY_EVENT_BUDGET,
  canaryHistoryEvents,
  canaryRunMinutes,
  canaryServiceSchema,
} from '../../lib/config/canary';
import type { ClusterAccess } from '../kubernetes/cluster-access';
import type { Deployment, JsonPatchOperation } from '../kubernetes/resources';
import { InvalidSetting } from '../shared/env';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { InvalidCanaryRequest, readCanaryRequest, type CanaryChange } from './request';
import type { CanaryRun } from './run';

// The first step of a canary run: the request read and checked, the workload lock taken (holder `canary`), and
// the new version deployed to the canary Deployment — stable's pod template with the requested change, stable's
// labels left alone — before any traffic moves. Every later step receives the run this returns.

/** Another canary or a rollback holds the workload, or this event was already handled: nothing was changed. */
export class CanaryAlreadyRunning extends RunbookError {
  override name = 'CanaryAlreadyRunning';
}

/** The Deployments are not in a shape the runbook can deploy the canary to (a container it cannot find). */
export class CanaryTargetInvalid extends RunbookError {
  override name = 'CanaryTargetInvalid';
}

export type CanaryAcquireResult =
  { acquired: true; takenOverFrom?: string } | { acquired: false; reason: string; detail: string };

/** The lock calls the start makes (lambdas/workload-lock/canary-lock.ts). */
export interface StartLock {
  acquire(request: {
    workload: string;
    executionArn: string;
    eventId: string;
    service: string;
    now: Date;
    lockTtlSeconds: number;
    holderIsRunning: (executionArn: string) => Promise<boolean>;
  }): Promise<CanaryAcquireResult>;
  /** Releases the lock if this execution holds it. */
  release(workload: string, executionArn: string): Promise<void>;
}

export interface StartDeps {
  lock: StartLock;
  kubernetes: ClusterAccess;
  /** This stack's account and region: requests from elsewhere are refused. */
  account: string;
  region: string;
  lockTtlSeconds: number;
  executionIsRunning: (executionArn: string) => Promise<boolean>;
  now: () => Date;
}

const startInputSchema = z.object({
  event: z.unknown(),
  /** `${Services}`: the services' settings by name, a JSON document in an ASL string. */
  services: z.string(),
  execution: z.object({ id: z.string(), name: z.string(), startTime: z.optional(z.string()) }),
});

const servicesSchema = z.record(z.string(), canaryServiceSchema);

/** The seconds the approval (or a pause on no data) waits; none without approval. */
const approvalSeconds = (run: { service: CanaryRun['service'] }): number =>
  (run.service.approval?.timeoutMinutes ?? 0) * 60;

export async function startCanary(input: unknown, deps: StartDeps): Promise<CanaryRun> {
  const {
    event,
    services: servicesText,
    execution,
  } = parseOrThrow(startInputSchema, input, 'the start step input', InvalidCanaryRequest);
  let servicesJson: unknown;
  try {
    servicesJson = JSON.parse(servicesText);
  } catch (error) {
    throw new InvalidSetting(`the state machine's Services setting is not JSON: ${(error as Error).message}`);
  }
  const services = parseOrThrow(
    servicesSchema,
    servicesJson,
    "the state machine's Services setting",
    InvalidSetting,
  );
  const request = readCanaryRequest(event, { account: deps.account, region: deps.region, services });
  const { service } = request;
  checkOverridesFit(request, deps.lockTtlSeconds);
  const workload = `${service.cluster}/${service.namespace}/${service.stableDeployment}`;
  const now = deps.now();

  const lock = await deps.lock.acquire({
    workload,
    executionArn: execution.id,
    eventId: request.eventId,
    service: service.name,
    now,
    lockTtlSeconds: deps.lockTtlSeconds,
    holderIsRunning: deps.executionIsRunning,
  });
  if (!lock.acquired) {
    throw new CanaryAlreadyRunning(
      lock.reason === 'duplicate-event'
        ? `CanaryRequested ${request.eventId} for ${service.name} was already handled: ${lock.detail}`
        : `No canary of ${service.name} was started: ${lock.detail}`,
    );
  }

  // From here on, a failure must not leave the workload locked for the run's whole TTL.
  try {
    const client = await deps.kubernetes.clientFor(service.cluster);
    const stable = await client.getDeployment(service.namespace, service.stableDeployment);
    const canary = await client.getDeployment(service.namespace, service.canaryDeployment);
    const replicas = service.router.type === 'replica-ratio' ? 0 : (stable.spec.replicas ?? 1);
    const patch = canaryPatch(stable, canary, request.change, replicas);
    const deployed = await client.patchDeployment(service.namespace, service.canaryDeployment, patch);
    return {
      executionArn: execution.id,
      runId: execution.name,
      workload,
      service: { ...service },
      change: request.change,
      eventId: request.eventId,
      requestedBy: request.requestedBy,
      reference: request.reference,
      requestedAt: request.requestedAt,
      startedAt: now.toISOString(),
      steps: request.plan.steps,
      intervalSeconds: request.intervalMinutes * 60,
      threshold: request.threshold,
      approvalTimeoutSeconds: approvalSeconds({ service }),
      stepIndex: -1,
      weight: 0,
      failures: 0,
      stableImages: imagesOf(stable),
      canaryImages: imagesOf(deployed),
      stableReplicas: stable.spec.replicas ?? 1,
    };
  } catch (error) {
    await deps.lock.release(workload, execution.id);
    throw error;
  }
}

/**
 * The configuration is checked at synth against the state machine's timeout and the history budget; a request's
 * overrides (more steps, a longer interval, a higher threshold) are checked here against the same, before the
 * lock: a run the execution timeout would cut short would skip its return to stable.
 */
export function checkOverridesFit(
  request: ReturnType<typeof readCanaryRequest>,
  timeoutSeconds: number,
): void {
  if (request.overridden.length === 0) return;
  const asked = {
    ...request.service,
    stepWeights: request.plan.steps,
    intervalMinutes: request.intervalMinutes,
    threshold: request.threshold,
  };
  delete asked.stepWeight;
  delete asked.maxWeight;
  const minutes = canaryRunMinutes(asked);
  if (minutes * 60 > timeoutSeconds) {
    throw new InvalidCanaryRequest(
      `detail.overrides: with them a run of ${request.service.name} could last ${minutes} minutes, more than the ${Math.floor(timeoutSeconds / 60)} the state machine allows (its timeout comes from the configuration): ask for fewer steps, a shorter interval or a lower threshold`,
    );
  }
  const events = canaryHistoryEvents(asked);
  if (events > CANARY_HISTORY_EVENT_BUDGET) {
    throw new InvalidCanaryRequest(
      `detail.overrides: with them a run of ${request.service.name} could write ${events} execution history events, more than the ${CANARY_HISTORY_EVENT_BUDGET} the runbook allows itself: ask for fewer steps`,
    );
  }
}

const imagesOf = (deployment: Deployment): string[] =>
  deployment.spec.template.spec.containers.map((container) => container.image);

/**
 * The canary Deployment's patch: stable's pod spec (so the canary differs from stable by the requested change
 * only), the change, and the replicas. The canary keeps its own template labels and annotations: its selector
 * and its Service select on them.
 */
export function canaryPatch(
  stable: Deployment,
  canary: Deployment,
  change: CanaryChange,
  replicas: number,
): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [
    { op: 'test', path: '/metadata/resourceVersion', value: canary.metadata.resourceVersion },
    { op: 'replace', path: '/spec/template/spec', value: stable.spec.template.spec },
  ];
  if (change.kind === 'image') {
    const containers = stable.spec.template.spec.containers;
    const index =
      change.container === undefined
        ? containers.length === 1
          ? 0
          : -1
        : containers.findIndex((container) => container.name === change.container);
    if (index < 0) {
      const names = containers.map((container) => container.name).join(', ');
      throw new CanaryTargetInvalid(
        change.container === undefined
          ? `detail.container: ${stable.metadata.name} has ${containers.length} containers (${names}): name the one to change`
          : `detail.container: ${stable.metadata.name} has no container "${change.container}" (it has ${names})`,
      );
    }
    operations.push({
      op: 'replace',
      path: `/spec/template/spec/containers/${index}/image`,
      value: change.image,
    });
  } else {
    operations.push(...(change.operations as JsonPatchOperation[]));
  }
  operations.push({ op: 'replace', path: '/spec/replicas', value: replicas });
  return operations;
}
