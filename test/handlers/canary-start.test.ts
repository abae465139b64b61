// The canary's first step, `startCanary`, with its production collaborators: the real CanaryLock on dynalite
// (every lock condition evaluated by a DynamoDB implementation) and Kubernetes through the simulated API server
// (EKS DescribeCluster mocked to point at it, tokens signed and checked). What the workflow test cannot show:
// the canary's exact pod template, each refusal and what it leaves behind (nothing patched, the lock free).
import { DeleteItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CanaryServiceInput } from '../../lib/config/canary';
import { InvalidCanaryRequest } from '../../lambdas/canary/request';
import {
  CanaryAlreadyRunning,
  CanaryTargetInvalid,
  startCanary,
  type StartDeps,
  type StartLock,
} from '../../lambdas/canary/start';
import type { ClusterAccess } from '../../lambdas/kubernetes/cluster-access';
import { KubernetesNotFound } from '../../lambdas/kubernetes/errors';
import { clusterAccessFromEnvironment } from '../../lambdas/kubernetes/lambda-cluster-access';
import { InvalidSetting } from '../../lambdas/shared/env';
import { CanaryLock } from '../../lambdas/workload-lock/canary-lock';
import { startLockTable } from '../harness/lock-table';
import type { SimulatedKubernetesApi } from '../harness/kubernetes/server';
import {
  acquireRequest,
  ALB,
  canaryService,
  failureOf,
  GATEWAY,
  NEW_IMAGE,
  RATIO,
  REGION,
  RUN_A,
  RUN_B,
  STABLE_IMAGE,
  startSimulatedCluster,
  WORKLOAD,
  type SimulatedCluster,
} from './canary-fixtures';

const ACCOUNT = '111122223333';
const TABLE = 'locks';
const ENVOY_IMAGE = 'registry.example.com/envoy:1.30.1';

/** `${Services}` as the state machine passes it: the services by name, as a JSON string. */
const servicesSetting = (...services: CanaryServiceInput[]) =>
  JSON.stringify(Object.fromEntries(services.map((each) => [each.name, each])));

function event(detail: Record<string, unknown> = {}, fields: Record<string, unknown> = {}) {
  return {
    id: 'event-1',
    'detail-type': 'CanaryRequested',
    source: 'platform-runbooks.ci',
    account: ACCOUNT,
    region: REGION,
    time: '2026-11-22T03:00:00Z',
    detail: {
      service: 'web',
      image: NEW_IMAGE,
      requestedBy: 'github-actions:acme/web',
      reference: '3f2c1a9e8b7d',
      ...detail,
    },
    ...fields,
  };
}

function input(
  options: { event?: unknown; services?: string; execution?: string; name?: string } = {},
): unknown {
  return {
    event: options.event ?? event(),
    services: options.services ?? servicesSetting(canaryService()),
    execution: { id: options.execution ?? RUN_A, name: options.name ?? 'run-a' },
  };
}

describe('startCanary', () => {
  let cluster: SimulatedCluster;
  let sim: SimulatedKubernetesApi;
  let table: Awaited<ReturnType<typeof startLockTable>>;
  let lock: CanaryLock;
  let kubernetes: ClusterAccess;
  /** The lock calls the start made, in order. */
  const lockCalls: string[] = [];
  /** The executions Step Functions would say are running. */
  const running = new Set<string>();

  const recordingLock = (): StartLock => ({
    acquire: (request) => {
      lockCalls.push(`acquire ${request.executionArn}`);
      return lock.acquire(request);
    },
    release: (workload, executionArn) => {
      lockCalls.push(`release ${executionArn}`);
      return lock.release(workload, executionArn);
    },
  });
  const deps = (): StartDeps => ({
    lock: recordingLock(),
    kubernetes,
    account: ACCOUNT,
    region: REGION,
    lockTtlSeconds: 3_600,
    executionIsRunning: (arn) => Promise.resolve(running.has(arn)),
    now: () => new Date(),
  });
  const start = (startInput: unknown = input()) => startCanary(startInput, deps());

  const deployment = (name: string) => {
    const found = sim.getDeployment('shop', name);
    if (!found) throw new Error(`no Deployment ${name}`);
    return found;
  };
  const requests = (method?: string) =>
    sim.requests
      .filter((request) => method === undefined || request.method === method)
      .map((request) => `${request.method} ${request.path.replace('/apis/apps/v1/namespaces/shop/', '')}`);
  const rawItem = async () =>
    (
      await table.dynamodb.send(
        new GetItemCommand({ TableName: TABLE, Key: { workload: { S: WORKLOAD } }, ConsistentRead: true }),
      )
    ).Item;

  /** Stable with its application and a proxy; the canary with an older, different template. */
  function addDeployments({ stableContainers = 2 }: { stableContainers?: 1 | 2 } = {}) {
    sim.addDeployment({
      namespace: 'shop',
      name: 'web',
      revisions: [
        {
          containers: [
            { name: 'app', image: STABLE_IMAGE },
            ...(stableContainers === 2 ? [{ name: 'envoy', image: ENVOY_IMAGE }] : []),
          ],
        },
      ],
      replicas: 10,
      labels: { app: 'web', track: 'stable' },
    });
    addCanary();
  }
  function addCanary() {
    sim.addDeployment({
      namespace: 'shop',
      name: 'web-canary',
      revisions: [{ containers: [{ name: 'app', image: 'registry.example.com/web:0.9.0' }] }],
      replicas: 3,
      labels: { app: 'web', track: 'canary' },
    });
  }

  beforeAll(async () => {
    cluster = await startSimulatedCluster();
    ({ sim } = cluster);
    kubernetes = clusterAccessFromEnvironment();
    table = await startLockTable(TABLE);
    lock = new CanaryLock(table.dynamodb, TABLE);
  });
  afterAll(async () => {
    await cluster.close();
    await table.close();
  });
  beforeEach(async () => {
    sim.reset();
    lockCalls.length = 0;
    running.clear();
    await table.dynamodb.send(
      new DeleteItemCommand({ TableName: TABLE, Key: { workload: { S: WORKLOAD } } }),
    );
  });

  describe("the canary's pod template", () => {
    it("is stable's pod spec with the named container's image changed; the canary keeps its labels", async () => {
      addDeployments();
      const stableBefore = deployment('web');

      const run = await start(input({ event: event({ container: 'app' }) }));

      const canary = deployment('web-canary');
      const [app, envoy] = stableBefore.spec.template.spec.containers;
      expect(canary.spec.template.spec).toEqual({
        ...stableBefore.spec.template.spec,
        containers: [{ ...app, image: NEW_IMAGE }, envoy],
      });
      // Its own labels: its selector and its Service select on them.
      expect(canary.spec.template.metadata?.labels).toEqual({ app: 'web', track: 'canary' });
      expect(canary.spec.replicas).toBe(10);
      // Stable is read, never written.
      expect(deployment('web').spec).toEqual(stableBefore.spec);
      expect(requests()).toEqual([
        'GET deployments/web',
        'GET deployments/web-canary',
        'PATCH deployments/web-canary',
      ]);

      expect(run).toMatchObject({
        executionArn: RUN_A,
        runId: 'run-a',
        workload: WORKLOAD,
        change: { kind: 'image', image: NEW_IMAGE, container: 'app' },
        eventId: 'event-1',
        steps: [5, 20, 50, 100],
        intervalSeconds: 300,
        threshold: 2,
        approvalTimeoutSeconds: 0,
        stepIndex: -1,
        weight: 0,
        failures: 0,
        stableImages: [STABLE_IMAGE, ENVOY_IMAGE],
        canaryImages: [NEW_IMAGE, ENVOY_IMAGE],
        stableReplicas: 10,
      });
      expect((await lock.read(WORKLOAD)).holderExecution).toBe(RUN_A);
      expect(lockCalls).toEqual([`acquire ${RUN_A}`]);
    });

    it('changes the only container when none is named, and answers the approval wait in seconds', async () => {
      addDeployments({ stableContainers: 1 });
      const run = await start(
        input({
          services: servicesSetting(
            canaryService({ approval: { approvers: ['U024BE7LH'], timeoutMinutes: 45 } }),
          ),
        }),
      );
      expect(deployment('web-canary').spec.template.spec.containers.map((c) => c.image)).toEqual([NEW_IMAGE]);
      expect(run.approvalTimeoutSeconds).toBe(2_700);
    });

    it('names the containers when the one asked for does not exist, patches nothing and frees the lock', async () => {
      addDeployments();
      const error = await failureOf(start(input({ event: event({ container: 'sidecar' }) })));

      expect(error).toBeInstanceOf(CanaryTargetInvalid);
      expect(error.message).toBe('detail.container: web has no container "sidecar" (it has app, envoy)');
      expect(requests('PATCH')).toEqual([]);
      expect(lockCalls).toEqual([`acquire ${RUN_A}`, `release ${RUN_A}`]);
      expect((await lock.read(WORKLOAD)).holder).toBeUndefined();
    });

    it('asks which container when stable has several and none is named', async () => {
      addDeployments();
      const error = await failureOf(start());

      expect(error).toBeInstanceOf(CanaryTargetInvalid);
      expect(error.message).toBe(
        'detail.container: web has 2 containers (app, envoy): name the one to change',
      );
      expect(requests('PATCH')).toEqual([]);
      expect((await lock.read(WORKLOAD)).holder).toBeUndefined();
    });

    it("applies a podTemplatePatch to stable's pod spec, images and labels left as they are", async () => {
      addDeployments();
      const env = [{ name: 'CHECKOUT_V2', value: 'on' }];
      const run = await start(
        input({
          event: event({
            image: undefined,
            podTemplatePatch: [
              { op: 'test', path: '/spec/template/spec/containers/1/name', value: 'envoy' },
              { op: 'add', path: '/spec/template/spec/containers/0/env', value: env },
            ],
          }),
        }),
      );

      const [app, envoy] = deployment('web').spec.template.spec.containers;
      expect(deployment('web-canary').spec.template.spec.containers).toEqual([{ ...app, env }, envoy]);
      expect(deployment('web-canary').spec.template.metadata?.labels).toEqual({
        app: 'web',
        track: 'canary',
      });
      expect(run.change.kind).toBe('patch');
      expect(run.canaryImages).toEqual([STABLE_IMAGE, ENVOY_IMAGE]);
    });

    it.each([
      ['alb', ALB, 10],
      ['gateway-api', GATEWAY, 10],
      ['replica-ratio', RATIO, 0],
    ] as const)(
      "sizes the canary for the %s router: stable's replicas, or none",
      async (_, router, replicas) => {
        addDeployments({ stableContainers: 1 });
        const run = await start(input({ services: servicesSetting(canaryService({ router })) }));
        expect(deployment('web-canary').spec.replicas).toBe(replicas);
        expect(run.stableReplicas).toBe(10);
      },
    );
  });

  describe('the lock', () => {
    it('refused because another run is running: CanaryAlreadyRunning, no Kubernetes call', async () => {
      addDeployments({ stableContainers: 1 });
      await lock.acquire(acquireRequest(RUN_B, { eventId: 'event-b' }));
      running.add(RUN_B);

      const error = await failureOf(start());

      expect(error).toBeInstanceOf(CanaryAlreadyRunning);
      expect(error.message).toContain('No canary of web was started: A canary of web is already running');
      expect(error.message).toContain(RUN_B);
      expect(requests()).toEqual([]);
      expect(lockCalls).toEqual([`acquire ${RUN_A}`]);
      expect((await lock.read(WORKLOAD)).holderExecution).toBe(RUN_B);
    });

    it('held by a run that has ended: taken over, and the canary deployed', async () => {
      addDeployments({ stableContainers: 1 });
      await lock.acquire(acquireRequest(RUN_B, { eventId: 'event-b' }));

      await start();

      expect((await lock.read(WORKLOAD)).holderExecution).toBe(RUN_A);
      expect(requests('PATCH')).toEqual(['PATCH deployments/web-canary']);
    });

    it('refuses a second delivery of the same event to another execution as already handled', async () => {
      addDeployments({ stableContainers: 1 });
      await start();
      running.add(RUN_A);

      const error = await failureOf(start(input({ execution: RUN_B, name: 'run-b' })));

      expect(error).toBeInstanceOf(CanaryAlreadyRunning);
      expect(error.message).toMatch(
        /^CanaryRequested event-1 for web was already handled: Event event-1 already started execution /,
      );
      expect(error.message).toContain(RUN_A);
      expect(requests('PATCH')).toHaveLength(1);
      expect((await lock.read(WORKLOAD)).holderExecution).toBe(RUN_A);
    });

    it('is released when Kubernetes fails after it was taken, and the error is thrown as it was', async () => {
      sim.addDeployment({
        namespace: 'shop',
        name: 'web',
        revisions: [{ image: STABLE_IMAGE }],
        replicas: 10,
        labels: { app: 'web', track: 'stable' },
      });

      const error = await failureOf(start());

      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(lockCalls).toEqual([`acquire ${RUN_A}`, `release ${RUN_A}`]);
      const state = await lock.read(WORKLOAD);
      expect(state.holder).toBeUndefined();
      expect(state.holderExecution).toBeUndefined();
      // Free for the next request at once, not at the end of the TTL.
      addCanary();
      await expect(start(input({ execution: RUN_B, name: 'run-b' }))).resolves.toMatchObject({
        executionArn: RUN_B,
      });
    });

    it('is kept by a retried start of the same run, which deploys again; an abort asked meanwhile survives', async () => {
      addDeployments({ stableContainers: 1 });
      const first = await start();
      await lock.requestAbort(WORKLOAD, {
        reason: 'alarm "web-5xx" fired',
        by: 'rollback r-1',
        at: new Date(),
      });

      const second = await start();

      expect(second).toEqual({ ...first, startedAt: second.startedAt });
      expect(lockCalls).toEqual([`acquire ${RUN_A}`, `acquire ${RUN_A}`]);
      const state = await lock.read(WORKLOAD);
      expect(state.holderExecution).toBe(RUN_A);
      expect(state.abortRequested?.reason).toBe('alarm "web-5xx" fired');
      expect(requests('PATCH')).toEqual(['PATCH deployments/web-canary', 'PATCH deployments/web-canary']);
      expect(deployment('web-canary').spec.template.spec.containers[0]?.image).toBe(NEW_IMAGE);
    });
  });

  describe('refused before the lock', () => {
    it.each([
      ['not JSON', '{"web": ', "the state machine's Services setting is not JSON: "],
      [
        'not services',
        JSON.stringify({ web: { ...canaryService(), checks: [] } }),
        "the state machine's Services setting is malformed: web.checks: a canary needs at least one check",
      ],
    ])('a Services setting %s: InvalidSetting', async (_, services, message) => {
      addDeployments();
      const error = await failureOf(start(input({ services })));

      expect(error).toBeInstanceOf(InvalidSetting);
      expect(error.message).toContain(message);
      expect(lockCalls).toEqual([]);
      expect(requests()).toEqual([]);
    });

    it('an event from another account: InvalidCanaryRequest, no lock item written', async () => {
      addDeployments();
      const error = await failureOf(start(input({ event: event({}, { account: '444455556666' }) })));

      expect(error).toBeInstanceOf(InvalidCanaryRequest);
      expect(error.message).toBe(
        'The CanaryRequested event is from account 444455556666; this runbook acts only on account 111122223333',
      );
      expect(lockCalls).toEqual([]);
      expect(await rawItem()).toBeUndefined();
      expect(requests()).toEqual([]);
    });

    it('overrides that would outlast the state machine or its history: InvalidCanaryRequest, no lock', async () => {
      addDeployments();
      // 3,600 s of timeout: 4 steps of 60 minutes cannot fit.
      const long = await failureOf(start(input({ event: event({ overrides: { intervalMinutes: 60 } }) })));
      expect(long).toBeInstanceOf(InvalidCanaryRequest);
      expect(long.message).toMatch(
        /^detail\.overrides: with them a run of web could last \d+ minutes, more than the 60/,
      );
      const many = await failureOf(
        start(input({ event: event({ overrides: { stepWeight: 1, maxWeight: 100, intervalMinutes: 1 } }) })),
      );
      expect(many).toBeInstanceOf(InvalidCanaryRequest);
      expect(many.message).toContain('detail.overrides');
      expect(lockCalls).toEqual([]);
      expect(requests()).toEqual([]);
    });

    it('an input without its execution: InvalidCanaryRequest', async () => {
      const error = await failureOf(start({ event: event(), services: servicesSetting(canaryService()) }));
      expect(error).toBeInstanceOf(InvalidCanaryRequest);
      expect(error.message).toContain('execution');
      expect(lockCalls).toEqual([]);
    });
  });
});
