import type { RunbooksConfig } from '../../../lib/config/schema';
import type { Rehearsal, ScenarioPlan } from '../rehearsal';
import { ACCOUNT, REGION } from '../simulated-account';

type RollbackRehearsal = Rehearsal<RunbooksConfig>;

// The workload and the alarm event most rollback scenarios use: a module of their own, so scenario files can
// share them without importing each other.

/** The workload of the example configuration that most scenarios roll back. */
export const CHECKOUT = {
  alarm: 'checkout-api-5xx-rate',
  cluster: 'prod-eks',
  namespace: 'checkout',
  deployment: 'checkout-api',
  lockKey: 'prod-eks/checkout/checkout-api',
  images: [
    'registry.example.com/checkout-api:1.4.1',
    'registry.example.com/checkout-api:1.4.2',
    'registry.example.com/checkout-api:1.5.0',
  ],
} as const;

/** A `CloudWatch Alarm State Change` event as EventBridge delivers it. */
export function alarmEvent(
  alarmName: string,
  overrides: { id?: string; state?: string; at?: Date } = {},
): Record<string, unknown> {
  const at = overrides.at ?? new Date();
  return {
    version: '0',
    id: overrides.id ?? crypto.randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time: at.toISOString(),
    region: REGION,
    resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarmName}`],
    detail: {
      alarmName,
      state: {
        value: overrides.state ?? 'ALARM',
        reason: 'Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (5.0).',
        // CloudWatch's own timestamp format, offset without a colon.
        timestamp: at.toISOString().replace('Z', '+0000'),
      },
      previousState: { value: 'OK', reason: 'Threshold not crossed', timestamp: at.toISOString() },
      configuration: { metrics: [] },
    },
  };
}

/**
 * Three revisions of checkout-api (1.5.0 is current and bad), its alarm firing and then recovering;
 * `recoversAfterReads` null: the alarm never returns to OK.
 */
export async function healthyCheckout(rehearsal: RollbackRehearsal, recoversAfterReads: number | null = 3) {
  rehearsal.cluster().addDeployment({
    namespace: CHECKOUT.namespace,
    name: CHECKOUT.deployment,
    revisions: CHECKOUT.images.map((image) => ({ image })),
    replicas: 3,
  });
  rehearsal
    .cluster()
    .setRollout(CHECKOUT.namespace, CHECKOUT.deployment, { kind: 'completes-after', reads: 2 });
  rehearsal.account.addAlarm({
    name: CHECKOUT.alarm,
    state: 'ALARM',
    ...(recoversAfterReads === null ? {} : { transition: { to: 'OK', afterReads: recoversAfterReads } }),
  });
}

/** One alarm event, checkout-api's unless another alarm is named. */
export const one = (alarm: string = CHECKOUT.alarm): ScenarioPlan => ({ events: [alarmEvent(alarm)] });
