import { describe, expect, it } from 'vitest';
import type { Deployment } from '../../lambdas/kubernetes/resources';
import { evaluateRollout } from '../../lambdas/rollback/rollout-status';

type Status = NonNullable<Deployment['status']>;

function deployment(status: Status | undefined, { generation = 4, replicas = 3 } = {}): Deployment {
  return {
    metadata: { name: 'web', namespace: 'shop', uid: 'uid-web', resourceVersion: '1', generation },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'app', image: 'web:2' }] },
      },
    },
    ...(status ? { status } : {}),
  };
}

const settled: Status = {
  observedGeneration: 4,
  replicas: 3,
  updatedReplicas: 3,
  readyReplicas: 3,
  availableReplicas: 3,
  conditions: [
    { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
    { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
  ],
};

const deadlineExceeded: Status['conditions'] = [
  { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
  { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' },
];

describe('evaluateRollout', () => {
  it('is complete when every replica is updated and available and no old one is left', () => {
    expect(evaluateRollout(deployment(settled))).toEqual({
      state: 'complete',
      message: 'deployment "web" successfully rolled out',
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 3,
      observedGeneration: 4,
      generation: 4,
    });
  });

  it('is progressing while the controller has not observed the latest generation', () => {
    const result = evaluateRollout(deployment({ ...settled, observedGeneration: 3 }));
    expect(result).toMatchObject({ state: 'progressing', observedGeneration: 3, generation: 4 });
    expect(result.message).toMatch(/spec update to be observed/);
  });

  it('does not trust a deadline condition left from the previous generation', () => {
    const result = evaluateRollout(
      deployment({ ...settled, observedGeneration: 3, conditions: deadlineExceeded }),
    );
    expect(result.state).toBe('progressing');
  });

  it('has failed when the Progressing condition says ProgressDeadlineExceeded', () => {
    const result = evaluateRollout(
      deployment({
        ...settled,
        updatedReplicas: 1,
        availableReplicas: 3,
        replicas: 4,
        conditions: deadlineExceeded,
      }),
    );
    expect(result).toMatchObject({
      state: 'failed',
      message: 'deployment "web" exceeded its progress deadline',
    });
  });

  it('is progressing while fewer replicas than desired are updated', () => {
    const result = evaluateRollout(deployment({ ...settled, replicas: 4, updatedReplicas: 1 }));
    expect(result).toMatchObject({ state: 'progressing', updatedReplicas: 1 });
    expect(result.message).toMatch(/1 out of 3 new replicas have been updated/);
  });

  it('is progressing while old replicas are pending termination', () => {
    const result = evaluateRollout(deployment({ ...settled, replicas: 4 }));
    expect(result.state).toBe('progressing');
    expect(result.message).toMatch(/1 old replicas are pending termination/);
  });

  it('is progressing while updated replicas are not all available', () => {
    const result = evaluateRollout(deployment({ ...settled, availableReplicas: 2 }));
    expect(result).toMatchObject({ state: 'progressing', availableReplicas: 2 });
    expect(result.message).toMatch(/2 of 3 updated replicas are available/);
  });

  it('reads omitted status counters as zero, as the API server omits them', () => {
    const result = evaluateRollout(deployment({ observedGeneration: 4 }));
    expect(result).toMatchObject({ state: 'progressing', updatedReplicas: 0, availableReplicas: 0 });
  });

  it('is progressing for a new Deployment without any status yet', () => {
    expect(evaluateRollout(deployment(undefined, { generation: 1 }))).toMatchObject({
      state: 'progressing',
      observedGeneration: 0,
    });
  });

  it('is complete for a Deployment scaled to zero once observed', () => {
    expect(evaluateRollout(deployment({ observedGeneration: 4 }, { replicas: 0 })).state).toBe('complete');
  });
});
