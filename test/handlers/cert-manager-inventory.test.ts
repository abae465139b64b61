import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DescribeClusterCommand, EKSClient, ResourceNotFoundException } from '@aws-sdk/client-eks';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  collectCertManagerCertificates,
  type CertManagerCluster,
  type CertManagerInventory,
} from '../../lambdas/certificates/cert-manager';
import type { ObservedCertificate } from '../../lambdas/certificates/certificate';
import { classify } from '../../lambdas/certificates/classify';
import { collectedPartSchema } from '../../lambdas/certificates/parts';
import { createKubernetesClient, type KubernetesClient } from '../../lambdas/kubernetes/client';
import { ClusterUnavailable } from '../../lambdas/kubernetes/cluster-access';
import { KubernetesForbidden, KubernetesNotFound } from '../../lambdas/kubernetes/errors';
import { createEksToken } from '../../lambdas/kubernetes/token';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

const REGION = 'eu-west-1';
// The test environment's credentials (vitest.config.ts): the handler signs its EKS tokens with them.
const CREDENTIALS = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
};
const USER = 'arn:aws:sts::111122223333:assumed-role/certificate-check-cert-manager/collect';
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
// To the second, as cert-manager writes its times, so what the server stores is what the test expects back.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);
/** As cert-manager writes a time into status, and so as a problem's text quotes it. */
const written = (date: Date) => date.toISOString().replace('.000Z', 'Z');
const THRESHOLDS = { criticalDays: 7, warningDays: 30 };
const listPath = (namespace: string) =>
  `/apis/cert-manager.io/v1/namespaces/${namespace}/certificates?limit=500`;

let prod: SimulatedKubernetesApi;
let staging: SimulatedKubernetesApi;

beforeAll(async () => {
  const start = (clusterName: string) =>
    startKubernetesApiServer({ clusterName, region: REGION, credentials: CREDENTIALS, username: USER });
  [prod, staging] = await Promise.all([start('prod-eks'), start('staging-eks')]);
});
afterAll(() => Promise.all([prod.close(), staging.close()]));
beforeEach(() => {
  prod.reset();
  staging.reset();
});

/** The production client for a simulated cluster, named as ClusterAccess names it. */
function clientOf(sim: SimulatedKubernetesApi, clusterName: string, timeoutMs = 2000): KubernetesClient {
  return createKubernetesClient({
    endpoint: sim.endpoint,
    caData: sim.caData,
    clusterName,
    timeoutMs,
    token: async () =>
      (await createEksToken({ clusterName, region: REGION, credentials: CREDENTIALS })).token,
  });
}

/** An https endpoint where nothing listens: the port was free a moment ago. */
async function refusingEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `https://127.0.0.1:${port}`;
}

interface CollectOptions {
  concurrency?: number;
  timeoutMs?: number;
  /** Clients for clusters besides the two simulated ones. */
  others?: Record<string, KubernetesClient>;
}

/** Reads the clusters as the handler does; a cluster neither simulated nor in `others` is still being created. */
function collect(
  clusters: CertManagerCluster[] = [{ name: 'prod-eks', namespaces: ['shop'] }],
  { concurrency, timeoutMs, others = {} }: CollectOptions = {},
): Promise<CertManagerInventory> {
  const sims: Record<string, SimulatedKubernetesApi> = { 'prod-eks': prod, 'staging-eks': staging };
  return collectCertManagerCertificates(
    {
      clusters,
      clientFor: async (name) => {
        const sim = sims[name];
        if (sim) return clientOf(sim, name, timeoutMs);
        const other = others[name];
        if (other) return other;
        throw new ClusterUnavailable(`EKS cluster ${name} is CREATING, not ACTIVE`);
      },
    },
    { now: NOW, ...(concurrency === undefined ? {} : { concurrency }) },
  );
}

function only<T>(items: T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}

const codesOf = (line: ObservedCertificate) => line.problems.map((problem) => problem.code);

describe('collectCertManagerCertificates, against the simulated API server', () => {
  it('makes a Ready Certificate one line: the resource and its domain, its expiry, its Secret, no problems', async () => {
    prod.addCertificate({
      namespace: 'shop',
      name: 'web',
      commonName: 'www.example.com',
      dnsNames: ['www.example.com', 'example.com'],
      issuerRef: { name: 'letsencrypt-prod', kind: 'ClusterIssuer' },
      issued: { notBefore: at(-30 * DAY_MS), notAfter: at(60 * DAY_MS), renewalTime: at(30 * DAY_MS) },
    });

    const { certificates, failures } = await collect();

    expect(failures).toEqual([]);
    expect(certificates).toEqual([
      {
        source: 'cert-manager',
        id: 'prod-eks/shop/web',
        name: 'shop/web (www.example.com)',
        location: 'prod-eks',
        notAfter: at(60 * DAY_MS).toISOString(),
        renewsAutomatically: true,
        inUseBy: ['secret shop/web-tls'],
        problems: [],
      },
    ]);
    expect(classify(only(certificates), THRESHOLDS, NOW).severity).toBe('ok');
    expect(prod.requests.map((request) => request.path)).toEqual([listPath('shop')]);
  });

  it('names a Certificate by its first DNS name without a common name, and by the resource alone without either', async () => {
    prod.addCertificate({ namespace: 'shop', name: 'api', dnsNames: ['api.example.com', 'api.example.org'] });
    prod.addCertificate({ namespace: 'shop', name: 'internal', dnsNames: [], secretName: 'internal-cert' });

    const { certificates } = await collect();

    expect(certificates.map(({ name, inUseBy }) => ({ name, inUseBy }))).toEqual([
      { name: 'shop/api (api.example.com)', inUseBy: ['secret shop/api-tls'] },
      { name: 'shop/internal', inUseBy: ['secret shop/internal-cert'] },
    ]);
  });

  describe('problems', () => {
    it('not Ready: the status, the reason and the message quoted on one line, cut to 300 characters; critical', async () => {
      const message = `Issuing certificate as Secret was previously issued by "Issuer.cert-manager.io/old"\n  ${'x'.repeat(400)}`;
      prod.addCertificate({
        namespace: 'shop',
        name: 'web',
        ready: { status: 'False', reason: 'Failed', message },
      });

      const line = only((await collect()).certificates);

      const problem = only(line.problems);
      expect(problem.code).toBe('not-ready');
      expect(problem.text).toMatch(
        /^cert-manager reports it not Ready \(False, reason Failed: "Issuing certificate as Secret was previously issued by "Issuer\.cert-manager\.io\/old" x+…"\): fix what that says in the Certificate, its CertificateRequest or its ClusterIssuer letsencrypt-prod \(kubectl describe certificate -n shop web\)\.$/,
      );
      const quote = /: "(.*)"\): fix/.exec(problem.text)?.[1] ?? '';
      expect(quote).toHaveLength(300);
      expect(problem.text).not.toContain('\n');
      expect(classify(line, THRESHOLDS, NOW).severity).toBe('critical');
    });

    it('not Ready when the condition is Unknown, or when cert-manager has written none', async () => {
      prod.addCertificate({
        namespace: 'shop',
        name: 'unknown',
        ready: { status: 'Unknown', reason: 'Pending', message: '' },
      });
      prod.addCertificate({ namespace: 'shop', name: 'silent', ready: null });

      const [silent, unknown] = (await collect()).certificates;

      expect(unknown?.problems).toEqual([
        {
          code: 'not-ready',
          text: 'cert-manager reports it not Ready (Unknown, reason Pending): fix what that says in the Certificate, its CertificateRequest or its ClusterIssuer letsencrypt-prod (kubectl describe certificate -n shop unknown).',
        },
      ]);
      expect(silent?.problems).toEqual([
        {
          code: 'not-ready',
          text: 'cert-manager reports no Ready condition for it, so nothing says the Secret is kept current: check that cert-manager is running and reconciles namespace shop (kubectl describe certificate -n shop silent).',
        },
      ]);
    });

    it('past its renewal time by more than the grace: what cert-manager says of the failed issuance; critical', async () => {
      const renewalTime = at(-2 * HOUR_MS);
      const notAfter = at(10 * DAY_MS);
      prod.addCertificate({
        namespace: 'shop',
        name: 'late',
        issued: { notBefore: at(-80 * DAY_MS), notAfter, renewalTime },
        issuing: {
          status: 'False',
          reason: 'Failed',
          message: 'The certificate request has failed to complete and will be retried: 429 rateLimited',
        },
        failedIssuanceAttempts: 2,
      });

      const line = only((await collect()).certificates);

      expect(line.problems).toEqual([
        {
          code: 'past-renewal-time',
          text:
            `cert-manager should have renewed it at ${written(renewalTime)} and has not, after 2 failed issuance ` +
            'attempts (Issuing False, reason Failed: "The certificate request has failed to complete and will be ' +
            'retried: 429 rateLimited"): fix the issuance through its CertificateRequest and ClusterIssuer ' +
            `letsencrypt-prod before the current certificate expires at ${written(notAfter)} (kubectl describe ` +
            'certificate -n shop late).',
        },
      ]);
      expect(classify(line, THRESHOLDS, NOW).severity).toBe('critical');
    });

    it('not within the hour of grace after the renewal time, but just past it', async () => {
      const issued = (renewalTime: Date) => ({
        notBefore: at(-60 * DAY_MS),
        notAfter: at(30 * DAY_MS),
        renewalTime,
      });
      prod.addCertificate({
        namespace: 'shop',
        name: 'renewing',
        issued: issued(at(-59 * MINUTE_MS)),
      });
      prod.addCertificate({
        namespace: 'shop',
        name: 'stuck',
        issued: issued(at(-61 * MINUTE_MS)),
      });

      const [renewing, stuck] = (await collect()).certificates;

      expect(renewing?.problems).toEqual([]);
      expect(stuck?.problems).toEqual([
        {
          code: 'past-renewal-time',
          text: `cert-manager should have renewed it at ${written(at(-61 * MINUTE_MS))} and has not: fix the issuance through its CertificateRequest and ClusterIssuer letsencrypt-prod before the current certificate expires at ${written(at(30 * DAY_MS))} (kubectl describe certificate -n shop stuck).`,
        },
      ]);
    });

    it('never issued: no expiry, not Ready and not issued', async () => {
      prod.addCertificate({
        namespace: 'shop',
        name: 'web',
        issued: null,
        issuerRef: { name: 'internal-ca' },
      });

      const line = only((await collect()).certificates);

      expect(line).not.toHaveProperty('notAfter');
      expect(codesOf(line)).toEqual(['not-ready', 'not-issued']);
      expect(line.problems[0]?.text).toContain(
        'not Ready (False, reason DoesNotExist: "Issuing certificate as Secret does not exist")',
      );
      expect(line.problems[1]?.text).toBe(
        'cert-manager has never issued it (no status.notAfter), so Secret shop/web-tls holds no certificate from it: find what blocks the first issuance in its CertificateRequest and Issuer internal-ca (kubectl describe certificate -n shop web).',
      );
    });
  });

  it('reads 1,200 Certificates of a namespace over 3 pages of 500', async () => {
    for (let index = 0; index < 1200; index += 1) {
      prod.addCertificate({ namespace: 'shop', name: `cert-${String(index).padStart(4, '0')}` });
    }

    const { certificates, failures } = await collect();

    expect(failures).toEqual([]);
    expect(certificates).toHaveLength(1200);
    expect(new Set(certificates.map((line) => line.id)).size).toBe(1200);
    expect(certificates.every((line) => line.problems.length === 0)).toBe(true);
    const pages = prod.requests.map((request) => request.path);
    expect(pages).toHaveLength(3);
    expect(pages[0]).toBe(listPath('shop'));
    expect(pages.slice(1).every((path) => path.startsWith(`${listPath('shop')}&continue=`))).toBe(true);
  });

  it('reports a namespace the role may not read, and still reads the others', async () => {
    prod.addCertificate({ namespace: 'shop', name: 'web' });
    prod.addCertificate({ namespace: 'payments', name: 'api' });
    prod.denyAccess({ namespace: 'payments', resources: ['certificates'] });

    const { certificates, failures } = await collect([
      { name: 'prod-eks', namespaces: ['shop', 'payments'] },
    ]);

    expect(certificates.map((line) => line.id)).toEqual(['prod-eks/shop/web']);
    const failure = only(failures);
    expect(failure).toMatchObject({ source: 'cert-manager', location: 'prod-eks/payments' });
    expect(failure.error).toBe(
      `KubernetesForbidden: GET ${listPath('payments')}: 403 certificates.cert-manager.io is forbidden: User ` +
        `"${USER}" cannot list resource "certificates" in API group "cert-manager.io" in the namespace "payments". ` +
        `The role (${USER}) lacks Kubernetes RBAC that allows list on certificates.cert-manager.io in namespace ` +
        "payments of EKS cluster prod-eks: EKS access policies, AmazonEKSViewPolicy included, grant nothing in cert-manager's " +
        "API group. Give the role's access entry a Kubernetes group (aws eks update-access-entry --cluster-name " +
        'prod-eks --principal-arn <role ARN> --kubernetes-groups <group>) and bind the group to the view ' +
        'ClusterRole, which cert-manager extends to its resources, in that namespace (kubectl create rolebinding ' +
        '<name> -n payments --clusterrole=view --group=<group>).',
    );
  });

  it('reports a cluster without cert-manager once, by name, and still reads the other cluster', async () => {
    prod.addCertificate({ namespace: 'shop', name: 'web' });
    staging.setCertManagerInstalled(false);

    const { certificates, failures } = await collect([
      { name: 'prod-eks', namespaces: ['shop'] },
      { name: 'staging-eks', namespaces: ['shop', 'payments'] },
    ]);

    expect(certificates.map((line) => line.id)).toEqual(['prod-eks/shop/web']);
    expect(failures).toEqual([
      {
        source: 'cert-manager',
        location: 'staging-eks',
        error:
          `KubernetesNotFound: GET ${listPath('shop')}: 404: EKS cluster staging-eks does not serve cert-manager's ` +
          'Certificate resource (certificates.cert-manager.io, version v1): cert-manager is not installed there, ' +
          'or its release does not serve v1 (1.0 and later do). Check with kubectl get crd ' +
          'certificates.cert-manager.io against EKS cluster staging-eks, or leave the cluster out of ' +
          'certificates.certManagerClusters.',
      },
    ]);
    // Both namespaces were asked: the collapse is of the report, not of the evidence.
    expect(staging.requests.map((request) => request.status)).toEqual([404, 404]);
  });

  it('reports a cluster that does not authenticate the role once, not once per namespace', async () => {
    prod.setAccessEntry(false);

    const failure = only(
      (await collect([{ name: 'prod-eks', namespaces: ['shop', 'payments', 'search'] }])).failures,
    );

    expect(failure.location).toBe('prod-eks');
    expect(failure.error).toMatch(
      /^KubernetesUnauthorized: GET .*: 401 Unauthorized: EKS cluster prod-eks does not/,
    );
  });

  describe('a cluster out of reach', () => {
    it('whose client cannot be had (DescribeCluster, endpoint) is one failure, and the others are read', async () => {
      prod.addCertificate({ namespace: 'shop', name: 'web' });

      const { certificates, failures } = await collect([
        { name: 'new-eks', namespaces: ['shop', 'payments'] },
        { name: 'prod-eks', namespaces: ['shop'] },
      ]);

      expect(certificates.map((line) => line.id)).toEqual(['prod-eks/shop/web']);
      expect(failures).toEqual([
        {
          source: 'cert-manager',
          location: 'new-eks',
          error: 'ClusterUnavailable: EKS cluster new-eks is CREATING, not ACTIVE',
        },
      ]);
    });

    it('whose API server refuses connections fails each namespace, and the others are read', async () => {
      prod.addCertificate({ namespace: 'shop', name: 'web' });
      const gone = createKubernetesClient({
        endpoint: await refusingEndpoint(),
        caData: prod.caData,
        clusterName: 'gone-eks',
        timeoutMs: 2000,
        token: async () => 'unused',
      });

      const { certificates, failures } = await collect(
        [
          { name: 'gone-eks', namespaces: ['shop', 'payments'] },
          { name: 'prod-eks', namespaces: ['shop'] },
        ],
        { others: { 'gone-eks': gone } },
      );

      expect(certificates.map((line) => line.id)).toEqual(['prod-eks/shop/web']);
      expect(failures.map(({ location }) => location)).toEqual(['gone-eks/shop', 'gone-eks/payments']);
      for (const { error } of failures) expect(error).toMatch(/^KubernetesUnavailable: GET .*: ECONNREFUSED/);
    });

    it('that answers one namespace too slowly fails that namespace alone', async () => {
      prod.addCertificate({ namespace: 'shop', name: 'web' });
      prod.injectFault({ pathIncludes: '/namespaces/search/', delayMs: 1000 });

      const { certificates, failures } = await collect(
        [{ name: 'prod-eks', namespaces: ['search', 'shop'] }],
        {
          timeoutMs: 200,
        },
      );

      expect(certificates.map((line) => line.id)).toEqual(['prod-eks/shop/web']);
      expect(failures).toEqual([
        {
          source: 'cert-manager',
          location: 'prod-eks/search',
          error: `KubernetesTimeout: GET ${listPath('search')}: no complete answer within 200 ms`,
        },
      ]);
    });
  });

  describe('reports a malformed answer as the namespace failure, not a throw', () => {
    const certificate = (fields: Record<string, unknown>) => ({
      metadata: { name: 'bad', namespace: 'shop' },
      spec: { secretName: 'bad-tls', issuerRef: { name: 'letsencrypt-prod' } },
      ...fields,
    });
    it.each([
      [
        'a Certificate without its Secret',
        {
          kind: 'CertificateList',
          metadata: {},
          items: [{ metadata: { name: 'bad', namespace: 'shop' }, spec: {} }],
        },
        /^KubernetesInvalidResponse: GET \S+ answer is malformed: items\.0\.spec\.secretName: .*items\.0\.spec\.issuerRef: /,
      ],
      [
        'an expiry that is not a time',
        {
          kind: 'CertificateList',
          metadata: {},
          items: [certificate({ status: { notAfter: 'next tuesday' } })],
        },
        /^KubernetesInvalidResponse: GET \S+ answer is malformed: items\.0\.status\.notAfter: must be a timestamp$/,
      ],
      [
        'no items at all',
        { kind: 'Status', status: 'Success' },
        /answer is malformed: metadata: .*; items: /,
      ],
      [
        'a page that is not JSON',
        '<html>proxy error</html>',
        /^KubernetesInvalidResponse: GET \S+: answer 200 is not JSON$/,
      ],
    ])('%s', async (_, body, error) => {
      prod.addCertificate({ namespace: 'payments', name: 'api' });
      prod.injectFault({ pathIncludes: '/namespaces/shop/certificates', body });

      const inventory = await collect([{ name: 'prod-eks', namespaces: ['shop', 'payments'] }]);

      expect(inventory.certificates.map((line) => line.id)).toEqual(['prod-eks/payments/api']);
      const failure = only(inventory.failures);
      expect(failure.location).toBe('prod-eks/shop');
      expect(failure.error).toMatch(error);
    });
  });

  it('reads at most `concurrency` namespaces at once, and keeps the order of the clusters and namespaces', async () => {
    const namespaces = Array.from({ length: 10 }, (_, index) => `team-${index}`);
    for (const namespace of namespaces) prod.addCertificate({ namespace, name: 'web' });
    prod.injectFault({ pathIncludes: '/certificates', delayMs: 20, times: namespaces.length });
    let inFlight = 0;
    let mostInFlight = 0;
    const client = clientOf(prod, 'prod-eks');
    const counting: KubernetesClient = {
      ...client,
      async listCertificates(namespace) {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          return await client.listCertificates(namespace);
        } finally {
          inFlight -= 1;
        }
      },
    };

    const { certificates } = await collect([{ name: 'counted', namespaces: [...namespaces, 'team-0'] }], {
      concurrency: 3,
      others: { counted: counting },
    });

    expect(mostInFlight).toBe(3);
    // A namespace given twice is read once.
    expect(certificates.map((line) => line.id)).toEqual(
      namespaces.map((namespace) => `counted/${namespace}/web`),
    );
  });

  it('refuses a concurrency that would read nothing', async () => {
    await expect(collect(undefined, { concurrency: 0 })).rejects.toThrow(RangeError);
  });
});

describe('KubernetesClient.listCertificates', () => {
  it('is a KubernetesNotFound when the cluster does not serve the type, and a KubernetesForbidden when denied', async () => {
    const client = clientOf(prod, 'prod-eks');
    prod.setCertManagerInstalled(false);
    await expect(client.listCertificates('shop')).rejects.toBeInstanceOf(KubernetesNotFound);
    prod.setCertManagerInstalled(true);
    prod.denyAccess({ resources: ['certificates'], verbs: ['list'] });
    await expect(client.listCertificates('shop')).rejects.toBeInstanceOf(KubernetesForbidden);
  });
});

describe('the collect-cert-manager handler', () => {
  const eksMock = mockClient(EKSClient);
  const s3Mock = mockClient(S3Client);
  const execution = {
    id: 'arn:aws:states:eu-west-1:111122223333:execution:certificate-check:run-1',
    name: 'run-1',
    startTime: '2026-12-02T06:00:00Z',
  };
  const KEY = 'certificate-check/runs/run-1/cert-manager.json';

  /** A fresh handler module, as at a cold start, with these clusters in its environment. */
  async function coldStart(clusters: unknown, env: Record<string, string> = {}) {
    vi.resetModules();
    vi.stubEnv('REPORT_BUCKET', 'reports-bucket');
    vi.stubEnv('NETWORK_PLACEMENT', 'outside-vpc');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    vi.stubEnv('CERT_MANAGER_CLUSTERS', typeof clusters === 'string' ? clusters : JSON.stringify(clusters));
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    return import('../../lambdas/certificates/handlers/collect-cert-manager');
  }

  /** What the handler wrote, parsed as the report step parses it. */
  function writtenPart() {
    const call = only(s3Mock.commandCalls(PutObjectCommand));
    const { Bucket, Key, Body, ContentType } = call.args[0].input;
    return { Bucket, Key, ContentType, part: collectedPartSchema.parse(JSON.parse(String(Body))) };
  }

  async function failureOf(promise: Promise<unknown>): Promise<Error> {
    const outcome = await promise.then(
      () => undefined,
      (error: unknown) => error,
    );
    if (!(outcome instanceof Error)) throw new Error('expected a rejection with an Error');
    return outcome;
  }

  beforeEach(() => {
    eksMock.reset();
    s3Mock.reset();
    s3Mock.on(PutObjectCommand).resolves({});
    for (const [name, sim] of [
      ['prod-eks', prod],
      ['staging-eks', staging],
    ] as const) {
      eksMock.on(DescribeClusterCommand, { name }).resolves({
        cluster: {
          name,
          status: 'ACTIVE',
          endpoint: sim.endpoint,
          certificateAuthority: { data: sim.caData },
        },
      });
    }
    eksMock
      .on(DescribeClusterCommand, { name: 'gone-eks' })
      .rejects(
        new ResourceNotFoundException({ message: 'No cluster found for name: gone-eks.', $metadata: {} }),
      );
  });
  afterEach(() => vi.unstubAllEnvs());
  afterAll(() => {
    eksMock.restore();
    s3Mock.restore();
  });

  it('writes the part where the report step reads it and returns where, with the counts', async () => {
    prod.addCertificate({ namespace: 'shop', name: 'web' });
    prod.addCertificate({ namespace: 'payments', name: 'api', issued: null });
    staging.setCertManagerInstalled(false);
    const { handler } = await coldStart([
      { name: 'prod-eks', namespaces: ['shop', 'payments'] },
      { name: 'staging-eks', namespaces: ['shop'] },
    ]);

    const summary = await handler({ execution });

    expect(summary).toEqual({
      part: 'cert-manager',
      bucket: 'reports-bucket',
      key: KEY,
      certificates: 2,
      failures: 1,
    });
    const { Bucket, Key, ContentType, part } = writtenPart();
    expect({ Bucket, Key, ContentType }).toEqual({
      Bucket: 'reports-bucket',
      Key: KEY,
      ContentType: 'application/json',
    });
    expect(part.part).toBe('cert-manager');
    expect(Date.parse(part.collectedAt)).not.toBeNaN();
    expect(part.certificates.map((line) => [line.id, line.problems.map((problem) => problem.code)])).toEqual([
      ['prod-eks/shop/web', []],
      ['prod-eks/payments/api', ['not-ready', 'not-issued']],
    ]);
    expect(part.failures).toEqual([
      expect.objectContaining({
        location: 'staging-eks',
        error: expect.stringMatching(/^KubernetesNotFound: /),
      }),
    ]);
    // It reached the clusters as the deployed function does: DescribeCluster, then a signed token each.
    expect(
      eksMock
        .commandCalls(DescribeClusterCommand)
        .map((call) => call.args[0].input.name)
        .sort(),
    ).toEqual(['prod-eks', 'staging-eks']);
    expect(prod.authFailures).toEqual([]);
  });

  it('reports a cluster EKS does not know inside the part, and does not throw', async () => {
    prod.addCertificate({ namespace: 'shop', name: 'web' });
    const { handler } = await coldStart([
      { name: 'gone-eks', namespaces: ['shop'] },
      { name: 'prod-eks', namespaces: ['shop'] },
    ]);

    await expect(handler({ execution })).resolves.toMatchObject({ certificates: 1, failures: 1 });
    expect(writtenPart().part.failures).toEqual([
      {
        source: 'cert-manager',
        location: 'gone-eks',
        error: 'ResourceNotFoundException: No cluster found for name: gone-eks.',
      },
    ]);
  });

  it('writes an empty part when no cluster is configured, asking EKS nothing', async () => {
    const { handler } = await coldStart([]);

    await expect(handler({ execution })).resolves.toEqual({
      part: 'cert-manager',
      bucket: 'reports-bucket',
      key: KEY,
      certificates: 0,
      failures: 0,
    });
    expect(writtenPart().part).toMatchObject({ certificates: [], failures: [] });
    expect(eksMock.commandCalls(DescribeClusterCommand)).toHaveLength(0);
  });

  it('refuses an input without the execution as InvalidInput, writing nothing', async () => {
    const { handler } = await coldStart([{ name: 'prod-eks', namespaces: ['shop'] }]);

    const error = await failureOf(handler({ execution: { id: 'x' } }));

    expect(error.name).toBe('InvalidInput');
    expect(error.message).toMatch(
      /^The collect-cert-manager input is malformed: execution\.name: .*execution\.startTime: /,
    );
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(prod.requests).toHaveLength(0);
  });

  it.each([
    ['not JSON', '[{name: prod-eks}]', /^environment variable CERT_MANAGER_CLUSTERS is not JSON: /],
    [
      'a cluster without namespaces',
      [{ name: 'prod-eks' }],
      /^environment variable CERT_MANAGER_CLUSTERS is malformed: 0\.namespaces: /,
    ],
    [
      'a cluster without a name',
      [{ name: '', namespaces: ['shop'] }],
      /CERT_MANAGER_CLUSTERS is malformed: 0\.name: /,
    ],
  ])(
    'fails its cold start with InvalidSetting for CERT_MANAGER_CLUSTERS %s',
    async (_, clusters, message) => {
      const error = await failureOf(coldStart(clusters));

      expect(error.name).toBe('InvalidSetting');
      expect(error.message).toMatch(message);
    },
  );

  it('fails its cold start with InvalidSetting without REPORT_BUCKET', async () => {
    const error = await failureOf(coldStart([], { REPORT_BUCKET: '' }));

    expect(error.name).toBe('InvalidSetting');
    expect(error.message).toBe('environment variable REPORT_BUCKET is not set');
  });

  it('throws S3Unavailable when S3 does not take the part, for the workflow to retry', async () => {
    s3Mock.on(PutObjectCommand).rejects(
      new S3ServiceException({
        name: 'SlowDown',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
        message: 'Please reduce your request rate.',
      }),
    );
    const { handler } = await coldStart([{ name: 'prod-eks', namespaces: ['shop'] }]);

    const error = await failureOf(handler({ execution }));

    expect(error.name).toBe('S3Unavailable');
    expect(error.message).toBe(`PutObject s3://reports-bucket/${KEY} failed: SlowDown`);
  });
});
