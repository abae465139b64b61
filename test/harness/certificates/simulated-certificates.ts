import {
  ACMClient,
  ACMServiceException,
  type CertificateDetail,
  DescribeCertificateCommand,
  ListCertificatesCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-acm';
import {
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient, ListServerCertificatesCommand } from '@aws-sdk/client-iam';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { ACCOUNT } from '../simulated-account';
import { SimulatedBuckets, type SimulatedObject } from '../simulated-buckets';

// ACM (per region), IAM server certificates, load balancer listeners (per region) and the report bucket (the
// shared SimulatedBuckets), as the certificate check's handlers call them through the SDK: pagination with
// the services' own page sizes and tokens, their error names and faults (throttling, 5xx), one answer per
// call. In-process mocks of the SDK clients' `send`, so the SDK's own retries do not run: a throttled call
// reaches the adapter as the SDK would surface it after its retries.

export type { SimulatedObject };

export const DAY_MS = 86_400_000;

export interface SimulatedAcmCertificate {
  id: string;
  domainName: string;
  status?: string;
  type?: 'AMAZON_ISSUED' | 'IMPORTED' | 'PRIVATE';
  /** Days from now (the virtual clock at the time of the call). */
  expiresInDays?: number;
  inUseBy?: string[];
  renewalEligibility?: 'ELIGIBLE' | 'INELIGIBLE';
  renewal?: { status: 'PENDING_AUTO_RENEWAL' | 'PENDING_VALIDATION' | 'SUCCESS' | 'FAILED'; reason?: string };
}

export interface SimulatedListener {
  loadBalancer: string;
  listener: string;
  certificateArns: string[];
}

export interface CertificateFault {
  service: 'acm' | 'iam' | 'elasticloadbalancing' | 's3';
  operation: string;
  /** Only calls to this region; any when omitted. */
  region?: string;
  name: 'ThrottlingException' | 'Throttling' | 'InternalFailure' | 'SlowDown' | 'ServiceUnavailable';
  /** Faulty answers left; Infinity for always. */
  times: number;
}

export const acmArn = (region: string, id: string): string =>
  `arn:aws:acm:${region}:${ACCOUNT}:certificate/${id}`;

const PAGE_ACM = 1_000;
const PAGE_IAM = 100;
const PAGE_ELB = 400;

type ServiceName = CertificateFault['service'];

function serverFault(service: ServiceName, name: string): Error {
  const metadata = {
    $metadata: { httpStatusCode: name.includes('Throttl') || name === 'SlowDown' ? 400 : 500 },
  };
  const fault =
    name === 'InternalFailure' || name === 'ServiceUnavailable' || name === 'SlowDown' ? 'server' : 'client';
  const options = {
    name,
    $fault: fault as 'server' | 'client',
    message: `${name} (simulated ${service})`,
    ...metadata,
  };
  return service === 's3' ? new S3ServiceException(options) : new ACMServiceException(options);
}

/** Region of the client a mocked call was made on. */
async function regionOf(getClient: () => { config: { region: () => Promise<string> } }): Promise<string> {
  return getClient().config.region();
}

export class SimulatedCertificates {
  readonly acm = new Map<string, SimulatedAcmCertificate[]>();
  readonly iam: Array<{ name: string; expiresInDays: number }> = [];
  readonly listeners = new Map<string, SimulatedListener[]>();
  readonly faults: CertificateFault[] = [];
  /** Every call: service, operation, region. */
  readonly calls: Array<{ service: ServiceName; operation: string; region: string }> = [];
  private readonly mocks: Array<{ restore: () => void }> = [];
  /** The report bucket; its calls are recorded (and faulted) here as service `s3`. */
  private readonly s3: SimulatedBuckets;

  constructor(buckets: string[]) {
    this.s3 = new SimulatedBuckets(buckets, {
      beforeCall: (operation) => this.record('s3', operation, 'any'),
    });
    this.mocks.push(this.s3);
    this.install();
  }

  reset(): void {
    this.acm.clear();
    this.iam.length = 0;
    this.listeners.clear();
    this.s3.reset();
    this.faults.length = 0;
    this.calls.length = 0;
  }

  restore(): void {
    for (const mock of this.mocks.splice(0)) mock.restore();
  }

  /** The certificates of a region, created on first use. */
  acmIn(region: string): SimulatedAcmCertificate[] {
    let list = this.acm.get(region);
    if (!list) {
      list = [];
      this.acm.set(region, list);
    }
    return list;
  }

  listenersIn(region: string): SimulatedListener[] {
    let list = this.listeners.get(region);
    if (!list) {
      list = [];
      this.listeners.set(region, list);
    }
    return list;
  }

  objects(bucket: string): Map<string, SimulatedObject> {
    return this.s3.objects(bucket);
  }

  callsTo(service: ServiceName, operation: string, region?: string): number {
    return this.calls.filter(
      (call) =>
        call.service === service &&
        call.operation === operation &&
        (region === undefined || call.region === region),
    ).length;
  }

  private record(service: ServiceName, operation: string, region: string): void {
    this.calls.push({ service, operation, region });
    const fault = this.faults.find(
      (candidate) =>
        candidate.service === service &&
        candidate.operation === operation &&
        (candidate.region === undefined || candidate.region === region) &&
        candidate.times > 0,
    );
    if (fault) {
      fault.times -= 1;
      throw serverFault(service, fault.name);
    }
  }

  private install(): void {
    const acm = mockClient(ACMClient);
    const iam = mockClient(IAMClient);
    const elb = mockClient(ElasticLoadBalancingV2Client);
    this.mocks.push(acm, iam, elb);

    acm.on(ListCertificatesCommand).callsFake(async (input, getClient) => {
      const region = await regionOf(getClient);
      this.record('acm', 'ListCertificates', region);
      const all = this.acmIn(region);
      const start = Number(input.NextToken ?? 0);
      const size = Math.min(input.MaxItems ?? PAGE_ACM, PAGE_ACM);
      const page = all.slice(start, start + size);
      return {
        CertificateSummaryList: page.map((certificate) => ({
          CertificateArn: acmArn(region, certificate.id),
          DomainName: certificate.domainName,
          Status: certificate.status ?? 'ISSUED',
          Type: certificate.type ?? 'AMAZON_ISSUED',
          ...(certificate.expiresInDays !== undefined && { NotAfter: this.date(certificate.expiresInDays) }),
          InUse: (certificate.inUseBy ?? []).length > 0,
          RenewalEligibility:
            certificate.renewalEligibility ?? (certificate.type === 'IMPORTED' ? 'INELIGIBLE' : 'ELIGIBLE'),
        })),
        ...(start + size < all.length && { NextToken: String(start + size) }),
      };
    });
    acm.on(DescribeCertificateCommand).callsFake(async (input, getClient) => {
      const region = await regionOf(getClient);
      this.record('acm', 'DescribeCertificate', region);
      const certificate = this.acmIn(region).find(
        (candidate) => acmArn(region, candidate.id) === input.CertificateArn,
      );
      if (!certificate) {
        throw new ResourceNotFoundException({
          message: `Could not find certificate ${input.CertificateArn}.`,
          $metadata: { httpStatusCode: 400 },
        });
      }
      const detail: CertificateDetail = {
        CertificateArn: input.CertificateArn,
        DomainName: certificate.domainName,
        Status: (certificate.status ?? 'ISSUED') as CertificateDetail['Status'],
        Type: certificate.type ?? 'AMAZON_ISSUED',
        RenewalEligibility:
          certificate.renewalEligibility ?? (certificate.type === 'IMPORTED' ? 'INELIGIBLE' : 'ELIGIBLE'),
        ...(certificate.expiresInDays !== undefined && { NotAfter: this.date(certificate.expiresInDays) }),
        InUseBy: certificate.inUseBy ?? [],
        ...(certificate.renewal && {
          RenewalSummary: {
            RenewalStatus: certificate.renewal.status,
            ...(certificate.renewal.reason !== undefined && {
              RenewalStatusReason: certificate.renewal.reason as NonNullable<
                CertificateDetail['RenewalSummary']
              >['RenewalStatusReason'],
            }),
            DomainValidationOptions: [
              {
                DomainName: certificate.domainName,
                ValidationStatus:
                  certificate.renewal.status === 'PENDING_VALIDATION' ? 'PENDING_VALIDATION' : 'SUCCESS',
                ResourceRecord: {
                  Name: `_x1.${certificate.domainName}.`,
                  Type: 'CNAME',
                  Value: '_x2.acm-validations.aws.',
                },
              },
            ],
            UpdatedAt: new Date(),
          },
        }),
      };
      return { Certificate: detail };
    });

    iam.on(ListServerCertificatesCommand).callsFake(async (input) => {
      this.record('iam', 'ListServerCertificates', 'global');
      const start = Number(input.Marker ?? 0);
      const size = Math.min(input.MaxItems ?? PAGE_IAM, 1_000);
      const page = this.iam.slice(start, start + size);
      const truncated = start + size < this.iam.length;
      return {
        ServerCertificateMetadataList: page.map((certificate) => ({
          Path: '/',
          ServerCertificateName: certificate.name,
          ServerCertificateId: `ASCA${certificate.name.toUpperCase().replace(/[^A-Z0-9]/g, '')}`,
          Arn: `arn:aws:iam::${ACCOUNT}:server-certificate/${certificate.name}`,
          Expiration: this.date(certificate.expiresInDays),
        })),
        IsTruncated: truncated,
        ...(truncated && { Marker: String(start + size) }),
      };
    });

    const loadBalancerArn = (region: string, name: string) =>
      `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:loadbalancer/app/${name}/50dc6c495c0c9188`;
    const listenerArn = (region: string, name: string, listener: string) =>
      `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:listener/app/${name}/50dc6c495c0c9188/${listener}`;
    elb.on(DescribeLoadBalancersCommand).callsFake(async (input, getClient) => {
      const region = await regionOf(getClient);
      this.record('elasticloadbalancing', 'DescribeLoadBalancers', region);
      const names = [...new Set(this.listenersIn(region).map((listener) => listener.loadBalancer))];
      const start = Number(input.Marker ?? 0);
      const size = Math.min(input.PageSize ?? PAGE_ELB, PAGE_ELB);
      return {
        LoadBalancers: names.slice(start, start + size).map((name) => ({
          LoadBalancerArn: loadBalancerArn(region, name),
          LoadBalancerName: name,
          Type: 'application',
        })),
        ...(start + size < names.length && { NextMarker: String(start + size) }),
      };
    });
    elb.on(DescribeListenersCommand).callsFake(async (input, getClient) => {
      const region = await regionOf(getClient);
      this.record('elasticloadbalancing', 'DescribeListeners', region);
      const listeners = this.listenersIn(region).filter(
        (listener) => loadBalancerArn(region, listener.loadBalancer) === input.LoadBalancerArn,
      );
      return {
        Listeners: listeners.map((listener) => ({
          ListenerArn: listenerArn(region, listener.loadBalancer, listener.listener),
          Protocol: 'HTTPS',
          Port: 443,
        })),
      };
    });
    elb.on(DescribeListenerCertificatesCommand).callsFake(async (input, getClient) => {
      const region = await regionOf(getClient);
      this.record('elasticloadbalancing', 'DescribeListenerCertificates', region);
      const listener = this.listenersIn(region).find(
        (candidate) => listenerArn(region, candidate.loadBalancer, candidate.listener) === input.ListenerArn,
      );
      return {
        Certificates: (listener?.certificateArns ?? []).map((arn, index) => ({
          CertificateArn: arn,
          IsDefault: index === 0,
        })),
      };
    });
  }

  /** Days from now on the rehearsal's clock. */
  private date(days: number): Date {
    return new Date(Date.now() + days * DAY_MS);
  }
}
