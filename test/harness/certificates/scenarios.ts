import { certificateFunctions } from '../../../lambdas/certificates/functions';
import type { RunbooksConfig } from '../../../lib/config/schema';
import type { Rehearsal, Scenario } from '../rehearsal';
import { ACCOUNT, REGION } from '../simulated-account';
import { certificatesOf } from './peers';
import { acmArn, type SimulatedCertificates } from './simulated-certificates';

type CertificateScenario = Scenario<RunbooksConfig>;

/** What the schedule sends. */
export const SCHEDULED = { trigger: 'schedule' };

/** An ACM event as EventBridge delivers it (ACM user guide, "Amazon EventBridge support for ACM"). */
export function acmEvent(
  detailType: string,
  certificateId: string,
  { region = REGION, daysToExpiry = 0, account = ACCOUNT } = {},
): Record<string, unknown> {
  return {
    version: '0',
    id: `acm-event-${certificateId}-${detailType.length}`,
    'detail-type': detailType,
    source: 'aws.acm',
    account,
    time: new Date().toISOString(),
    region,
    resources: [acmArn(region, certificateId)],
    detail: { DaysToExpiry: daysToExpiry, CommonName: `${certificateId}.example.com` },
  };
}

/** The account of the daily check: a certificate of each kind of trouble, in three regions and IAM. */
export function arrangeAccount(certificates: SimulatedCertificates): void {
  const shop = 'shop-0001';
  certificates.acmIn(REGION).push(
    {
      id: shop,
      domainName: 'shop.example.com',
      expiresInDays: 200,
      inUseBy: [`arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/shop/50dc6c495c0c9188`],
    },
    {
      id: 'api-0002',
      domainName: 'api.example.com',
      expiresInDays: 5,
      inUseBy: [`arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/api/50dc6c495c0c9188`],
      renewal: { status: 'PENDING_VALIDATION' },
    },
    {
      id: 'partner-0003',
      domainName: 'partner.example.com',
      type: 'IMPORTED',
      expiresInDays: 20,
      inUseBy: ['x'],
    },
  );
  certificates.acmIn('us-east-1').push({
    id: 'cdn-0004',
    domainName: 'cdn.example.com',
    expiresInDays: 300,
    inUseBy: [`arn:aws:cloudfront::${ACCOUNT}:distribution/E2QWRUHEXAMPLE`],
  });
  certificates.acmIn('eu-central-1').push({
    id: 'legacy-0005',
    domainName: 'legacy.example.com',
    type: 'IMPORTED',
    status: 'EXPIRED',
    expiresInDays: -3,
  });
  certificates.iam.push({ name: 'payments-2019', expiresInDays: 10 });
  certificates.listenersIn(REGION).push({
    loadBalancer: 'shop',
    listener: 'f2f7dc8efc522ab2',
    certificateArns: [acmArn(REGION, shop), `arn:aws:iam::${ACCOUNT}:server-certificate/payments-2019`],
  });
}

/** cert-manager in the example's cluster: one Certificate renewing as it should, one its issuer refuses. */
export function arrangeCertManager(rehearsal: Rehearsal<RunbooksConfig>): void {
  const api = rehearsal.cluster();
  api.addCertificate({ namespace: 'checkout', name: 'checkout-api', dnsNames: ['checkout.example.com'] });
  api.addCertificate({
    namespace: 'payments',
    name: 'payments-api',
    dnsNames: ['payments.example.com'],
    ready: {
      status: 'False',
      reason: 'Failed',
      message: 'The certificate request has failed to complete and will be retried: 429 rateLimited',
    },
  });
}

/** The simulated certificate peers, fresh for a scenario. */
function fresh(rehearsal: Rehearsal<RunbooksConfig>): SimulatedCertificates {
  const certificates = certificatesOf(rehearsal);
  certificates.reset();
  return certificates;
}

export const certificateScenarios: CertificateScenario[] = [
  {
    name: 'daily-check',
    summary:
      'The schedule fires: ACM in three regions, IAM, a load balancer, cert-manager and four live endpoints are read; the report lands in S3, Slack gets the summary by severity.',
    arrange: async (rehearsal) => {
      arrangeAccount(fresh(rehearsal));
      arrangeCertManager(rehearsal);
      return { events: [SCHEDULED] };
    },
  },
  {
    name: 'ten-thousand-certificates',
    summary:
      'ACM holds 10,000 certificates in one region: ten ListCertificates pages, DescribeCertificate only near expiry, a report of every line.',
    arrange: async (rehearsal) => {
      const certificates = fresh(rehearsal);
      certificates.acmIn(REGION).push(
        ...Array.from({ length: 10_000 }, (_, index) => ({
          id: `bulk-${String(index).padStart(5, '0')}`,
          domainName: `bulk-${index}.example.com`,
          expiresInDays: index % 500 === 0 ? 25 : 200,
          inUseBy: ['x'],
        })),
      );
      return { events: [SCHEDULED] };
    },
  },
  {
    name: 'throttled-regions',
    summary:
      "ACM in us-east-1 throttles every call and eu-central-1's load balancers answer 5xx: both are reported as sources not read, the rest of the report stands.",
    arrange: async (rehearsal) => {
      const certificates = fresh(rehearsal);
      arrangeAccount(certificates);
      certificates.faults.push(
        {
          service: 'acm',
          operation: 'ListCertificates',
          region: 'us-east-1',
          name: 'ThrottlingException',
          times: Infinity,
        },
        {
          service: 'elasticloadbalancing',
          operation: 'DescribeLoadBalancers',
          region: 'eu-central-1',
          name: 'InternalFailure',
          times: Infinity,
        },
      );
      return { events: [SCHEDULED] };
    },
  },
  {
    name: 'acm-expired-event',
    summary: 'ACM says a certificate expired: that certificate alone is read and reported; Slack names it.',
    arrange: async (rehearsal) => {
      arrangeAccount(fresh(rehearsal));
      return { events: [acmEvent('ACM Certificate Expired', 'legacy-0005', { region: 'eu-central-1' })] };
    },
  },
  {
    name: 'acm-approaching-quiet',
    summary:
      'ACM sends its daily Approaching Expiration for a certificate 20 days out: checked and reported, but Slack stays quiet (the daily report lists warnings).',
    arrange: async (rehearsal) => {
      arrangeAccount(fresh(rehearsal));
      return {
        events: [acmEvent('ACM Certificate Approaching Expiration', 'partner-0003', { daysToExpiry: 20 })],
      };
    },
  },
  {
    name: 'acm-event-certificate-gone',
    summary:
      'An ACM event names a certificate deleted since: the report says it could not be read; nothing else is done.',
    arrange: async (rehearsal) => {
      fresh(rehearsal);
      return {
        events: [acmEvent('ACM Certificate Renewal Action Required', 'deleted-0009', { daysToExpiry: 30 })],
      };
    },
  },
  {
    name: 'malformed-events',
    summary:
      'Four malformed starts (unknown detail-type, no certificate ARN, another account, an unread region): each is rejected by name, nothing is read.',
    arrange: async (rehearsal) => {
      fresh(rehearsal);
      const valid = acmEvent('ACM Certificate Expired', 'legacy-0005');
      return {
        events: [
          { ...valid, 'detail-type': 'ACM Certificate Renewed' },
          { ...valid, resources: [] },
          acmEvent('ACM Certificate Expired', 'legacy-0005', { account: '999988887777' }),
          acmEvent('ACM Certificate Expired', 'legacy-0005', { region: 'ap-southeast-2' }),
        ],
      };
    },
  },
  {
    name: 'probe-step-crashes',
    summary:
      'The probe step fails after its retries: the report still comes out, naming the endpoints as a source not read.',
    arrange: async (rehearsal) => {
      arrangeAccount(fresh(rehearsal));
      return {
        events: [SCHEDULED],
        options: {
          overrides: {
            ProbeEndpoints: async () => {
              const error = new Error('Runtime exited with error: signal: killed');
              error.name = 'Runtime.ExitError';
              throw error;
            },
          },
        },
      };
    },
  },
  {
    name: 'report-not-written',
    summary: 'S3 refuses the report after every retry: on-call is paged and Slack hears the check failed.',
    arrange: async (rehearsal) => {
      const certificates = fresh(rehearsal);
      arrangeAccount(certificates);
      // The parts are written (3 PutObject), then every write of the report fails.
      const report = rehearsal.handlerOf(certificateFunctions.report);
      return {
        events: [SCHEDULED],
        options: {
          overrides: {
            Report: async (input) => {
              certificates.faults.push({
                service: 's3',
                operation: 'PutObject',
                name: 'SlowDown',
                times: Infinity,
              });
              return report(input);
            },
          },
        },
      };
    },
  },
];
