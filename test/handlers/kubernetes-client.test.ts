import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ClusterEndpointUnreachable,
  createClusterAccess,
  ClusterUnavailable,
  type NetworkPlacement,
} from '../../lambdas/kubernetes/cluster-access';
import { clusterAccessFromEnvironment } from '../../lambdas/kubernetes/lambda-cluster-access';
import { InvalidSetting } from '../../lambdas/shared/env';
import { createKubernetesClient, type KubernetesClient } from '../../lambdas/kubernetes/client';
import { clientForSimulatedApi } from '../harness/kubernetes-test-client';
import {
  KubernetesApiError,
  KubernetesConflict,
  KubernetesForbidden,
  KubernetesInvalidResponse,
  KubernetesNotFound,
  KubernetesTimeout,
  KubernetesUnavailable,
} from '../../lambdas/kubernetes/errors';
import { labelSelectorToString } from '../../lambdas/kubernetes/resources';
import { createEksToken } from '../../lambdas/kubernetes/token';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDCLIENTTEST', secretAccessKey: 'client-test-secret' };
const DEPLOYMENT_PATH = '/apis/apps/v1/namespaces/shop/deployments/web';

function clientOf(
  sim: SimulatedKubernetesApi,
  options: { timeoutMs?: number; cluster?: string } = {},
): KubernetesClient {
  return clientForSimulatedApi(sim, CREDENTIALS, { region: REGION, ...options });
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail');
  return outcome;
}

describe('the Kubernetes client, against the simulated API server', () => {
  let sim: SimulatedKubernetesApi;
  let client: KubernetesClient;

  beforeAll(async () => {
    sim = await startKubernetesApiServer({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
    });
    client = clientOf(sim);
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.reset();
    sim.addDeployment({
      namespace: 'shop',
      name: 'web',
      revisions: [{ image: 'web:1' }, { image: 'web:2' }],
    });
  });

  describe('getDeployment', () => {
    it('reads the Deployment, keeping unknown template fields for the round trip', async () => {
      const deployment = await client.getDeployment('shop', 'web');
      expect(deployment.metadata).toMatchObject({ name: 'web', namespace: 'shop', generation: 2 });
      expect(deployment.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
      expect(deployment.spec.template.spec).toMatchObject({
        containers: [expect.objectContaining({ image: 'web:2', imagePullPolicy: 'IfNotPresent' })],
        terminationGracePeriodSeconds: 30,
      });
      expect(deployment.status).toMatchObject({
        observedGeneration: 2,
        updatedReplicas: 3,
        availableReplicas: 3,
      });
    });

    it('throws KubernetesNotFound naming the request and the server message', async () => {
      const error = await failureOf(client.getDeployment('shop', 'api'));
      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toBe(
        'GET /apis/apps/v1/namespaces/shop/deployments/api: 404 deployments.apps "api" not found',
      );
    });

    it('throws KubernetesInvalidResponse naming the field when the answer is not a Deployment', async () => {
      sim.injectFault({
        pathIncludes: '/deployments/web',
        body: { kind: 'Deployment', metadata: { name: 'web' } },
      });
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesInvalidResponse);
      expect(error.message).toMatch(/GET .*deployments\/web answer is malformed: .*metadata\.namespace/);
    });

    it('throws KubernetesInvalidResponse when the answer is not JSON', async () => {
      sim.injectFault({ pathIncludes: '/deployments/web', body: '<html>hello</html>' });
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesInvalidResponse);
      expect(error.message).toBe(`GET ${DEPLOYMENT_PATH}: answer 200 is not JSON`);
    });
  });

  describe('listReplicaSets', () => {
    it("lists the Deployment's ReplicaSets by its selector", async () => {
      sim.addReplicaSet({
        namespace: 'shop',
        name: 'api-1',
        labels: { app: 'api' },
        image: 'api:1',
        revision: 1,
      });
      const replicaSets = await client.listReplicaSets('shop', 'app=web');
      expect(replicaSets.map((rs) => rs.spec.template.spec.containers[0]?.image).sort()).toEqual([
        'web:1',
        'web:2',
      ]);
      expect(sim.requests.at(-1)?.path).toBe(
        '/apis/apps/v1/namespaces/shop/replicasets?labelSelector=app%3Dweb&limit=500',
      );
    });

    it('sends set-based selectors the server understands', async () => {
      sim.addReplicaSet({
        namespace: 'shop',
        name: 'web-canary',
        labels: { app: 'web', track: 'canary' },
        image: 'web:c',
        revision: 1,
      });
      sim.addReplicaSet({
        namespace: 'shop',
        name: 'web-legacy',
        labels: { app: 'web', tier: 'legacy' },
        image: 'web:l',
        revision: 1,
      });
      const selector = labelSelectorToString({
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'track', operator: 'NotIn', values: ['canary', 'blue'] },
          { key: 'tier', operator: 'DoesNotExist' },
          { key: 'app', operator: 'In', values: ['web', 'www'] },
        ],
      });
      expect(selector).toBe('app=web,app in (web,www),!tier,track notin (blue,canary)');
      const names = (await client.listReplicaSets('shop', selector)).map((rs) => rs.metadata.name);
      expect(names).toHaveLength(2);
      expect(
        names.every((name) => name.startsWith('web-') && name !== 'web-canary' && name !== 'web-legacy'),
      ).toBe(true);
    });

    it('follows continue tokens across pages of 500', async () => {
      sim.reset();
      sim.addDeployment({
        namespace: 'shop',
        name: 'web',
        revisions: Array.from({ length: 520 }, (_, index) => ({ image: `web:${index + 1}` })),
        revisionHistoryLimit: 600,
      });
      const replicaSets = await client.listReplicaSets('shop', 'app=web');
      expect(replicaSets).toHaveLength(520);
      expect(new Set(replicaSets.map((rs) => rs.metadata.name)).size).toBe(520);
      const pages = sim.requests.filter((request) => request.path.includes('/replicasets'));
      expect(pages).toHaveLength(2);
      expect(pages[1]?.path).toMatch(/limit=500&continue=/);
    });

    it('returns one consistent list even when a ReplicaSet appears between pages', async () => {
      sim.reset();
      sim.addDeployment({
        namespace: 'shop',
        name: 'web',
        revisions: Array.from({ length: 501 }, (_, index) => ({ image: `web:${index + 1}` })),
        revisionHistoryLimit: 600,
      });
      const unsubscribe = sim.onRequest(({ path }) => {
        if (path.includes('continue=')) sim.deploy('shop', 'web', { image: 'web:late' });
      });
      const replicaSets = await client.listReplicaSets('shop', 'app=web');
      unsubscribe();
      expect(replicaSets).toHaveLength(501);
      expect(sim.listReplicaSets('shop')).toHaveLength(502);
    });
  });

  describe('patchDeployment', () => {
    it('applies a JSON Patch and answers the patched Deployment', async () => {
      const before = await client.getDeployment('shop', 'web');
      const patched = await client.patchDeployment('shop', 'web', [
        { op: 'test', path: '/metadata/resourceVersion', value: before.metadata.resourceVersion },
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'web:3' },
      ]);
      expect(patched.spec.template.spec.containers[0]?.image).toBe('web:3');
      expect(patched.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
      expect(sim.getDeployment('shop', 'web')?.spec.template.spec.containers[0]?.image).toBe('web:3');
    });

    it('throws KubernetesConflict when the resourceVersion test fails (422)', async () => {
      const error = await failureOf(
        client.patchDeployment('shop', 'web', [
          { op: 'test', path: '/metadata/resourceVersion', value: '1' },
          { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'web:3' },
        ]),
      );
      expect(error).toBeInstanceOf(KubernetesConflict);
      expect(error.message).toBe(
        `PATCH ${DEPLOYMENT_PATH}: 422 Testing value /metadata/resourceVersion failed`,
      );
      expect(sim.getDeployment('shop', 'web')?.spec.template.spec.containers[0]?.image).toBe('web:2');
    });

    it('throws KubernetesConflict on 409', async () => {
      sim.injectFault({ method: 'PATCH', status: 409 });
      const error = await failureOf(
        client.patchDeployment('shop', 'web', [{ op: 'add', path: '/metadata/labels/x', value: 'y' }]),
      );
      expect(error).toBeInstanceOf(KubernetesConflict);
      expect(error.message).toMatch(/^PATCH .*: 409 Operation cannot be fulfilled/);
    });

    it('throws KubernetesApiError with the status for any other 422', async () => {
      const error = await failureOf(
        client.patchDeployment('shop', 'web', [{ op: 'replace', path: '/metadata/nothing', value: 'x' }]),
      );
      expect(error).toBeInstanceOf(KubernetesApiError);
      expect((error as KubernetesApiError).status).toBe(422);
      expect(error.message).toMatch(
        /replace operation does not apply: doc is missing key: \/metadata\/nothing/,
      );
    });
  });

  describe('maps failures to named errors:', () => {
    it.each([
      [401, KubernetesForbidden],
      [403, KubernetesForbidden],
      [500, KubernetesUnavailable],
      [503, KubernetesUnavailable],
      [429, KubernetesUnavailable],
      [400, KubernetesApiError],
    ])('status %i is a %o', async (status, ErrorClass) => {
      sim.injectFault({ pathIncludes: '/deployments/web', status });
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(ErrorClass);
      expect(error.message).toMatch(new RegExp(`^GET ${DEPLOYMENT_PATH}: ${status}`));
    });

    it('an error page that is not a Status is named by its status code alone', async () => {
      sim.injectFault({
        pathIncludes: '/deployments/web',
        status: 502,
        body: '<html>502 Bad Gateway</html>',
      });
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesUnavailable);
      expect(error.message).toBe(`GET ${DEPLOYMENT_PATH}: 502`);
    });

    it('a rejected token is KubernetesForbidden and the message holds no token', async () => {
      const error = await failureOf(clientOf(sim, { cluster: 'staging-eks' }).getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toBe(`GET ${DEPLOYMENT_PATH}: 401 Unauthorized`);
    });

    it('no complete answer within the timeout is KubernetesTimeout, without waiting for the server', async () => {
      sim.injectFault({ pathIncludes: '/deployments/web', delayMs: 1000 });
      const started = performance.now();
      const error = await failureOf(clientOf(sim, { timeoutMs: 150 }).getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesTimeout);
      expect(error.message).toBe(`GET ${DEPLOYMENT_PATH}: no complete answer within 150 ms`);
      expect(performance.now() - started).toBeLessThan(900);
    });

    it('a slow answer within the timeout is just slow', async () => {
      sim.injectFault({ pathIncludes: '/deployments/web', delayMs: 100 });
      await expect(clientOf(sim, { timeoutMs: 1000 }).getDeployment('shop', 'web')).resolves.toMatchObject({
        metadata: { name: 'web' },
      });
    });

    it('a refused connection is KubernetesUnavailable', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const error = await failureOf(
        createKubernetesClient({
          endpoint: `https://127.0.0.1:${port}`,
          caData: sim.caData,
          timeoutMs: 1000,
          token: async () => 'unused',
        }).getDeployment('shop', 'web'),
      );
      expect(error).toBeInstanceOf(KubernetesUnavailable);
      expect(error.message).toMatch(/ECONNREFUSED/);
    });
  });

  it('fails plainly, as a configuration problem, when the server is not signed by the cluster CA', async () => {
    const stranger = await generate([{ name: 'commonName', value: 'not-the-cluster-ca' }], { keyType: 'ec' });
    const error = await failureOf(
      createKubernetesClient({
        endpoint: sim.endpoint,
        caData: Buffer.from(stranger.cert).toString('base64'),
        timeoutMs: 2000,
        token: async () => 'unused',
      }).getDeployment('shop', 'web'),
    );
    expect(error.name).toBe('Error');
    expect(error.message).toMatch(new RegExp(`^GET ${DEPLOYMENT_PATH}: .*certificate`));
    expect(sim.requests).toHaveLength(0);
  });

  describe('over a kept-alive connection', () => {
    it('retries a GET once when the reused connection turns out to be closed', async () => {
      await client.getDeployment('shop', 'web'); // leaves a kept-alive socket
      sim.injectFault({ pathIncludes: '/deployments/web', reset: true });
      await expect(client.getDeployment('shop', 'web')).resolves.toMatchObject({ metadata: { name: 'web' } });
      expect(sim.requests.slice(-2).map((request) => request.status)).toEqual([0, 200]);
    });

    it('does not retry a PATCH, which may have been applied', async () => {
      await client.getDeployment('shop', 'web');
      sim.injectFault({ method: 'PATCH', reset: true });
      const error = await failureOf(
        client.patchDeployment('shop', 'web', [{ op: 'add', path: '/metadata/labels/x', value: 'y' }]),
      );
      expect(error).toBeInstanceOf(KubernetesUnavailable);
      expect(sim.requests.filter((request) => request.method === 'PATCH')).toHaveLength(1);
    });
  });

  it('asks for a token on every request, so a long-lived client never sends an expired one', async () => {
    let asked = 0;
    const counting = createKubernetesClient({
      endpoint: sim.endpoint,
      caData: sim.caData,
      timeoutMs: 2000,
      token: async () => {
        asked += 1;
        return (await createEksToken({ clusterName: 'prod-eks', region: REGION, credentials: CREDENTIALS }))
          .token;
      },
    });
    await counting.getDeployment('shop', 'web');
    await counting.listReplicaSets('shop', 'app=web');
    expect(asked).toBe(2);
  });
});

describe('a connection reset on a fresh connection', () => {
  it('is KubernetesUnavailable, without a retry', async () => {
    const sim = await startKubernetesApiServer({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
    });
    try {
      sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: 'web:1' }] });
      sim.injectFault({ reset: true });
      const error = await failureOf(clientOf(sim).getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesUnavailable);
      expect(error.message).toMatch(/ECONNRESET/);
      expect(sim.requests).toHaveLength(1);
    } finally {
      await sim.close();
    }
  });
});

describe('cluster access', () => {
  const eksMock = mockClient(EKSClient);
  let prod: SimulatedKubernetesApi;
  let staging: SimulatedKubernetesApi;
  let clock: Date;
  let credentialCalls: number;

  beforeAll(async () => {
    clock = new Date();
    const start = (clusterName: string) =>
      startKubernetesApiServer({ clusterName, region: REGION, credentials: CREDENTIALS, now: () => clock });
    prod = await start('prod-eks');
    staging = await start('staging-eks');
  });
  afterAll(async () => {
    eksMock.restore();
    await Promise.all([prod.close(), staging.close()]);
  });
  beforeEach(() => {
    clock = new Date();
    credentialCalls = 0;
    eksMock.reset();
    for (const [name, sim] of [
      ['prod-eks', prod],
      ['staging-eks', staging],
    ] as const) {
      sim.reset();
      sim.addDeployment({ namespace: 'shop', name: 'web', revisions: [{ image: `${name}:1` }] });
      eksMock.on(DescribeClusterCommand, { name }).resolves({
        cluster: {
          name,
          status: 'ACTIVE',
          endpoint: sim.endpoint,
          certificateAuthority: { data: sim.caData },
        },
      });
    }
  });

  function access(
    credentials: () => Promise<{
      accessKeyId: string;
      secretAccessKey: string;
      expiration?: Date;
    }> = async () => CREDENTIALS,
    placement: NetworkPlacement = 'outside-vpc',
  ) {
    return createClusterAccess({
      eks: new EKSClient({ region: REGION }),
      region: REGION,
      credentials: async () => {
        credentialCalls += 1;
        return credentials();
      },
      timeoutMs: 2000,
      placement,
      now: () => clock,
    });
  }

  const minutes = (n: number) => new Date(clock.getTime() + n * 60_000);

  it('describes each cluster once and reaches each with its own endpoint, CA and token', async () => {
    const clusters = access();
    const [first, again, other] = await Promise.all([
      clusters.clientFor('prod-eks'),
      clusters.clientFor('prod-eks'),
      clusters.clientFor('staging-eks'),
    ]);
    expect(again).toBe(first);
    await expect(first.getDeployment('shop', 'web')).resolves.toMatchObject({
      spec: { template: { spec: { containers: [expect.objectContaining({ image: 'prod-eks:1' })] } } },
    });
    await expect(other.getDeployment('shop', 'web')).resolves.toMatchObject({
      spec: { template: { spec: { containers: [expect.objectContaining({ image: 'staging-eks:1' })] } } },
    });
    await (await clusters.clientFor('prod-eks')).listReplicaSets('shop', 'app=web');
    expect(
      eksMock
        .commandCalls(DescribeClusterCommand)
        .map((call) => call.args[0].input.name)
        .sort(),
    ).toEqual(['prod-eks', 'staging-eks']);
  });

  it('signs one token per cluster and reuses it until 14 minutes have passed', async () => {
    const client = await access().clientFor('prod-eks');
    await client.getDeployment('shop', 'web');
    clock = minutes(13.9);
    await client.getDeployment('shop', 'web');
    expect(credentialCalls).toBe(1);
    clock = minutes(0.2); // 14.1 minutes after signing
    await client.getDeployment('shop', 'web');
    expect(credentialCalls).toBe(2);
    expect(prod.authFailures).toEqual([]);
  });

  it('does not keep a token that could not be signed', async () => {
    let fail = true;
    const client = await access(async () => {
      if (fail) throw new Error('credentials provider timed out');
      return CREDENTIALS;
    }).clientFor('prod-eks');
    await expect(client.getDeployment('shop', 'web')).rejects.toThrow('credentials provider timed out');
    fail = false;
    await expect(client.getDeployment('shop', 'web')).resolves.toMatchObject({ metadata: { name: 'web' } });
    expect(credentialCalls).toBe(2);
  });

  it('signs again when the credentials expire before the token would', async () => {
    const expiration = minutes(5);
    const client = await access(async () => ({ ...CREDENTIALS, expiration })).clientFor('prod-eks');
    await client.getDeployment('shop', 'web');
    clock = minutes(4);
    await client.getDeployment('shop', 'web');
    expect(credentialCalls).toBe(1);
    clock = minutes(1.5);
    await client.getDeployment('shop', 'web');
    expect(credentialCalls).toBe(2);
  });

  it('refuses a cluster that is not ACTIVE with ClusterUnavailable naming its status', async () => {
    eksMock
      .on(DescribeClusterCommand, { name: 'prod-eks' })
      .resolves({ cluster: { name: 'prod-eks', status: 'CREATING' } });
    const error = await failureOf(access().clientFor('prod-eks'));
    expect(error).toBeInstanceOf(ClusterUnavailable);
    expect(error.message).toBe('EKS cluster prod-eks is CREATING, not ACTIVE');
  });

  it('uses a cluster that is UPDATING, whose API server keeps serving', async () => {
    eksMock.on(DescribeClusterCommand, { name: 'prod-eks' }).resolves({
      cluster: {
        name: 'prod-eks',
        status: 'UPDATING',
        endpoint: prod.endpoint,
        certificateAuthority: { data: prod.caData },
      },
    });
    const client = await access().clientFor('prod-eks');
    await expect(client.getDeployment('shop', 'web')).resolves.toMatchObject({ metadata: { name: 'web' } });
  });

  it('refuses a cluster without a certificate authority', async () => {
    eksMock
      .on(DescribeClusterCommand, { name: 'prod-eks' })
      .resolves({ cluster: { name: 'prod-eks', status: 'ACTIVE', endpoint: prod.endpoint } });
    const error = await failureOf(access().clientFor('prod-eks'));
    expect(error).toBeInstanceOf(ClusterUnavailable);
    expect(error.message).toBe('EKS cluster prod-eks (ACTIVE) has no certificate authority yet');
  });

  it('refuses an answer without a cluster', async () => {
    eksMock.on(DescribeClusterCommand, { name: 'prod-eks' }).resolves({});
    const error = await failureOf(access().clientFor('prod-eks'));
    expect(error).toBeInstanceOf(ClusterUnavailable);
    expect(error.message).toMatch(/DescribeCluster prod-eks answer is malformed: cluster/);
  });

  it('does not cache a failed DescribeCluster', async () => {
    eksMock
      .on(DescribeClusterCommand, { name: 'prod-eks' })
      .rejectsOnce(new Error('throttled'))
      .resolves({
        cluster: {
          name: 'prod-eks',
          status: 'ACTIVE',
          endpoint: prod.endpoint,
          certificateAuthority: { data: prod.caData },
        },
      });
    const clusters = access();
    await expect(clusters.clientFor('prod-eks')).rejects.toThrow('throttled');
    const client = await clusters.clientFor('prod-eks');
    await expect(client.getDeployment('shop', 'web')).resolves.toMatchObject({ metadata: { name: 'web' } });
    expect(eksMock.commandCalls(DescribeClusterCommand)).toHaveLength(2);
  });

  describe('refuses an endpoint the Lambda cannot reach, before signing a token or sending a request', () => {
    type VpcConfig = {
      endpointPublicAccess?: boolean;
      endpointPrivateAccess?: boolean;
      publicAccessCidrs?: string[];
    };
    const PRIVATE_ONLY: VpcConfig = {
      endpointPublicAccess: false,
      endpointPrivateAccess: true,
      publicAccessCidrs: ['0.0.0.0/0'],
    };

    function describeProd(resourcesVpcConfig: VpcConfig | undefined) {
      eksMock.on(DescribeClusterCommand, { name: 'prod-eks' }).resolves({
        cluster: {
          name: 'prod-eks',
          status: 'ACTIVE',
          endpoint: prod.endpoint,
          certificateAuthority: { data: prod.caData },
          ...(resourcesVpcConfig === undefined ? {} : { resourcesVpcConfig }),
        },
      });
    }

    async function refusal(placement: NetworkPlacement): Promise<Error> {
      const error = await failureOf(access(undefined, placement).clientFor('prod-eks'));
      expect(error).toBeInstanceOf(ClusterEndpointUnreachable);
      expect(error.name).toBe('ClusterEndpointUnreachable');
      expect(credentialCalls).toBe(0);
      expect(prod.requests).toHaveLength(0);
      return error;
    }

    async function reaches(placement: NetworkPlacement): Promise<void> {
      const client = await access(undefined, placement).clientFor('prod-eks');
      await expect(client.getDeployment('shop', 'web')).resolves.toMatchObject({ metadata: { name: 'web' } });
    }

    it('a private-only endpoint, from outside a VPC: names the cluster and says to set network', async () => {
      describeProd(PRIVATE_ONLY);
      const error = await refusal('outside-vpc');
      expect(error.message).toBe(
        "EKS cluster prod-eks has a private-only API endpoint, and this Lambda runs outside a VPC: set `network` in the configuration so the runbooks run in the cluster's VPC (docs/runbooks/rollback.md, Private clusters)",
      );
    });

    it('a public endpoint restricted to CIDRs, from outside a VPC: names them and says where to run instead', async () => {
      describeProd({
        endpointPublicAccess: true,
        endpointPrivateAccess: false,
        publicAccessCidrs: ['203.0.113.0/24', '198.51.100.7/32'],
      });
      const error = await refusal('outside-vpc');
      expect(error.message).toBe(
        "EKS cluster prod-eks has its public API endpoint restricted to 203.0.113.0/24, 198.51.100.7/32, and a Lambda outside a VPC has no fixed source address: set `network` in the configuration so the runbooks run in a VPC whose NAT gateway's address is in that list, or in the cluster's VPC with its private endpoint on (docs/runbooks/rollback.md, Private clusters)",
      );
    });

    it('a restricted public endpoint from outside a VPC, even with the private endpoint on too', async () => {
      describeProd({
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        publicAccessCidrs: ['203.0.113.0/24'],
      });
      const error = await refusal('outside-vpc');
      expect(error.message).toMatch(/restricted to 203\.0\.113\.0\/24, /);
    });

    it('reaches a public endpoint open to any address from outside a VPC', async () => {
      describeProd({
        endpointPublicAccess: true,
        endpointPrivateAccess: false,
        publicAccessCidrs: ['203.0.113.0/24', '0.0.0.0/0'],
      });
      await reaches('outside-vpc');
    });

    it.each<[string, VpcConfig]>([
      ['a private-only endpoint', PRIVATE_ONLY],
      [
        'a restricted public endpoint without the private one (the NAT address may be listed)',
        { endpointPublicAccess: true, endpointPrivateAccess: false, publicAccessCidrs: ['203.0.113.0/24'] },
      ],
    ])('refuses nothing from inside a VPC: %s', async (_, resourcesVpcConfig) => {
      describeProd(resourcesVpcConfig);
      await reaches('vpc');
    });

    it.each<[string, VpcConfig | undefined]>([
      ['no resourcesVpcConfig', undefined],
      ['no endpointPublicAccess', { endpointPrivateAccess: true, publicAccessCidrs: ['203.0.113.0/24'] }],
      ['no publicAccessCidrs', { endpointPublicAccess: true, endpointPrivateAccess: false }],
    ])('takes what DescribeCluster leaves out as unknown, and refuses nothing: %s', async (_, config) => {
      describeProd(config);
      await reaches('outside-vpc');
    });

    it('does not cache a refusal: the next call describes the cluster again', async () => {
      describeProd(PRIVATE_ONLY);
      const clusters = access();
      await expect(clusters.clientFor('prod-eks')).rejects.toBeInstanceOf(ClusterEndpointUnreachable);
      describeProd({
        endpointPublicAccess: true,
        endpointPrivateAccess: true,
        publicAccessCidrs: ['0.0.0.0/0'],
      });
      const client = await clusters.clientFor('prod-eks');
      await expect(client.getDeployment('shop', 'web')).resolves.toMatchObject({ metadata: { name: 'web' } });
      expect(eksMock.commandCalls(DescribeClusterCommand)).toHaveLength(2);
    });
  });

  describe('from the Lambda environment', () => {
    const env = (placement?: string) => ({
      AWS_REGION: REGION,
      ...(placement === undefined ? {} : { NETWORK_PLACEMENT: placement }),
    });

    it.each([
      [undefined, 'it is not set'],
      ['', 'got ""'],
      ['private', 'got "private"'],
    ])(
      'refuses NETWORK_PLACEMENT %j with InvalidSetting naming the variable and its values',
      (value, got) => {
        const error = (() => {
          try {
            clusterAccessFromEnvironment(env(value));
          } catch (thrown) {
            return thrown as Error;
          }
          throw new Error('expected clusterAccessFromEnvironment to throw');
        })();
        expect(error).toBeInstanceOf(InvalidSetting);
        expect(error.message).toBe(
          `NETWORK_PLACEMENT is malformed: (root): must be "vpc" or "outside-vpc", as the stack sets it; ${got}`,
        );
      },
    );

    it('passes the placement on: outside-vpc refuses a private-only endpoint, vpc reaches it', async () => {
      eksMock.on(DescribeClusterCommand, { name: 'prod-eks' }).resolves({
        cluster: {
          name: 'prod-eks',
          status: 'ACTIVE',
          endpoint: prod.endpoint,
          certificateAuthority: { data: prod.caData },
          resourcesVpcConfig: { endpointPublicAccess: false, endpointPrivateAccess: true },
        },
      });
      await expect(
        clusterAccessFromEnvironment(env('outside-vpc')).clientFor('prod-eks'),
      ).rejects.toBeInstanceOf(ClusterEndpointUnreachable);
      await expect(clusterAccessFromEnvironment(env('vpc')).clientFor('prod-eks')).resolves.toBeDefined();
    });
  });
});
