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
  KubernetesTlsMismatch,
  KubernetesUnauthorized,
  KubernetesUnavailable,
  UnsupportedPartition,
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
      [401, KubernetesUnauthorized],
      [403, KubernetesForbidden],
      [500, KubernetesUnavailable],
      [502, KubernetesUnavailable],
      [503, KubernetesUnavailable],
      [504, KubernetesUnavailable],
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

    it('a 5xx names the status and the request, with the server message', async () => {
      sim.injectFault({ pathIncludes: '/deployments/web', status: 504 });
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesUnavailable);
      expect(error.message).toBe(
        `GET ${DEPLOYMENT_PATH}: 504 the server is currently unable to handle the request`,
      );
    });

    it('a rejected token is KubernetesUnauthorized, says what to check and holds no token', async () => {
      const error = await failureOf(clientOf(sim, { cluster: 'staging-eks' }).getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesUnauthorized);
      // This client has no renewToken, so the first 401 is final.
      expect(sim.requests.map((request) => request.status)).toEqual([401]);
      expect(error.message).toBe(
        `GET ${DEPLOYMENT_PATH}: 401 Unauthorized: the cluster at ${sim.endpoint} does not authenticate this ` +
          "Lambda's role. Its EKS access entry may be missing (aws eks list-access-entries --cluster-name " +
          "<cluster>), the cluster's authentication mode may be CONFIG_MAP only, which ignores access entries " +
          "(aws eks describe-cluster --name <cluster> --query cluster.accessConfig), or the Lambda's clock may " +
          'be skewed (EKS accepts a token for 15 minutes from its signing time).',
      );
      expect(error.message).not.toContain('k8s-aws-v1');
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

  describe("refuses a server whose certificate does not verify against the cluster's CA, sending nothing", () => {
    it.each([
      [
        'a certificate from another CA, as a TLS-intercepting proxy presents',
        'foreign-ca',
        'is not signed by the CA DescribeCluster returned (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate)',
      ],
      [
        "the cluster CA's certificate for another host",
        'wrong-host',
        "is signed by the CA DescribeCluster returned but not issued for 127.0.0.1 (ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames",
      ],
    ] as const)('%s', async (_, certificate, says) => {
      await client.getDeployment('shop', 'web'); // a kept-alive connection, verified before the change
      sim.requests.length = 0;
      await sim.presentCertificate(certificate);
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesTlsMismatch);
      expect(error.message).toContain(
        `GET ${DEPLOYMENT_PATH}: the certificate of the API server at ${sim.endpoint} ${says}`,
      );
      expect(error.message).toMatch(
        /A proxy that intercepts TLS is in the way, or the endpoint is not the cluster's\. The handshake failed, so the request was not sent and changed nothing\.$/,
      );
      expect(sim.requests).toHaveLength(0);
    });

    it('a CA other than the one the server was issued by', async () => {
      const stranger = await generate([{ name: 'commonName', value: 'not-the-cluster-ca' }], {
        keyType: 'ec',
      });
      const error = await failureOf(
        createKubernetesClient({
          endpoint: sim.endpoint,
          caData: Buffer.from(stranger.cert).toString('base64'),
          timeoutMs: 2000,
          token: async () => 'unused',
        }).getDeployment('shop', 'web'),
      );
      expect(error).toBeInstanceOf(KubernetesTlsMismatch);
      expect(error.message).toContain('is not signed by the CA DescribeCluster returned');
      expect(sim.requests).toHaveLength(0);
    });
  });

  describe('a 403 names what the access entry lacks', () => {
    const USER = 'arn:aws:sts::111122223333:assumed-role/platform-runbooks-kubernetes/runbook';
    const EDIT = [{ op: 'add' as const, path: '/metadata/labels/x', value: 'y' }];

    it('a PATCH the access policy does not allow: the role, the verb, AmazonEKSEditPolicy, the namespace', async () => {
      sim.denyAccess({ verbs: ['patch'], namespace: 'shop' });
      await expect(client.getDeployment('shop', 'web')).resolves.toBeDefined();
      const error = await failureOf(client.patchDeployment('shop', 'web', EDIT));
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toBe(
        `PATCH ${DEPLOYMENT_PATH}: 403 deployments.apps "web" is forbidden: User "${USER}" cannot patch resource ` +
          `"deployments" in API group "apps" in the namespace "shop". The role (${USER}) lacks an EKS access ` +
          `entry or access policy that allows patch on deployments in namespace shop of the cluster at ` +
          `${sim.endpoint}: its access entry needs AmazonEKSEditPolicy (the undo patches the Deployment), ` +
          'associated with a namespace scope that includes shop (aws eks list-associated-access-policies ' +
          '--cluster-name <cluster> --principal-arn <role ARN>).',
      );
      expect(sim.getDeployment('shop', 'web')?.metadata.labels?.x).toBeUndefined();
    });

    it('a read: AmazonEKSViewPolicy, for the list the request was', async () => {
      sim.denyAccess({ namespace: 'shop' });
      const error = await failureOf(client.listReplicaSets('shop', 'app=web'));
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toContain(
        `403 replicasets.apps is forbidden: User "${USER}" cannot list resource "replicasets"`,
      );
      expect(error.message).toContain(
        'allows list on replicasets in namespace shop of the cluster at ' +
          `${sim.endpoint}: its access entry needs AmazonEKSViewPolicy to read (AmazonEKSEditPolicy, which the ` +
          'undo needs, includes it)',
      );
    });

    it('leaves the role unnamed when the answer does not name it', async () => {
      sim.injectFault({ status: 403, body: '<html>403 Forbidden</html>' });
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toMatch(
        new RegExp(
          `^GET ${DEPLOYMENT_PATH}: 403\\. The role lacks an EKS access entry or access policy that allows get on deployments`,
        ),
      );
    });

    it('quotes at most 500 characters of the Status message', async () => {
      sim.injectFault({ status: 403, message: `forbidden: ${'x'.repeat(2000)}` });
      const error = await failureOf(client.getDeployment('shop', 'web'));
      expect(error.message).toContain(`forbidden: ${'x'.repeat(488)}…. The role lacks`);
      expect(error.message).not.toContain('x'.repeat(489));
    });
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

  describe('a token the cluster refuses (401)', () => {
    const statuses = () => prod.requests.map((request) => `${request.method} ${request.status}`);

    it('is dropped: a new one is signed and the request sent once more', async () => {
      const client = await access().clientFor('prod-eks');
      await client.getDeployment('shop', 'web');
      prod.injectFault({ status: 401 });
      await expect(client.getDeployment('shop', 'web')).resolves.toMatchObject({ metadata: { name: 'web' } });
      expect(statuses()).toEqual(['GET 200', 'GET 401', 'GET 200']);
      expect(credentialCalls).toBe(2);
      // The new token is the cached one from now on.
      await client.getDeployment('shop', 'web');
      expect(credentialCalls).toBe(2);
    });

    it('is renewed for a PATCH too, which a 401 never applied: the change is made once', async () => {
      const client = await access().clientFor('prod-eks');
      prod.injectFault({ method: 'PATCH', status: 401 });
      const patched = await client.patchDeployment('shop', 'web', [
        { op: 'add', path: '/metadata/labels/renewed', value: 'yes' },
      ]);
      expect(patched.metadata.labels?.renewed).toBe('yes');
      expect(statuses()).toEqual(['PATCH 401', 'PATCH 200']);
    });

    it('is renewed once for requests refused together', async () => {
      const client = await access().clientFor('prod-eks');
      await client.getDeployment('shop', 'web');
      // Signed a minute later, the new token differs from the refused one (one signed in the same second would not).
      clock = minutes(1);
      prod.injectFault({ pathIncludes: '/deployments/', status: 401 });
      prod.injectFault({ pathIncludes: '/replicasets', status: 401 });
      await Promise.all([client.getDeployment('shop', 'web'), client.listReplicaSets('shop', 'app=web')]);
      expect(statuses().sort()).toEqual(['GET 200', 'GET 200', 'GET 200', 'GET 401', 'GET 401']);
      expect(credentialCalls).toBe(2);
    });

    it('refused again is KubernetesUnauthorized, naming the cluster and what to check, never the token', async () => {
      prod.setAccessEntry(false);
      const error = await failureOf((await access().clientFor('prod-eks')).getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(KubernetesUnauthorized);
      expect(error.message).toBe(
        'GET /apis/apps/v1/namespaces/shop/deployments/web: 401 Unauthorized, again with a newly signed token: ' +
          "EKS cluster prod-eks does not authenticate this Lambda's role. Its EKS access entry may be missing " +
          "(aws eks list-access-entries --cluster-name prod-eks), the cluster's authentication mode may be " +
          'CONFIG_MAP only, which ignores access entries (aws eks describe-cluster --name prod-eks --query ' +
          "cluster.accessConfig), or the Lambda's clock may be skewed (EKS accepts a token for 15 minutes from " +
          'its signing time).',
      );
      expect(statuses()).toEqual(['GET 401', 'GET 401']);
      expect(prod.authFailures).toEqual(['the role has no access entry', 'the role has no access entry']);
      expect(credentialCalls).toBe(2);
    });
  });

  it("names the cluster when its API server's certificate is not signed by the CA DescribeCluster returned", async () => {
    await prod.presentCertificate('foreign-ca');
    const error = await failureOf((await access().clientFor('prod-eks')).getDeployment('shop', 'web'));
    expect(error).toBeInstanceOf(KubernetesTlsMismatch);
    expect(error.message).toContain(
      `the certificate of the API server at ${prod.endpoint} is not signed by the CA DescribeCluster returned for EKS cluster prod-eks (`,
    );
    expect(prod.requests).toHaveLength(0);
  });

  it.each(['us-iso-east-1', 'us-isob-east-1', 'eu-isoe-west-1'])(
    'in %s, a partition the token does not support, refuses by name before sending anything',
    async (region) => {
      const clusters = createClusterAccess({
        eks: new EKSClient({ region: REGION }),
        region,
        credentials: async () => CREDENTIALS,
        timeoutMs: 2000,
        placement: 'outside-vpc',
      });
      const error = await failureOf((await clusters.clientFor('prod-eks')).getDeployment('shop', 'web'));
      expect(error).toBeInstanceOf(UnsupportedPartition);
      expect(error.message).toMatch(
        new RegExp(`^Region ${region} is not in a partition the EKS token supports`),
      );
      expect(prod.requests).toHaveLength(0);
    },
  );

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
