import { describe, expect, it } from 'vitest';
import type { Deployment, PodTemplate, ReplicaSet } from '../../lambdas/kubernetes/resources';
import { planRollback, type ReadyRollbackPlan } from '../../lambdas/rollback/plan';

const DEPLOYMENT_UID = 'uid-web';

function template(images: string[], hash?: string): PodTemplate {
  return {
    metadata: { labels: { app: 'web', ...(hash ? { 'pod-template-hash': hash } : {}) } },
    spec: {
      containers: images.map((image, index) => ({ name: index === 0 ? 'app' : `sidecar-${index}`, image })),
      volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
    },
  };
}

function deployment(overrides: { images?: string[]; revision?: string; paused?: boolean } = {}): Deployment {
  return {
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: DEPLOYMENT_UID,
      resourceVersion: '4711',
      generation: 7,
      annotations: {
        'deployment.kubernetes.io/revision': overrides.revision ?? '3',
        'kubectl.kubernetes.io/last-applied-configuration': '{"applied":"web:3"}',
        'app.example.com/build': 'build-3',
        'team.example.com/owner': 'checkout',
      },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: template(overrides.images ?? ['web:3']),
      paused: overrides.paused,
      revisionHistoryLimit: 10,
    },
  };
}

function replicaSet(
  revision: number | string | undefined,
  images: string[],
  options: { ownerUid?: string; controller?: boolean; name?: string } = {},
): ReplicaSet {
  const hash = `hash${String(revision)}`;
  return {
    metadata: {
      name: options.name ?? `web-${hash}`,
      namespace: 'shop',
      uid: `uid-rs-${String(revision)}`,
      resourceVersion: '1',
      annotations: {
        ...(revision === undefined ? {} : { 'deployment.kubernetes.io/revision': String(revision) }),
        'deployment.kubernetes.io/desired-replicas': '3',
        'deployment.kubernetes.io/max-replicas': '4',
        'deployment.kubernetes.io/revision-history': '1',
        'app.example.com/build': `build-${String(revision)}`,
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: 'web',
          uid: options.ownerUid ?? DEPLOYMENT_UID,
          controller: options.controller ?? true,
        },
      ],
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } },
      template: template(images, hash),
    },
  };
}

const history = () => [replicaSet(2, ['web:2']), replicaSet(3, ['web:3']), replicaSet(1, ['web:1'])];

function ready(plan: ReturnType<typeof planRollback>): ReadyRollbackPlan {
  if (plan.kind !== 'ready') throw new Error(`expected a ready plan, got ${plan.reason}: ${plan.detail}`);
  return plan;
}

describe('planRollback', () => {
  it('targets the second-highest revision, whatever order the ReplicaSets come in', () => {
    const plan = ready(planRollback(deployment(), history()));
    expect(plan).toMatchObject({
      fromRevision: 3,
      toRevision: 2,
      fromImages: ['web:3'],
      toImages: ['web:2'],
    });
  });

  it('targets the revision asked for', () => {
    const plan = ready(planRollback(deployment(), history(), { toRevision: 1 }));
    expect(plan).toMatchObject({ toRevision: 1, toImages: ['web:1'] });
  });

  it('reads toRevision 0 as the previous revision, as kubectl does', () => {
    expect(ready(planRollback(deployment(), history(), { toRevision: 0 })).toRevision).toBe(2);
  });

  it('ignores ReplicaSets the Deployment does not control, even with a higher revision', () => {
    const foreign = [
      replicaSet(9, ['other:9'], { ownerUid: 'uid-other', name: 'other-9' }),
      replicaSet(8, ['web:8'], { controller: false, name: 'web-adopted-8' }),
    ];
    const plan = ready(planRollback(deployment(), [...history(), ...foreign]));
    expect(plan.toRevision).toBe(2);
  });

  it('counts a ReplicaSet without a revision annotation as revision 0 and skips an unreadable one', () => {
    const plan = ready(
      planRollback(deployment({ revision: '3' }), [
        replicaSet(3, ['web:3']),
        replicaSet('x', ['web:x']),
        replicaSet(undefined, ['web:0']),
      ]),
    );
    expect(plan).toMatchObject({ toRevision: 0, toImages: ['web:0'] });
  });

  it('reports every container image on both sides', () => {
    const plan = ready(
      planRollback(deployment({ images: ['web:3', 'envoy:1.30'] }), [
        replicaSet(2, ['web:2', 'envoy:1.29']),
        replicaSet(3, ['web:3', 'envoy:1.30']),
      ]),
    );
    expect(plan.fromImages).toEqual(['web:3', 'envoy:1.30']);
    expect(plan.toImages).toEqual(['web:2', 'envoy:1.29']);
  });

  describe('the patch', () => {
    const plan = ready(planRollback(deployment(), history()));

    it('first tests the generation it was planned from, which status updates during a rollout leave alone', () => {
      expect(plan.generation).toBe(7);
      expect(plan.patch[0]).toEqual({ op: 'test', path: '/metadata/generation', value: 7 });
    });

    it("replaces the template with the target's, without the pod-template-hash label and with every other field", () => {
      expect(plan.patch[1]).toEqual({
        op: 'replace',
        path: '/spec/template',
        value: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [{ name: 'app', image: 'web:2' }],
            volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
          },
        },
      });
    });

    it("keeps the Deployment's own bookkeeping annotations and takes all others from the ReplicaSet", () => {
      expect(plan.patch[2]).toEqual({
        op: 'replace',
        path: '/metadata/annotations',
        value: {
          'deployment.kubernetes.io/revision': '3',
          'kubectl.kubernetes.io/last-applied-configuration': '{"applied":"web:3"}',
          'app.example.com/build': 'build-2',
        },
      });
    });

    it('has exactly these three operations', () => {
      expect(plan.patch.map((op) => `${op.op} ${op.path}`)).toEqual([
        'test /metadata/generation',
        'replace /spec/template',
        'replace /metadata/annotations',
      ]);
    });
  });

  it('leaves its inputs untouched', () => {
    const replicaSets = history();
    const before = structuredClone(replicaSets);
    planRollback(deployment(), replicaSets);
    expect(replicaSets).toEqual(before);
  });

  describe('refuses with a reason, and changes nothing, when', () => {
    it('the Deployment is paused', () => {
      const plan = planRollback(deployment({ paused: true }), history());
      expect(plan).toMatchObject({ kind: 'guarded', reason: 'deployment-paused' });
      expect(plan.kind === 'guarded' && plan.detail).toMatch(/shop\/web is paused.*revision 2/);
    });

    it('there is only one revision (the first deploy)', () => {
      const plan = planRollback(deployment({ revision: '1', images: ['web:1'] }), [replicaSet(1, ['web:1'])]);
      expect(plan).toEqual({
        kind: 'guarded',
        reason: 'no-previous-revision',
        detail: 'Deployment shop/web has no revision before 1 to roll back to.',
      });
    });

    it('revisionHistoryLimit 0 has pruned every old ReplicaSet', () => {
      const zeroHistory = deployment();
      zeroHistory.spec.revisionHistoryLimit = 0;
      const plan = planRollback(zeroHistory, [replicaSet(3, ['web:3'])]);
      expect(plan).toMatchObject({ kind: 'guarded', reason: 'no-previous-revision' });
      expect(plan.kind === 'guarded' && plan.detail).toMatch(/revisionHistoryLimit is 0/);
    });

    it('the revision asked for is not kept', () => {
      const plan = planRollback(deployment(), history(), { toRevision: 7 });
      expect(plan).toEqual({
        kind: 'guarded',
        reason: 'revision-not-found',
        detail: 'Deployment shop/web has no revision 7 (revisions kept: 1, 2, 3).',
      });
    });

    it("the template already is the target's, apart from the pod-template-hash label", () => {
      const plan = planRollback(deployment({ images: ['web:2'] }), history());
      expect(plan).toMatchObject({ kind: 'guarded', reason: 'already-at-revision' });
      expect(plan.kind === 'guarded' && plan.detail).toMatch(/already runs the template of revision 2/);
    });
  });

  it('treats absent, null and empty fields as equal when comparing templates, as Go does', () => {
    const current = deployment({ images: ['web:2'] });
    current.spec.template = {
      metadata: { labels: { app: 'web' }, creationTimestamp: null, annotations: {} },
      spec: {
        containers: [{ name: 'app', image: 'web:2', env: [] }],
        volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
      },
    };
    expect(planRollback(current, history())).toMatchObject({ reason: 'already-at-revision' });
  });

  it('still sees a real difference inside an otherwise equal template', () => {
    const current = deployment({ images: ['web:2'] });
    current.spec.template.spec.containers[0] = { name: 'app', image: 'web:2', args: ['--debug'] };
    expect(planRollback(current, history()).kind).toBe('ready');
  });
});
