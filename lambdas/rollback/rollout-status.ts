import type { Deployment } from '../kubernetes/resources';

export interface RolloutStatus {
  state: 'complete' | 'progressing' | 'failed';
  message: string;
  /** Desired replicas (spec), the figure the others are measured against. */
  replicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  observedGeneration: number;
  generation: number;
}

/** `kubectl rollout status` for a Deployment (kubectl pkg/polymorphichelpers/rollout_status.go), one read. */
export function evaluateRollout(deployment: Deployment): RolloutStatus {
  const { name } = deployment.metadata;
  const status = deployment.status ?? {};
  const generation = deployment.metadata.generation ?? 0;
  const observedGeneration = status.observedGeneration ?? 0;
  const desired = deployment.spec.replicas;
  const totalReplicas = status.replicas ?? 0;
  const updatedReplicas = status.updatedReplicas ?? 0;
  const availableReplicas = status.availableReplicas ?? 0;
  const figures = {
    replicas: desired ?? totalReplicas,
    updatedReplicas,
    availableReplicas,
    observedGeneration,
    generation,
  };
  const result = (state: RolloutStatus['state'], message: string): RolloutStatus => ({
    state,
    message,
    ...figures,
  });

  // Until the controller has seen the latest spec, every other figure describes the previous one.
  if (observedGeneration < generation) {
    return result('progressing', `Waiting for deployment "${name}" spec update to be observed...`);
  }
  const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return result('failed', `deployment "${name}" exceeded its progress deadline`);
  }
  if (desired !== undefined && updatedReplicas < desired) {
    return result(
      'progressing',
      `Waiting for deployment "${name}" rollout to finish: ${updatedReplicas} out of ${desired} new replicas have been updated...`,
    );
  }
  if (totalReplicas > updatedReplicas) {
    return result(
      'progressing',
      `Waiting for deployment "${name}" rollout to finish: ${totalReplicas - updatedReplicas} old replicas are pending termination...`,
    );
  }
  if (availableReplicas < updatedReplicas) {
    return result(
      'progressing',
      `Waiting for deployment "${name}" rollout to finish: ${availableReplicas} of ${updatedReplicas} updated replicas are available...`,
    );
  }
  return result('complete', `deployment "${name}" successfully rolled out`);
}
