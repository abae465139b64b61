import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KubernetesClient } from '../../lambdas/kubernetes/client';
import { clientForSimulatedApi } from '../harness/kubernetes-test-client';
import { evaluateRollout } from '../../lambdas/rollback/rollout-status';
import { readRollbackPlan, RollbackConflict, undoRollout } from '../../lambdas/rollback/undo';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDUNDOTEST', secretAccessKey: 'undo-test-secret' };
const WEB = { namespace: 'shop', deployment: 'web' };

describe('rolling a Deployment back on the simulated API server', () => {
  let sim: SimulatedKubernetesApi;
  let client: KubernetesClient;

  beforeAll(async () => {
    sim = await startKubernetesApiServer({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
    });
    client = clientForSimulatedApi(sim, CREDENTIALS, { region: REGION });
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.reset();
    sim.addDeployment({
      namespace: 'shop',
      name: 'web',
      revisions: [{ image: 'web:1.0' }, { image: 'web:1.1' }, { image: 'web:1.2' }],
    });
  });

  const current = () => {
    const deployment = sim.getDeployment('shop', 'web');
    if (!deployment) throw new Error('the Deployment is gone');
    return deployment;
  };
  const image = () => current().spec.template.spec.containers[0]?.image;
  const revision = () => current().metadata.annotations?.['deployment.kubernetes.io/revision'];
  const patches = (status?: number) =>
    sim.requests.filter(
      (request) => request.method === 'PATCH' && (status === undefined || request.status === status),
    );

  describe('readRollbackPlan', () => {
    it('plans the previous revision without changing anything', async () => {
      const plan = await readRollbackPlan(client, WEB);
      expect(plan).toMatchObject({
        kind: 'ready',
        fromRevision: 3,
        toRevision: 2,
        fromImages: ['web:1.2'],
        toImages: ['web:1.1'],
        generation: current().metadata.generation,
      });
      expect(patches()).toHaveLength(0);
    });

    it('plans the revision asked for', async () => {
      expect(await readRollbackPlan(client, { ...WEB, toRevision: 1 })).toMatchObject({
        toRevision: 1,
        toImages: ['web:1.0'],
      });
    });

    it('ignores a ReplicaSet the selector matches but another Deployment controls', async () => {
      sim.addReplicaSet({
        namespace: 'shop',
        name: 'web-imposter',
        labels: { app: 'web' },
        image: 'evil:9',
        revision: 9,
        ownerUid: 'someone-else',
      });
      expect(await readRollbackPlan(client, WEB)).toMatchObject({ toRevision: 2, toImages: ['web:1.1'] });
    });

    it('reports a missing Deployment as guarded', async () => {
      sim.deleteDeployment('shop', 'web');
      expect(await readRollbackPlan(client, WEB)).toEqual({
        kind: 'guarded',
        reason: 'deployment-missing',
        detail: 'Deployment shop/web does not exist.',
      });
    });

    it('refuses a paused Deployment', async () => {
      sim.setPaused('shop', 'web', true);
      expect(await readRollbackPlan(client, WEB)).toMatchObject({
        kind: 'guarded',
        reason: 'deployment-paused',
      });
    });

    it('finds no previous revision after the first deploy', async () => {
      sim.reset();
      sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:1.0' }] });
      expect(await readRollbackPlan(client, WEB)).toMatchObject({
        kind: 'guarded',
        reason: 'no-previous-revision',
      });
    });

    it('finds no previous revision when revisionHistoryLimit is 0', async () => {
      sim.reset();
      sim.addDeployment({
        namespace: 'shop',
        name: 'web',
        revisions: [{ image: 'web:1.0' }, { image: 'web:1.1' }],
        revisionHistoryLimit: 0,
      });
      const plan = await readRollbackPlan(client, WEB);
      expect(plan).toMatchObject({ kind: 'guarded', reason: 'no-previous-revision' });
      expect(plan.kind === 'guarded' && plan.detail).toMatch(/revisionHistoryLimit is 0/);
    });

    it('finds nothing to do when asked for the revision already running', async () => {
      expect(await readRollbackPlan(client, { ...WEB, toRevision: 3 })).toMatchObject({
        kind: 'guarded',
        reason: 'already-at-revision',
      });
    });

    it('reports a revision that is not kept', async () => {
      expect(await readRollbackPlan(client, { ...WEB, toRevision: 9 })).toMatchObject({
        kind: 'guarded',
        reason: 'revision-not-found',
      });
    });
  });

  describe('undoRollout', () => {
    it("restores the previous revision's template, and the controller makes it revision 4", async () => {
      const result = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(result).toEqual({
        performed: true,
        fromRevision: 3,
        toRevision: 2,
        fromImages: ['web:1.2'],
        toImages: ['web:1.1'],
        generation: current().metadata.generation,
        attempts: 1,
      });
      expect(image()).toBe('web:1.1');
      expect(revision()).toBe('4');
      const restored = sim
        .listReplicaSets('shop')
        .find((rs) => rs.spec.template.spec.containers[0]?.image === 'web:1.1');
      expect(restored?.metadata.annotations).toMatchObject({
        'deployment.kubernetes.io/revision': '4',
        'deployment.kubernetes.io/revision-history': '2',
      });
      expect(patches()).toHaveLength(1);
    });

    it('sends the template without the pod-template-hash label', async () => {
      await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(current().spec.template.metadata?.labels).toEqual({ app: 'web' });
    });

    it("sets the annotations as kubectl does: the ReplicaSet's, but the Deployment's own bookkeeping kept", async () => {
      const lastApplied =
        current().metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
      await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      const annotations = current().metadata.annotations ?? {};
      expect(annotations['app.example.com/build']).toBe('build-2');
      expect(annotations['kubernetes.io/change-cause']).toBe('deploy web:1.1');
      expect(annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe(lastApplied);
      expect(annotations).not.toHaveProperty('deployment.kubernetes.io/desired-replicas');
      expect(annotations).not.toHaveProperty('deployment.kubernetes.io/revision-history');
    });

    it('rolls back to the revision planned with toRevision', async () => {
      const result = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 1 });
      expect(result).toMatchObject({ performed: true, toRevision: 1, toImages: ['web:1.0'] });
      expect(image()).toBe('web:1.0');
    });

    it('starts a rollout that completes as the controller reports progress', async () => {
      const result = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      const first = evaluateRollout(await client.getDeployment('shop', 'web'));
      const second = evaluateRollout(await client.getDeployment('shop', 'web'));
      expect(first).toMatchObject({
        state: 'progressing',
        generation: result.performed ? result.generation : -1,
      });
      expect(second).toMatchObject({ state: 'complete', observedGeneration: first.generation });
    });

    it('rolls back a rollout that is stalled mid-way', async () => {
      sim.deploy('shop', 'web', { image: 'web:1.3' }, { rollout: { kind: 'stalls' } });
      await client.getDeployment('shop', 'web'); // the stalled rollout, as an alarm would find it
      const result = await undoRollout(client, WEB, { fromRevision: 4, toRevision: 3 });
      expect(result).toMatchObject({ performed: true, fromImages: ['web:1.3'], toImages: ['web:1.2'] });
      expect(evaluateRollout(await client.getDeployment('shop', 'web')).state).toBe('progressing');
      expect(evaluateRollout(await client.getDeployment('shop', 'web')).state).toBe('complete');
    });

    it('re-reads and succeeds on the second attempt after one conflict', async () => {
      sim.injectFault({ method: 'PATCH', status: 409 });
      const result = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(result).toMatchObject({ performed: true, attempts: 2 });
      expect(image()).toBe('web:1.1');
      expect(sim.requests.map((request) => `${request.method} ${request.status}`)).toEqual([
        'GET 200',
        'GET 200',
        'PATCH 409',
        'GET 200',
        'GET 200',
        'PATCH 200',
      ]);
    });

    it('gives up with RollbackConflict after two conflicts, leaving the Deployment as it was', async () => {
      sim.injectFault({ method: 'PATCH', status: 409, times: 2 });
      const before = current();
      const error = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(RollbackConflict);
      expect((error as Error).name).toBe('RollbackConflict');
      expect((error as Error).message).toMatch(/gave up after 2 attempts.*changed nothing/);
      expect(current().spec.template).toEqual(before.spec.template);
      expect(current().metadata.annotations).toEqual(before.metadata.annotations);
    });

    it('never overwrites a deploy made between its read and its patch', async () => {
      const unsubscribe = sim.onRequest(({ method }) => {
        if (method !== 'PATCH') return;
        unsubscribe();
        sim.deploy('shop', 'web', { image: 'web:1.3-hotfix' });
      });
      const result = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(result).toEqual({
        performed: false,
        reason: 'deployment-changed',
        detail:
          'Deployment shop/web is at revision 4, not 3 as planned: it was deployed since; not overwriting that.',
      });
      expect(patches(422)).toHaveLength(1);
      expect(patches()).toHaveLength(1);
      expect(image()).toBe('web:1.3-hotfix');
    });

    it('never overwrites a deploy the controller has not numbered yet', async () => {
      sim.setControllerRunning(false);
      sim.deploy('shop', 'web', { image: 'web:1.3-hotfix' });
      const result = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(result).toMatchObject({ performed: false, reason: 'deployment-changed' });
      expect(result.performed === false && result.detail).toMatch(/template that is not revision 3's/);
      expect(patches()).toHaveLength(0);
      expect(image()).toBe('web:1.3-hotfix');
    });

    it('reports a retried undo whose first PATCH was applied as performed, and patches nothing more', async () => {
      const first = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(first).toMatchObject({ performed: true, attempts: 1 });
      const retried = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(retried).toEqual({
        performed: true,
        fromRevision: 3,
        toRevision: 2,
        fromImages: ['web:1.2'],
        toImages: ['web:1.1'],
        generation: current().metadata.generation,
        attempts: 0,
      });
      expect(patches(200)).toHaveLength(1);
    });

    it('recognises its own applied patch before the controller has numbered it', async () => {
      sim.setControllerRunning(false);
      await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      const retried = await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 });
      expect(retried).toMatchObject({ performed: true, attempts: 0, toImages: ['web:1.1'] });
      expect(patches(200)).toHaveLength(1);
    });

    it('does nothing when the Deployment was deployed again after the plan', async () => {
      sim.deploy('shop', 'web', { image: 'web:1.3' });
      expect(await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 })).toMatchObject({
        performed: false,
        reason: 'deployment-changed',
      });
      expect(patches()).toHaveLength(0);
    });

    it('does nothing to a paused Deployment', async () => {
      sim.setPaused('shop', 'web', true);
      expect(await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 })).toMatchObject({
        performed: false,
        reason: 'deployment-paused',
      });
      expect(patches()).toHaveLength(0);
    });

    it('does nothing when the template already is the target revision', async () => {
      expect(await undoRollout(client, WEB, { fromRevision: 3, toRevision: 3 })).toMatchObject({
        performed: false,
        reason: 'already-at-revision',
      });
      expect(patches()).toHaveLength(0);
    });

    it('does nothing when the target revision has been pruned meanwhile', async () => {
      sim.reset();
      sim.addDeployment({
        namespace: 'shop',
        name: 'web',
        revisions: [{ image: 'web:1.0' }, { image: 'web:1.1' }],
        revisionHistoryLimit: 0,
      });
      expect(await undoRollout(client, WEB, { fromRevision: 2, toRevision: 1 })).toMatchObject({
        performed: false,
        reason: 'revision-not-found',
      });
    });

    it('does nothing when the Deployment is gone', async () => {
      sim.deleteDeployment('shop', 'web');
      expect(await undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 })).toEqual({
        performed: false,
        reason: 'deployment-missing',
        detail: 'Deployment shop/web does not exist.',
      });
    });

    it('lets other API failures through to the workflow', async () => {
      sim.injectFault({ method: 'PATCH', status: 503 });
      await expect(undoRollout(client, WEB, { fromRevision: 3, toRevision: 2 })).rejects.toMatchObject({
        name: 'KubernetesUnavailable',
      });
      expect(image()).toBe('web:1.2');
    });
  });
});
