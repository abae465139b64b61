// What the canary's tests share: the `web` service of prod-eks/shop as configured, a run of it as the workflow
// passes it at `$.run`, and prod-eks as the deployed handlers reach it (the simulated API server, EKS
// DescribeCluster mocked to point at it, tokens signed with the test environment's credentials and checked).
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { vi } from 'vitest';
import type { CanaryRun } from '../../lambdas/canary/run';
import type { KubernetesClient } from '../../lambdas/kubernetes/client';
import type { CanaryAcquireRequest } from '../../lambdas/workload-lock/canary-lock';
import { canaryServiceSchema, type CanaryRouter, type CanaryServiceInput } from '../../lib/config/canary';
import { clientForSimulatedApi } from '../harness/kubernetes-test-client';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

export const REGION = 'eu-west-1';
// The test environment's credentials (vitest.config.ts): the handlers sign their EKS tokens with them.
export const CREDENTIALS = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
};
/** The service's lock key: `cluster/namespace/stableDeployment`. */
export const WORKLOAD = 'prod-eks/shop/web';
export const RUN_A = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:run-a';
export const RUN_B = 'arn:aws:states:eu-west-1:111122223333:execution:platform-runbooks-prod-canary:run-b';
export const STABLE_IMAGE = 'registry.example.com/web:1.0.0';
export const NEW_IMAGE = 'registry.example.com/web:2.0.0';

export const ALB: CanaryRouter = {
  type: 'alb',
  ingress: 'web',
  actionName: 'web-canary',
  stable: { service: 'web-stable', port: 80 },
  canary: { service: 'web-canary', port: 80 },
};
/** `ALB`'s action as the routers read it from the Ingress annotation. */
export const ALB_SETTINGS = {
  actionName: 'web-canary',
  stable: { serviceName: 'web-stable', servicePort: 80 },
  canary: { serviceName: 'web-canary', servicePort: 80 },
};
export const GATEWAY: CanaryRouter = {
  type: 'gateway-api',
  httpRoute: 'web',
  stable: { service: 'web-stable', port: 80 },
  canary: { service: 'web-canary' },
};
export const RATIO: CanaryRouter = { type: 'replica-ratio', totalReplicas: 10 };

const appMetric = (version: 'canary' | 'stable') => ({
  type: 'metric' as const,
  metric: {
    namespace: 'Shop',
    metricName: 'ErrorRate',
    dimensions: { Service: 'web', Version: version },
    stat: 'Average',
  },
});

/** The service as configured: on the ALB router, its error rate held to a limit, unless told otherwise. */
export function canaryService(fields: Partial<CanaryServiceInput> = {}): CanaryServiceInput {
  return {
    name: 'web',
    cluster: 'prod-eks',
    namespace: 'shop',
    stableDeployment: 'web',
    canaryDeployment: 'web-canary',
    router: ALB,
    checks: [{ name: 'error-rate', canary: appMetric('canary'), stable: appMetric('stable'), max: 0.05 }],
    ...fields,
  };
}

/**
 * The run as the start answers it, before its first shift, unless `fields` say otherwise; its service is
 * `canaryService` on the replica-ratio router with `service` over it, parsed as the start parses it.
 */
export function canaryRun(
  fields: Partial<CanaryRun> = {},
  service: Partial<CanaryServiceInput> = {},
): CanaryRun {
  return {
    executionArn: RUN_A,
    runId: 'run-a',
    workload: WORKLOAD,
    service: canaryServiceSchema.parse(canaryService({ router: RATIO, ...service })),
    change: { kind: 'image', image: NEW_IMAGE },
    eventId: 'event-1',
    requestedBy: 'github-actions:acme/web',
    reference: '3f2c1a9e8b7d',
    requestedAt: '2026-11-22T03:00:00.000Z',
    startedAt: '2026-11-22T03:00:01.000Z',
    steps: [5, 20, 50, 100],
    intervalSeconds: 300,
    threshold: 2,
    approvalTimeoutSeconds: 0,
    stepIndex: -1,
    weight: 0,
    failures: 0,
    stableImages: [STABLE_IMAGE],
    canaryImages: [NEW_IMAGE],
    stableReplicas: 10,
    ...fields,
  };
}

/** What a run's start asks `CanaryLock.acquire` for, now; its holder still running unless told otherwise. */
export function acquireRequest(
  executionArn: string,
  fields: Partial<CanaryAcquireRequest> = {},
): CanaryAcquireRequest {
  return {
    workload: WORKLOAD,
    executionArn,
    eventId: 'event-1',
    service: 'web',
    now: new Date(),
    lockTtlSeconds: 3_600,
    holderIsRunning: () => Promise.resolve(true),
    ...fields,
  };
}

/** The error `promise` rejects with; the test fails if it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail');
  return outcome;
}

export interface SimulatedCluster {
  sim: SimulatedKubernetesApi;
  /** The test's own client: seeds what a person or a controller would write. */
  kubectl: KubernetesClient;
  /** For afterAll: the environment and the EKS mock restored, the server stopped. */
  close: () => Promise<void>;
}

/**
 * Starts prod-eks as a deployed handler reaches it: the simulated API server, EKS DescribeCluster answered with
 * its endpoint, and the Lambda's environment (outside a VPC, logs silenced). For beforeAll, before the handler
 * is imported: it reads its environment at module scope.
 */
export async function startSimulatedCluster(): Promise<SimulatedCluster> {
  const sim = await startKubernetesApiServer({
    clusterName: 'prod-eks',
    region: REGION,
    credentials: CREDENTIALS,
  });
  const eks = mockClient(EKSClient);
  eks.on(DescribeClusterCommand, { name: 'prod-eks' }).resolves({
    cluster: {
      name: 'prod-eks',
      status: 'ACTIVE',
      endpoint: sim.endpoint,
      certificateAuthority: { data: sim.caData },
    },
  });
  vi.stubEnv('NETWORK_PLACEMENT', 'outside-vpc');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  return {
    sim,
    kubectl: clientForSimulatedApi(sim, CREDENTIALS, { region: REGION }),
    close: async () => {
      vi.unstubAllEnvs();
      eks.restore();
      await sim.close();
    },
  };
}

/** Stable (`web:1`) and the canary (`web:2`), 10 replicas each, labelled by track as their Services select. */
export function addStableAndCanary(sim: SimulatedKubernetesApi): void {
  sim.addDeployment({
    namespace: 'shop',
    name: 'web',
    revisions: [{ image: 'web:1' }],
    replicas: 10,
    labels: { app: 'web', track: 'stable' },
  });
  sim.addDeployment({
    namespace: 'shop',
    name: 'web-canary',
    revisions: [{ image: 'web:2' }],
    replicas: 10,
    labels: { app: 'web', track: 'canary' },
  });
}

/** A run of `addStableAndCanary`'s Deployments on `router`, started a minute ago, unless `fields` say otherwise. */
export function simulatedRun(router: CanaryRouter, fields: Partial<CanaryRun> = {}): CanaryRun {
  const minuteAgo = new Date(Date.now() - 60_000).toISOString();
  return canaryRun(
    {
      change: { kind: 'image', image: 'web:2' },
      requestedAt: minuteAgo,
      startedAt: minuteAgo,
      stableImages: ['web:1'],
      canaryImages: ['web:2'],
      ...fields,
    },
    { router },
  );
}
