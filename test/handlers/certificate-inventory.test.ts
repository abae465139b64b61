import {
  ACMClient,
  ACMServiceException,
  type CertificateSummary,
  DescribeCertificateCommand,
  ListCertificatesCommand,
} from '@aws-sdk/client-acm';
import {
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient, ListServerCertificatesCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AcmInvalidResponse, listAcmCertificates } from '../../lambdas/aws/acm';
import { collectAwsCertificates } from '../../lambdas/certificates/inventory';

const NOW = new Date('2026-12-02T00:00:00Z');
const DAY_MS = 86_400_000;
const inDays = (days: number) => new Date(NOW.getTime() + days * DAY_MS);
const REGIONS = ['eu-west-1', 'us-east-1'] as const;
type Region = (typeof REGIONS)[number];

const acmArn = (region: string, id: string, account = '111122223333') =>
  `arn:aws:acm:${region}:${account}:certificate/${id}`;
const listenerArn = (name: string) =>
  `arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/${name}/50dc6c495c0c9188/f2f7dc8efc522ab2`;
const loadBalancerArn = (name: string) =>
  `arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/${name}/50dc6c495c0c9188`;

const summary = (
  region: string,
  id: string,
  fields: Partial<CertificateSummary> = {},
): CertificateSummary => ({
  CertificateArn: acmArn(region, id),
  DomainName: `${id}.example.com`,
  Status: 'ISSUED',
  Type: 'AMAZON_ISSUED',
  NotAfter: inDays(200),
  InUse: true,
  RenewalEligibility: 'ELIGIBLE',
  ...fields,
});

const throttled = () =>
  new ACMServiceException({
    name: 'ThrottlingException',
    $fault: 'client',
    $metadata: {},
    message: 'Rate exceeded',
  });

// One mocked client per service and region, each answering empty until a test says otherwise.
const stubs: Array<{ restore: () => void }> = [];
afterEach(() => {
  for (const stub of stubs.splice(0)) stub.restore();
});

function regionClients(region: Region) {
  const acm = new ACMClient({ region });
  const elb = new ElasticLoadBalancingV2Client({ region });
  const acmMock = mockClient(acm);
  const elbMock = mockClient(elb);
  acmMock.on(ListCertificatesCommand).resolves({ CertificateSummaryList: [] });
  elbMock.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [] });
  stubs.push(acmMock, elbMock);
  return { acm, elb, acmMock, elbMock };
}

function account() {
  const regions = {
    'eu-west-1': regionClients('eu-west-1'),
    'us-east-1': regionClients('us-east-1'),
  } satisfies Record<Region, unknown>;
  const iam = new IAMClient({ region: 'us-east-1' });
  const iamMock = mockClient(iam);
  iamMock
    .on(ListServerCertificatesCommand)
    .resolves({ ServerCertificateMetadataList: [], IsTruncated: false });
  stubs.push(iamMock);
  const collect = () =>
    collectAwsCertificates(
      {
        regions: REGIONS,
        clientsFor: (region) => {
          const clients = regions[region as Region];
          return { acm: clients.acm, elasticLoadBalancing: clients.elb };
        },
        iam,
      },
      { now: NOW },
    );
  return {
    acm: { 'eu-west-1': regions['eu-west-1'].acm },
    acmMock: { 'eu-west-1': regions['eu-west-1'].acmMock, 'us-east-1': regions['us-east-1'].acmMock },
    elbMock: { 'eu-west-1': regions['eu-west-1'].elbMock },
    iamMock,
    collect,
  };
}

describe('collectAwsCertificates', () => {
  it('lists 10,000 ACM certificates over 10 pages and describes only the 25 inside the renewal window, 10 at a time', async () => {
    const { acmMock, collect } = account();
    const all = Array.from({ length: 10_000 }, (_, index) =>
      summary('eu-west-1', `cert-${index}`, { NotAfter: inDays(index % 400 === 0 ? 30 : 200) }),
    );
    acmMock['eu-west-1'].on(ListCertificatesCommand).callsFake(({ NextToken, MaxItems }) => {
      const start = Number(NextToken ?? 0);
      const end = start + (MaxItems as number);
      return Promise.resolve({
        CertificateSummaryList: all.slice(start, end),
        ...(end < all.length && { NextToken: String(end) }),
      });
    });
    let inFlight = 0;
    let mostInFlight = 0;
    acmMock['eu-west-1'].on(DescribeCertificateCommand).callsFake(async ({ CertificateArn }) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight -= 1;
      return {
        Certificate: { CertificateArn, NotAfter: inDays(30), InUseBy: [loadBalancerArn('web')] },
      };
    });

    const { certificates, failures } = await collect();

    expect(failures).toEqual([]);
    expect(new Set(certificates.map((line) => line.id))).toEqual(
      new Set(all.map((each) => each.CertificateArn)),
    );
    expect(certificates).toHaveLength(10_000);
    const lists = acmMock['eu-west-1'].commandCalls(ListCertificatesCommand);
    expect(lists).toHaveLength(10);
    // Without every key type, ListCertificates answers RSA_2048 certificates only.
    expect(lists[0]?.args[0].input.Includes?.keyTypes).toEqual(
      expect.arrayContaining(['RSA_2048', 'RSA_4096', 'EC_prime256v1', 'EC_secp384r1']),
    );
    expect(acmMock['eu-west-1'].commandCalls(DescribeCertificateCommand)).toHaveLength(25);
    expect(mostInFlight).toBe(10);
    const described = certificates.find((line) => line.id === acmArn('eu-west-1', 'cert-400'));
    expect(described?.inUseBy).toEqual([loadBalancerArn('web')]);
    expect(described?.renewsAutomatically).toBe(true);
  });

  it('reads both regions and IAM over its pages, and joins listener certificates as inUseBy instead of new lines', async () => {
    const { acmMock, elbMock, iamMock, collect } = account();
    acmMock['eu-west-1']
      .on(ListCertificatesCommand)
      .resolves({ CertificateSummaryList: [summary('eu-west-1', 'api')] });
    acmMock['us-east-1']
      .on(ListCertificatesCommand)
      .resolves({ CertificateSummaryList: [summary('us-east-1', 'cdn')] });
    const iamArn = (name: string) => `arn:aws:iam::111122223333:server-certificate/${name}`;
    iamMock
      .on(ListServerCertificatesCommand)
      .resolvesOnce({
        ServerCertificateMetadataList: [
          {
            Path: '/',
            ServerCertificateName: 'legacy',
            ServerCertificateId: 'ASCA1',
            Arn: iamArn('legacy'),
            Expiration: inDays(40),
          },
        ],
        IsTruncated: true,
        Marker: 'next',
      })
      .resolvesOnce({
        ServerCertificateMetadataList: [
          {
            Path: '/',
            ServerCertificateName: 'older',
            ServerCertificateId: 'ASCA2',
            Arn: iamArn('older'),
            Expiration: inDays(10),
          },
        ],
        IsTruncated: false,
      });
    const elb = elbMock['eu-west-1'];
    elb
      .on(DescribeLoadBalancersCommand)
      .resolvesOnce({
        LoadBalancers: [{ LoadBalancerArn: loadBalancerArn('web'), Type: 'application' }],
        NextMarker: 'm2',
      })
      .resolvesOnce({ LoadBalancers: [{ LoadBalancerArn: loadBalancerArn('gwlb'), Type: 'gateway' }] });
    elb.on(DescribeListenersCommand).resolves({
      Listeners: [
        { ListenerArn: listenerArn('https'), Protocol: 'HTTPS' },
        { ListenerArn: listenerArn('http'), Protocol: 'HTTP' },
      ],
    });
    const foreign = acmArn('eu-west-1', 'theirs', '999988887777');
    elb
      .on(DescribeListenerCertificatesCommand)
      .resolvesOnce({
        Certificates: [{ CertificateArn: acmArn('eu-west-1', 'api'), IsDefault: true }],
        NextMarker: 'c2',
      })
      .resolvesOnce({ Certificates: [{ CertificateArn: iamArn('legacy') }, { CertificateArn: foreign }] });

    const { certificates, failures } = await collect();

    expect(failures).toEqual([]);
    const byId = new Map(certificates.map((line) => [line.id, line]));
    expect([...byId.keys()].sort()).toEqual(
      [
        acmArn('eu-west-1', 'api'),
        acmArn('us-east-1', 'cdn'),
        iamArn('legacy'),
        iamArn('older'),
        foreign,
      ].sort(),
    );
    expect(
      iamMock.commandCalls(ListServerCertificatesCommand).map((call) => call.args[0].input.Marker),
    ).toEqual([undefined, 'next']);
    expect(byId.get(acmArn('eu-west-1', 'api'))?.inUseBy).toEqual([listenerArn('https')]);
    expect(byId.get(acmArn('us-east-1', 'cdn'))?.location).toBe('us-east-1');
    expect(byId.get(iamArn('legacy'))).toMatchObject({
      source: 'iam',
      renewsAutomatically: false,
      inUseBy: [listenerArn('https')],
      notAfter: inDays(40).toISOString(),
    });
    expect(byId.get(foreign)).toMatchObject({
      source: 'load-balancer',
      inUseBy: [listenerArn('https')],
      problems: [expect.objectContaining({ code: 'unknown-certificate' })],
    });
    // The gateway load balancer has no TLS listeners; the HTTP listener carries no certificate.
    expect(
      elb.commandCalls(DescribeListenersCommand).map((call) => call.args[0].input.LoadBalancerArn),
    ).toEqual([loadBalancerArn('web')]);
    expect(
      elb.commandCalls(DescribeListenerCertificatesCommand).map((call) => call.args[0].input.Marker),
    ).toEqual([undefined, 'c2']);
  });

  it('reports a throttled region as a failure and still returns the other region, without calling its listener certificates unknown', async () => {
    const { acmMock, elbMock, collect } = account();
    acmMock['eu-west-1'].on(ListCertificatesCommand).rejects(throttled());
    acmMock['us-east-1']
      .on(ListCertificatesCommand)
      .resolves({ CertificateSummaryList: [summary('us-east-1', 'cdn')] });
    elbMock['eu-west-1']
      .on(DescribeLoadBalancersCommand)
      .resolves({ LoadBalancers: [{ LoadBalancerArn: loadBalancerArn('web'), Type: 'application' }] });
    elbMock['eu-west-1']
      .on(DescribeListenersCommand)
      .resolves({ Listeners: [{ ListenerArn: listenerArn('https'), Protocol: 'HTTPS' }] });
    elbMock['eu-west-1']
      .on(DescribeListenerCertificatesCommand)
      .resolves({ Certificates: [{ CertificateArn: acmArn('eu-west-1', 'api') }] });

    const { certificates, failures } = await collect();

    expect(failures).toEqual([
      {
        source: 'acm',
        region: 'eu-west-1',
        error: 'AcmUnavailable: ListCertificates failed: ThrottlingException',
      },
    ]);
    expect(certificates.map((line) => line.id)).toEqual([acmArn('us-east-1', 'cdn')]);
  });

  it('names the field of a malformed answer, and reports it as that region failing', async () => {
    const { acm, acmMock, collect } = account();
    acmMock['eu-west-1'].on(ListCertificatesCommand).resolves({
      CertificateSummaryList: [{ ...summary('eu-west-1', 'api'), NotAfter: 'soon' as unknown as Date }],
    });

    await expect(listAcmCertificates(acm['eu-west-1'], { region: 'eu-west-1', now: NOW })).rejects.toThrow(
      AcmInvalidResponse,
    );
    await expect(listAcmCertificates(acm['eu-west-1'], { region: 'eu-west-1', now: NOW })).rejects.toThrow(
      /CertificateSummaryList\.0\.NotAfter/,
    );
    const { failures } = await collect();
    expect(failures).toEqual([
      expect.objectContaining({
        source: 'acm',
        region: 'eu-west-1',
        error: expect.stringMatching(/^AcmInvalidResponse: /),
      }),
    ]);
  });

  it('says what to do about an imported certificate, a failed renewal and a renewal waiting for DNS validation', async () => {
    const { acmMock, collect } = account();
    const region = 'eu-west-1';
    acmMock[region].on(ListCertificatesCommand).resolves({
      CertificateSummaryList: [
        summary(region, 'imported', {
          Type: 'IMPORTED',
          RenewalEligibility: 'INELIGIBLE',
          NotAfter: inDays(20),
        }),
        summary(region, 'failed', { NotAfter: inDays(20) }),
        summary(region, 'pending', { NotAfter: inDays(20) }),
        summary(region, 'unused', { InUse: false, RenewalEligibility: 'INELIGIBLE' }),
      ],
    });
    acmMock[region].on(DescribeCertificateCommand, { CertificateArn: acmArn(region, 'imported') }).resolves({
      Certificate: { CertificateArn: acmArn(region, 'imported'), NotAfter: inDays(20), InUseBy: [] },
    });
    acmMock[region].on(DescribeCertificateCommand, { CertificateArn: acmArn(region, 'failed') }).resolves({
      Certificate: {
        CertificateArn: acmArn(region, 'failed'),
        NotAfter: inDays(20),
        RenewalSummary: {
          RenewalStatus: 'FAILED',
          RenewalStatusReason: 'CAA_ERROR',
          DomainValidationOptions: [],
          UpdatedAt: inDays(-1),
        },
      },
    });
    acmMock[region].on(DescribeCertificateCommand, { CertificateArn: acmArn(region, 'pending') }).resolves({
      Certificate: {
        CertificateArn: acmArn(region, 'pending'),
        NotAfter: inDays(20),
        RenewalSummary: {
          RenewalStatus: 'PENDING_VALIDATION',
          UpdatedAt: inDays(-1),
          DomainValidationOptions: [
            {
              DomainName: 'pending.example.com',
              ValidationStatus: 'PENDING_VALIDATION',
              ResourceRecord: {
                Name: '_x1.pending.example.com.',
                Type: 'CNAME',
                Value: '_y1.acm-validations.aws.',
              },
            },
            { DomainName: 'www.pending.example.com', ValidationStatus: 'SUCCESS' },
          ],
        },
      },
    });

    const { certificates } = await collect();

    const byName = new Map(certificates.map((line) => [line.name, line]));
    expect(byName.get('imported.example.com')).toMatchObject({
      renewsAutomatically: false,
      problems: [expect.objectContaining({ code: 'imported', text: expect.stringContaining('re-import') })],
    });
    expect(byName.get('failed.example.com')?.problems).toEqual([
      expect.objectContaining({ code: 'renewal-failed', text: expect.stringContaining('CAA_ERROR') }),
    ]);
    const pending = byName.get('pending.example.com')?.problems;
    expect(pending).toEqual([expect.objectContaining({ code: 'renewal-pending-validation' })]);
    expect(pending?.[0]?.text).toContain('_x1.pending.example.com. CNAME _y1.acm-validations.aws.');
    expect(pending?.[0]?.text).not.toContain('www.pending.example.com');
    expect(byName.get('unused.example.com')).toMatchObject({
      renewsAutomatically: false,
      problems: [expect.objectContaining({ code: 'not-in-use' })],
    });
  });
});
