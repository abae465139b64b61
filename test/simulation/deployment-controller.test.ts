import { beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../harness/kubernetes/canonical-json';
import { DeploymentController, type RolloutBehaviour } from '../harness/kubernetes/deployment-controller';
import { kubernetesTimestamp, type SimDeployment, type SimReplicaSet } from '../harness/kubernetes/objects';
import { ObjectStore, ResourceVersionClock } from '../harness/kubernetes/store';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const REVISION = 'deployment.kubernetes.io/revision';
const HISTORY = 'deployment.kubernetes.io/revision-history';

function deploymentOf(
  name: string,
  image: string,
  { replicas = 3, revisionHistoryLimit = 10, annotations = {} as Record<string, string> } = {},
): SimDeployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      resourceVersion: '',
      generation: 1,
      creationTimestamp: kubernetesTimestamp(new Date(T0)),
      annotations,
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
      revisionHistoryLimit,
      progressDeadlineSeconds: 600,
    },
    status: {},
  };
}

describe('the deployment controller', () => {
  let time: number;
  let clock: ResourceVersionClock;
  let deployments: ObjectStore<SimDeployment>;
  let replicaSets: ObjectStore<SimReplicaSet>;
  let controller: DeploymentController;

  beforeEach(() => {
    time = T0;
    clock = new ResourceVersionClock();
    deployments = new ObjectStore<SimDeployment>(clock);
    replicaSets = new ObjectStore<SimReplicaSet>(clock);
    controller = new DeploymentController({
      deployments,
      replicaSets,
      clock,
      timestamp: () => kubernetesTimestamp(new Date(time)),
    });
  });

  function stored(name = 'web'): SimDeployment {
    const deployment = deployments.get('shop', name);
    if (!deployment) throw new Error(`no Deployment ${name}`);
    return deployment;
  }

  function create(deployment: SimDeployment): SimDeployment {
    deployments.put(deployment);
    controller.written(deployment);
    return deployment;
  }

  /** A write as the registry makes it: the spec changed bumps the generation; the controller sees the write. */
  function update(change: (next: SimDeployment) => void, name = 'web'): SimDeployment {
    const previous = stored(name);
    const next = structuredClone(previous);
    change(next);
    if (canonicalJson(next.spec) !== canonicalJson(previous.spec)) next.metadata.generation += 1;
    deployments.put(next);
    controller.written(next, previous);
    return next;
  }

  const setImage = (image: string, name = 'web') =>
    update((next) => {
      next.spec.template.spec.containers = [{ name: 'app', image }];
    }, name);

  /** A GET of the Deployment: one step of its rollout. */
  function read(name = 'web'): SimDeployment {
    const deployment = stored(name);
    controller.advance(deployment);
    return deployment;
  }

  const owned = (name = 'web') => controller.owned(stored(name));
  const imageOf = (replicaSet: SimReplicaSet | undefined) =>
    replicaSet?.spec.template.spec.containers[0]?.image;
  const summary = (name = 'web') =>
    owned(name).map((rs) => ({
      image: imageOf(rs),
      revision: rs.metadata.annotations?.[REVISION],
      history: rs.metadata.annotations?.[HISTORY],
      replicas: rs.spec.replicas,
      available: rs.status.availableReplicas ?? 0,
    }));
  const progressing = (name = 'web') =>
    stored(name).status.conditions?.find((condition) => condition.type === 'Progressing');

  /** Rolls a new image out to the end with the default pace. */
  function rollOut(image: string, name = 'web'): void {
    setImage(image, name);
    read(name);
    read(name);
  }

  describe('on a new Deployment', () => {
    it('makes one ReplicaSet, revision 1, scaled to the replicas, and reports the rollout complete', () => {
      create(deploymentOf('web', 'web:1'));
      expect(summary()).toEqual([
        { image: 'web:1', revision: '1', history: undefined, replicas: 3, available: 3 },
      ]);
      expect(stored().metadata.annotations?.[REVISION]).toBe('1');
      expect(stored().status).toMatchObject({
        observedGeneration: 1,
        replicas: 3,
        updatedReplicas: 3,
        availableReplicas: 3,
      });
      expect(progressing()).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
    });

    it('names the ReplicaSet after the pod-template-hash it adds to its labels, selector and template', () => {
      create(deploymentOf('web', 'web:1'));
      const [replicaSet] = owned();
      const hash = replicaSet?.metadata.labels?.['pod-template-hash'] ?? '';
      expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
      expect(replicaSet?.metadata.name).toBe(`web-${hash}`);
      expect(replicaSet?.spec.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
      expect(replicaSet?.spec.template.metadata?.labels).toEqual({ app: 'web', 'pod-template-hash': hash });
      expect(replicaSet?.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true }),
      ]);
    });

    it('derives the hash from the template alone, so the same template hashes the same anywhere', () => {
      create(deploymentOf('web', 'web:1'));
      const first = owned()[0]?.metadata.labels?.['pod-template-hash'];
      setImage('web:2');
      const second = owned().at(-1)?.metadata.labels?.['pod-template-hash'];
      controller.reset();
      deployments.clear();
      replicaSets.clear();
      create(deploymentOf('web', 'web:1'));
      expect(second).not.toBe(first);
      expect(owned()[0]?.metadata.labels?.['pod-template-hash']).toBe(first);
    });

    it("copies the Deployment's annotations to the ReplicaSet, except kubectl's and the controller's own", () => {
      create(
        deploymentOf('web', 'web:1', {
          annotations: {
            'kubernetes.io/change-cause': 'first deploy',
            'kubectl.kubernetes.io/last-applied-configuration': '{}',
          },
        }),
      );
      expect(owned()[0]?.metadata.annotations).toEqual({
        'deployment.kubernetes.io/desired-replicas': '3',
        'deployment.kubernetes.io/max-replicas': '4',
        [REVISION]: '1',
        'kubernetes.io/change-cause': 'first deploy',
      });
    });
  });

  describe('rolling out a new template', () => {
    beforeEach(() => {
      create(deploymentOf('web', 'web:1'));
    });

    it('makes a ReplicaSet with the next revision and completes on the second read by default', () => {
      setImage('web:2');
      expect(stored().metadata.annotations?.[REVISION]).toBe('2');
      expect(read().status.observedGeneration).toBe(1);
      read();
      expect(summary()).toEqual([
        { image: 'web:1', revision: '1', history: undefined, replicas: 0, available: 0 },
        { image: 'web:2', revision: '2', history: undefined, replicas: 3, available: 3 },
      ]);
      expect(stored().status.observedGeneration).toBe(2);
      expect(progressing()?.reason).toBe('NewReplicaSetAvailable');
    });

    it('shows the new ReplicaSet growing and the old one shrinking on the reads between', () => {
      setImage('web:2');
      controller.paceRollout(stored(), { kind: 'completes-after', reads: 3 });
      read();
      read();
      expect(summary().map(({ replicas, available }) => ({ replicas, available }))).toEqual([
        { replicas: 2, available: 2 },
        { replicas: 2, available: 1 },
      ]);
      expect(stored().status).toMatchObject({
        observedGeneration: 2,
        replicas: 4,
        updatedReplicas: 2,
        availableReplicas: 3,
        unavailableReplicas: 1,
      });
      expect(progressing()).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated' });
      read();
      expect(progressing()?.reason).toBe('NewReplicaSetAvailable');
    });

    it('starts no rollout when the template differs only by empty fields', () => {
      update((next) => {
        next.spec.template.spec.volumes = [];
        next.spec.template.metadata = {
          ...next.spec.template.metadata,
          annotations: {},
          creationTimestamp: null,
        };
      });
      expect(owned()).toHaveLength(1);
      expect(stored().status.observedGeneration).toBe(2);
      expect(progressing()?.reason).toBe('NewReplicaSetAvailable');
    });

    it('reports Available while at most a quarter of the desired pods, rounded down, are unavailable', () => {
      const available = () => stored().status.conditions?.find((condition) => condition.type === 'Available');
      controller.setBehaviour(stored(), { kind: 'stalls' });
      update((next) => {
        next.spec.replicas = 4;
        next.spec.template.spec.containers = [{ name: 'app', image: 'web:2' }];
      });
      read();
      expect(stored().status.availableReplicas).toBe(3);
      expect(available()).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
      update((next) => {
        next.spec.replicas = 8;
      });
      read();
      expect(stored().status.availableReplicas).toBe(3);
      expect(available()).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable' });
    });

    it('completes at the first read when the Deployment has no replicas', () => {
      update((next) => {
        next.spec.replicas = 0;
      });
      setImage('web:2');
      read();
      expect(stored().status.observedGeneration).toBe(3);
      expect(progressing()?.reason).toBe('NewReplicaSetAvailable');
    });
  });

  describe('rolling back to an older template', () => {
    beforeEach(() => {
      create(deploymentOf('web', 'web:1'));
      rollOut('web:2');
    });

    it('reuses its ReplicaSet, gives it the next revision and records the one it had in revision-history', () => {
      update((next) => {
        next.spec.template.spec.containers = [{ name: 'app', image: 'web:1' }];
        next.metadata.annotations = {
          ...next.metadata.annotations,
          'kubernetes.io/change-cause': 'rollback',
        };
      });
      read();
      read();
      expect(summary()).toEqual([
        { image: 'web:2', revision: '2', history: undefined, replicas: 0, available: 0 },
        { image: 'web:1', revision: '3', history: '1', replicas: 3, available: 3 },
      ]);
      expect(owned().at(-1)?.metadata.annotations?.['kubernetes.io/change-cause']).toBe('rollback');
      expect(stored().metadata.annotations?.[REVISION]).toBe('3');
    });

    it('appends to the revision-history each time the template comes back', () => {
      rollOut('web:1');
      rollOut('web:2');
      rollOut('web:1');
      expect(summary().map(({ image, revision, history }) => ({ image, revision, history }))).toEqual([
        { image: 'web:2', revision: '4', history: '2' },
        { image: 'web:1', revision: '5', history: '1,3' },
      ]);
    });
  });

  describe('paced rollouts', () => {
    beforeEach(() => {
      create(deploymentOf('web', 'web:1'));
    });

    it('stalls with one new pod that never becomes available, leaving the old pods in place', () => {
      controller.setBehaviour(stored(), { kind: 'stalls' });
      setImage('web:2');
      for (let reads = 0; reads < 10; reads += 1) read();
      expect(summary().map(({ replicas, available }) => ({ replicas, available }))).toEqual([
        { replicas: 3, available: 3 },
        { replicas: 1, available: 0 },
      ]);
      expect(progressing()).toMatchObject({ status: 'True', reason: 'ReplicaSetUpdated' });
    });

    it('reports ProgressDeadlineExceeded from the given read on, keeping when Available last changed', () => {
      controller.setBehaviour(stored(), { kind: 'deadline-exceeded', afterReads: 2 });
      time += 60_000;
      setImage('web:2');
      read();
      expect(progressing()).toMatchObject({
        status: 'True',
        reason: 'ReplicaSetUpdated',
        lastUpdateTime: '2026-03-01T12:01:00Z',
        lastTransitionTime: '2026-03-01T12:00:00Z',
      });
      time += 60_000;
      read();
      const newName = owned().at(-1)?.metadata.name;
      expect(progressing()).toEqual({
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: `ReplicaSet "${newName}" has timed out progressing.`,
        lastUpdateTime: '2026-03-01T12:02:00Z',
        lastTransitionTime: '2026-03-01T12:02:00Z',
      });
      expect(stored().status.conditions?.find((condition) => condition.type === 'Available')).toMatchObject({
        status: 'True',
        lastUpdateTime: '2026-03-01T12:00:00Z',
      });
    });

    it("paces one rollout by paceRollout, and the next by the Deployment's behaviour again", () => {
      const stalls: RolloutBehaviour = { kind: 'stalls' };
      controller.setBehaviour(stored(), stalls);
      setImage('web:2');
      controller.paceRollout(stored(), { kind: 'completes-after', reads: 1 });
      read();
      expect(progressing()?.reason).toBe('NewReplicaSetAvailable');
      setImage('web:3');
      read();
      read();
      expect(progressing()?.reason).toBe('ReplicaSetUpdated');
    });

    it('ends a rollout at once when settled', () => {
      setImage('web:2');
      controller.settle(stored());
      expect(summary().map(({ replicas }) => replicas)).toEqual([0, 3]);
      expect(stored().status.observedGeneration).toBe(2);
    });

    it('forgets the rollout and behaviour of a Deployment it is told to forget', () => {
      controller.setBehaviour(stored(), { kind: 'stalls' });
      setImage('web:2');
      controller.forget(stored());
      read();
      expect(stored().status.observedGeneration).toBe(1);
      rollOut('web:3');
      expect(progressing()?.reason).toBe('NewReplicaSetAvailable');
    });
  });

  describe('a paused Deployment', () => {
    it('gets no new ReplicaSet or revision until resumed, then rolls out', () => {
      create(deploymentOf('web', 'web:1'));
      update((next) => {
        next.spec.paused = true;
      });
      expect(progressing()).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused' });
      setImage('web:2');
      read();
      read();
      expect(owned()).toHaveLength(1);
      expect(stored().metadata.annotations?.[REVISION]).toBe('1');
      update((next) => {
        next.spec.paused = false;
      });
      expect(stored().metadata.annotations?.[REVISION]).toBe('2');
      read();
      read();
      expect(summary().map(({ image, replicas }) => ({ image, replicas }))).toEqual([
        { image: 'web:1', replicas: 0 },
        { image: 'web:2', replicas: 3 },
      ]);
    });
  });

  describe('when stopped', () => {
    it('numbers, syncs and rolls out nothing, and catches up once started again', () => {
      create(deploymentOf('web', 'web:1'));
      controller.setRunning(false);
      setImage('web:2');
      read();
      read();
      expect(owned()).toHaveLength(1);
      expect(stored().status.observedGeneration).toBe(1);
      controller.setRunning(true);
      expect(stored().metadata.annotations?.[REVISION]).toBe('2');
      read();
      read();
      expect(summary().map(({ replicas }) => replicas)).toEqual([0, 3]);
    });

    it('runs again after a reset', () => {
      controller.setRunning(false);
      controller.reset();
      create(deploymentOf('web', 'web:1'));
      expect(owned()).toHaveLength(1);
    });
  });

  describe('revisionHistoryLimit', () => {
    it('deletes the oldest ReplicaSets scaled to zero beyond the limit, each deletion a write', () => {
      create(deploymentOf('web', 'web:1', { revisionHistoryLimit: 1 }));
      rollOut('web:2');
      rollOut('web:3');
      expect(summary().map(({ image, revision }) => ({ image, revision }))).toEqual([
        { image: 'web:2', revision: '2' },
        { image: 'web:3', revision: '3' },
      ]);
      const newest = Math.max(
        ...[...deployments.all(), ...replicaSets.all()].map((object) =>
          Number(object.metadata.resourceVersion),
        ),
      );
      expect(Number(clock.current)).toBe(newest + 1);
    });

    it('prunes nothing while a rollout is under way and the old pods still run', () => {
      create(deploymentOf('web', 'web:1', { revisionHistoryLimit: 0 }));
      controller.setBehaviour(stored(), { kind: 'stalls' });
      setImage('web:2');
      read();
      read();
      expect(summary().map(({ image }) => image)).toEqual(['web:1', 'web:2']);
    });

    it('leaves alone ReplicaSets that another owner controls', () => {
      create(deploymentOf('web', 'web:1', { revisionHistoryLimit: 0 }));
      const foreign = structuredClone(owned()[0]);
      if (!foreign) throw new Error('expected a ReplicaSet');
      foreign.metadata.name = 'web-foreign';
      foreign.metadata.ownerReferences = [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'other', uid: 'uid-other', controller: true },
      ];
      foreign.spec.replicas = 0;
      foreign.status = { replicas: 0, observedGeneration: 1 };
      replicaSets.put(foreign);
      rollOut('web:2');
      expect(owned().map(imageOf)).toEqual(['web:2']);
      expect(replicaSets.get('shop', 'web-foreign')).toBeDefined();
    });
  });
});
