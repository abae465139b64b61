import type { ACMClient } from '@aws-sdk/client-acm';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IAMClient } from '@aws-sdk/client-iam';
import { type AcmCertificate, describeAcmCertificate, listAcmCertificates } from '../aws/acm';
import { type IamServerCertificate, listIamServerCertificates } from '../aws/iam-certificates';
import { type ListenerCertificate, listListenerCertificates } from '../aws/load-balancer-certificates';
import type { CertificateProblem, ObservedCertificate } from './certificate';

// The account's certificates as AWS knows them: ACM per region, IAM server certificates, and what the load
// balancers serve, joined into one line per certificate. A source that fails is reported, not fatal.

/** IAM is global: its lines and failures carry this as their location. */
export const IAM_LOCATION = 'global';

/** CloudFront only takes ACM certificates from us-east-1, so that region is always read. */
const CLOUDFRONT_REGION = 'us-east-1';

export interface RegionClients {
  acm: ACMClient;
  elasticLoadBalancing: ElasticLoadBalancingV2Client;
}

export interface AwsInventoryClients {
  regions: readonly string[];
  clientsFor: (region: string) => RegionClients;
  iam: IAMClient;
}

export interface InventoryFailure {
  source: 'acm' | 'iam' | 'load-balancer';
  /** The region, or `global` for IAM. */
  region: string;
  /** The error's name and message, e.g. `AcmUnavailable: ListCertificates failed: ThrottlingException`. */
  error: string;
}

export interface AwsInventory {
  certificates: ObservedCertificate[];
  failures: InventoryFailure[];
}

type Outcome<T> = { ok: true; value: T } | { ok: false; failure: InventoryFailure };

async function attempt<T>(
  source: InventoryFailure['source'],
  region: string,
  call: () => Promise<T>,
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    const { name, message } = error as Error;
    return { ok: false, failure: { source, region, error: `${name}: ${message}` } };
  }
}

/**
 * Reads ACM and the load balancers of every region (and us-east-1) and IAM once, in parallel, and joins the
 * listener certificates onto the ACM and IAM lines as `inUseBy`. A listener certificate found in neither is a
 * line of its own with an `unknown-certificate` problem, unless the source that would hold it failed.
 */
export async function collectAwsCertificates(
  { regions, clientsFor, iam }: AwsInventoryClients,
  { now }: { now: Date },
): Promise<AwsInventory> {
  const allRegions = [...new Set([CLOUDFRONT_REGION, ...regions])];
  const [iamOutcome, ...regional] = await Promise.all([
    attempt('iam', IAM_LOCATION, () => listIamServerCertificates(iam)),
    ...allRegions.map(async (region) => {
      const clients = clientsFor(region);
      const [acm, listeners] = await Promise.all([
        attempt('acm', region, () => listAcmCertificates(clients.acm, { region, now })),
        attempt('load-balancer', region, () => listListenerCertificates(clients.elasticLoadBalancing)),
      ]);
      return { region, acm, listeners };
    }),
  ]);
  const outcomes = [iamOutcome, ...regional.flatMap(({ acm, listeners }) => [acm, listeners])];
  const failures = outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome.failure]));

  const lines = new Map<string, ObservedCertificate>();
  if (iamOutcome.ok)
    for (const certificate of iamOutcome.value) lines.set(certificate.arn, iamLine(certificate));
  const acmReadIn = new Set<string>();
  for (const { region, acm } of regional) {
    if (!acm.ok) continue;
    acmReadIn.add(region);
    for (const certificate of acm.value) lines.set(certificate.arn, acmLine(certificate));
  }

  const unknown = new Map<string, ObservedCertificate>();
  for (const { region, listeners } of regional) {
    if (!listeners.ok) continue;
    for (const served of listeners.value) {
      const line = lines.get(served.certificateArn) ?? unknown.get(served.certificateArn);
      if (line) {
        if (!line.inUseBy.includes(served.listenerArn)) line.inUseBy.push(served.listenerArn);
      } else if (ownerWasRead(served.certificateArn, acmReadIn, iamOutcome.ok)) {
        unknown.set(served.certificateArn, unknownLine(served, region));
      }
    }
  }
  return { certificates: [...lines.values(), ...unknown.values()], failures };
}

/** Whether the inventory that would hold this ARN was read: only then is its absence meaningful. */
/**
 * The one ACM certificate an ACM event names: the check that event starts reads it alone. A certificate
 * deleted since the event, or a region that does not answer, is a failure of the run, reported as such.
 */
export async function collectAcmCertificate(
  { clientsFor }: Pick<AwsInventoryClients, 'clientsFor'>,
  { arn, region }: { arn: string; region: string },
): Promise<AwsInventory> {
  const outcome = await attempt('acm', region, () =>
    describeAcmCertificate(clientsFor(region).acm, { arn, region }),
  );
  return outcome.ok
    ? { certificates: [acmLine(outcome.value)], failures: [] }
    : { certificates: [], failures: [outcome.failure] };
}

function ownerWasRead(arn: string, acmReadIn: ReadonlySet<string>, iamRead: boolean): boolean {
  const [, , service, region] = arn.split(':');
  if (service === 'acm') return region !== undefined && acmReadIn.has(region);
  if (service === 'iam') return iamRead;
  return true;
}

function acmLine(certificate: AcmCertificate): ObservedCertificate {
  const renewsAutomatically =
    certificate.type !== 'IMPORTED' && certificate.renewalEligibility === 'ELIGIBLE';
  return {
    source: 'acm',
    id: certificate.arn,
    name: certificate.domainName ?? certificate.arn,
    location: certificate.region,
    ...(certificate.notAfter && { notAfter: certificate.notAfter.toISOString() }),
    renewsAutomatically,
    inUseBy: [...(certificate.inUseBy ?? [])],
    problems: acmProblems(certificate),
  };
}

function acmProblems(certificate: AcmCertificate): CertificateProblem[] {
  const problems: CertificateProblem[] = [];
  const expiry = certificate.notAfter ? ` before ${certificate.notAfter.toISOString().slice(0, 10)}` : '';
  if (certificate.type === 'IMPORTED') {
    problems.push({
      code: 'imported',
      text: `Imported into ACM, so it never renews: re-import the renewed certificate over this ARN${expiry} (aws acm import-certificate --certificate-arn …).`,
    });
  }
  if (certificate.renewal?.status === 'FAILED') {
    problems.push({
      code: 'renewal-failed',
      text: `ACM's managed renewal failed (${certificate.renewal.reason ?? 'no reason given'}): fix the cause (validation records, CAA records), or request a new certificate and move its users to it${expiry}.`,
    });
  }
  if (certificate.renewal?.status === 'PENDING_VALIDATION') {
    const what = certificate.renewal.pendingDomains.map(({ domain, record }) =>
      record
        ? `${domain} (DNS record ${record.name} ${record.type} ${record.value})`
        : `${domain} (answer its validation email)`,
    );
    problems.push({
      code: 'renewal-pending-validation',
      text: `ACM cannot renew it until it validates the domains again: create or restore the validation record of ${what.length ? what.join(', ') : 'each domain'}${expiry}.`,
    });
  }
  // A certificate nothing uses is ineligible, so ACM lets it expire: only worth a line when it is ACM's to renew.
  if (
    certificate.type !== 'IMPORTED' &&
    certificate.status === 'ISSUED' &&
    certificate.inUse === false &&
    certificate.renewalEligibility === 'INELIGIBLE'
  ) {
    problems.push({
      code: 'not-in-use',
      text: 'No AWS resource uses it, so ACM will not renew it: delete it if nothing needs it, or attach it before it expires.',
    });
  }
  if (certificate.inUse === true && certificate.status !== 'ISSUED' && certificate.status !== 'EXPIRED') {
    problems.push({
      code: 'not-issued',
      text: `In use while its ACM status is ${certificate.status}: clients may refuse it; replace it with an issued certificate.`,
    });
  }
  return problems;
}

function iamLine(certificate: IamServerCertificate): ObservedCertificate {
  return {
    source: 'iam',
    id: certificate.arn,
    name: certificate.name,
    location: IAM_LOCATION,
    notAfter: certificate.expiration.toISOString(),
    renewsAutomatically: false,
    inUseBy: [],
    problems: [],
  };
}

function unknownLine(served: ListenerCertificate, region: string): ObservedCertificate {
  return {
    source: 'load-balancer',
    id: served.certificateArn,
    name: served.certificateArn,
    location: region,
    renewsAutomatically: false,
    inUseBy: [served.listenerArn],
    problems: [
      {
        code: 'unknown-certificate',
        text: "A listener serves a certificate that is in neither this account's ACM nor IAM (another account's, or deleted): find its owner and expiry, or replace it with an ACM certificate.",
      },
    ],
  };
}
