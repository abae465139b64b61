import {
  type ACMClient,
  DescribeCertificateCommand,
  type KeyAlgorithm,
  ListCertificatesCommand,
} from '@aws-sdk/client-acm';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { mapConcurrently } from '../shared/concurrency';
import { sendNamingFaults } from './faults';

// ACM as the certificate check uses it: every certificate of a region with what decides whether it renews.
// Answers are parsed at this edge; faults get names the workflow routes on.

/** ACM did not answer (throttled after the SDK's retries, 5xx, timeout): the region is reported as failed. */
export class AcmUnavailable extends RunbookError {
  override name = 'AcmUnavailable';
}

/** ACM answered with something that is not what the API promises: nothing is decided from it. */
export class AcmInvalidResponse extends RunbookError {
  override name = 'AcmInvalidResponse';
}

/** One SDK call, a transient fault named AcmUnavailable. */
const send = <T>(operation: string, call: () => Promise<T>): Promise<T> =>
  sendNamingFaults(operation, call, AcmUnavailable);

/**
 * Without `Includes.keyTypes`, ListCertificates returns only RSA_1024 and RSA_2048 certificates (ACM API
 * reference, Filters.keyTypes: "Default filtering returns only RSA_1024 and RSA_2048 certificates that have at
 * least one domain"): EC and larger RSA certificates would be silently missing from the inventory.
 */
const ALL_KEY_TYPES: KeyAlgorithm[] = [
  'RSA_1024',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'EC_prime256v1',
  'EC_secp384r1',
  'EC_secp521r1',
];

/** ListCertificates takes at most 1,000 items per page (ACM API reference, MaxItems). */
const PAGE_SIZE = 1_000;

const certificateType = z.enum(['AMAZON_ISSUED', 'IMPORTED', 'PRIVATE']);
const renewalEligibility = z.enum(['ELIGIBLE', 'INELIGIBLE']);

const listAnswer = z.object({
  CertificateSummaryList: z._default(
    z.array(
      z.object({
        CertificateArn: z.string().check(z.minLength(1)),
        DomainName: z.optional(z.string()),
        Status: z.string(),
        Type: certificateType,
        // Absent until issued (PENDING_VALIDATION, FAILED, VALIDATION_TIMED_OUT).
        NotAfter: z.optional(z.date()),
        InUse: z.optional(z.boolean()),
        RenewalEligibility: z.optional(renewalEligibility),
      }),
    ),
    [],
  ),
  NextToken: z.optional(z.string()),
});

const domainValidation = z.object({
  DomainName: z.string(),
  ValidationStatus: z.optional(z.string()),
  ResourceRecord: z.optional(z.object({ Name: z.string(), Type: z.string(), Value: z.string() })),
});

const describeAnswer = z.object({
  Certificate: z.object({
    CertificateArn: z.string(),
    DomainName: z.optional(z.string()),
    Status: z.optional(z.string()),
    Type: z.optional(certificateType),
    RenewalEligibility: z.optional(renewalEligibility),
    NotAfter: z.optional(z.date()),
    InUseBy: z._default(z.array(z.string()), []),
    FailureReason: z.optional(z.string()),
    RenewalSummary: z.optional(
      z.object({
        RenewalStatus: z.enum(['PENDING_AUTO_RENEWAL', 'PENDING_VALIDATION', 'SUCCESS', 'FAILED']),
        RenewalStatusReason: z.optional(z.string()),
        DomainValidationOptions: z._default(z.array(domainValidation), []),
      }),
    ),
  }),
});

export interface AcmRenewal {
  status: 'PENDING_AUTO_RENEWAL' | 'PENDING_VALIDATION' | 'SUCCESS' | 'FAILED';
  /** ACM's FailureReason code, e.g. `CAA_ERROR`, `ADDITIONAL_VERIFICATION_REQUIRED`. */
  reason?: string;
  /** Domains still waiting for validation, with the DNS record ACM looks for when it uses DNS validation. */
  pendingDomains: Array<{ domain: string; record?: { name: string; type: string; value: string } }>;
}

export interface AcmCertificate {
  arn: string;
  region: string;
  domainName?: string;
  /** ISSUED, PENDING_VALIDATION, EXPIRED, FAILED, REVOKED, INACTIVE, VALIDATION_TIMED_OUT. */
  status: string;
  type: 'AMAZON_ISSUED' | 'IMPORTED' | 'PRIVATE';
  notAfter?: Date;
  inUse?: boolean;
  renewalEligibility?: 'ELIGIBLE' | 'INELIGIBLE';
  /** The resources using it (DescribeCertificate); undefined when it was not described (far from expiry). */
  inUseBy?: string[];
  /** The managed renewal in progress (DescribeCertificate), when there is one. */
  renewal?: AcmRenewal;
  /** Why issuing it failed (DescribeCertificate, Status FAILED). */
  failureReason?: string;
}

export interface AcmInventoryOptions {
  region: string;
  now: Date;
  /**
   * Certificates expiring within this many days are described. ACM starts managed renewal 60 days before
   * expiry (reference.md), so a renewal status exists only inside that window.
   * @default 60
   */
  describeWithinDays?: number;
  /** DescribeCertificate calls in flight at once. @default 10 */
  concurrency?: number;
  /** Pages of 1,000 followed at most. @default 100 */
  maxPages?: number;
}

const DAY_MS = 86_400_000;

/**
 * Every ACM certificate of the client's region, of every key type and status. ListCertificates already
 * carries expiry, type, use and renewal eligibility, so DescribeCertificate (renewal status, InUseBy) is
 * called only for certificates inside the renewal window: an account with 10,000 certificates would
 * otherwise cost 10,000 calls per run, against ACM's DescribeCertificate rate limit.
 */
export async function listAcmCertificates(
  acm: ACMClient,
  { region, now, describeWithinDays = 60, concurrency = 10, maxPages = 100 }: AcmInventoryOptions,
): Promise<AcmCertificate[]> {
  const certificates: AcmCertificate[] = [];
  let nextToken: string | undefined;
  for (let page = 1; ; page += 1) {
    const raw = await send('ListCertificates', () =>
      acm.send(
        new ListCertificatesCommand({
          Includes: { keyTypes: ALL_KEY_TYPES },
          MaxItems: PAGE_SIZE,
          NextToken: nextToken,
        }),
      ),
    );
    const answer = parseOrThrow(
      listAnswer,
      raw,
      `The ListCertificates answer (${region})`,
      AcmInvalidResponse,
    );
    for (const summary of answer.CertificateSummaryList) {
      certificates.push({
        arn: summary.CertificateArn,
        region,
        status: summary.Status,
        type: summary.Type,
        ...(summary.DomainName !== undefined && { domainName: summary.DomainName }),
        ...(summary.NotAfter && { notAfter: summary.NotAfter }),
        ...(summary.InUse !== undefined && { inUse: summary.InUse }),
        ...(summary.RenewalEligibility && { renewalEligibility: summary.RenewalEligibility }),
      });
    }
    nextToken = answer.NextToken;
    if (nextToken === undefined) break;
    if (page >= maxPages) {
      throw new AcmInvalidResponse(`ListCertificates (${region}) still had more pages after ${maxPages}.`);
    }
  }
  const describeBefore = now.getTime() + describeWithinDays * DAY_MS;
  const toDescribe = certificates.filter(
    (certificate) => certificate.notAfter && certificate.notAfter.getTime() < describeBefore,
  );
  await mapConcurrently(toDescribe, concurrency, async (certificate) => {
    Object.assign(certificate, await describe(acm, certificate.arn));
  });
  return certificates;
}

/** The certificate an ACM event names, read whole (DescribeCertificate), in its own region. */
export async function describeAcmCertificate(
  acm: ACMClient,
  { arn, region }: { arn: string; region: string },
): Promise<AcmCertificate> {
  const detail = await describeDetail(acm, arn);
  if (detail.Status === undefined || detail.Type === undefined) {
    throw new AcmInvalidResponse(`The DescribeCertificate answer for ${arn} has no Status or Type`);
  }
  return {
    arn,
    region,
    status: detail.Status,
    type: detail.Type,
    ...(detail.DomainName !== undefined && { domainName: detail.DomainName }),
    ...(detail.RenewalEligibility && { renewalEligibility: detail.RenewalEligibility }),
    inUse: detail.InUseBy.length > 0,
    ...detailFields(detail),
  };
}

async function describeDetail(acm: ACMClient, arn: string) {
  const raw = await send('DescribeCertificate', () =>
    acm.send(new DescribeCertificateCommand({ CertificateArn: arn })),
  );
  return parseOrThrow(describeAnswer, raw, `The DescribeCertificate answer for ${arn}`, AcmInvalidResponse)
    .Certificate;
}

async function describe(
  acm: ACMClient,
  arn: string,
): Promise<Pick<AcmCertificate, 'notAfter' | 'inUseBy' | 'renewal' | 'failureReason'>> {
  return detailFields(await describeDetail(acm, arn));
}

function detailFields(
  detail: z.output<typeof describeAnswer>['Certificate'],
): Pick<AcmCertificate, 'notAfter' | 'inUseBy' | 'renewal' | 'failureReason'> {
  const renewal = detail.RenewalSummary;
  return {
    ...(detail.NotAfter && { notAfter: detail.NotAfter }),
    inUseBy: detail.InUseBy,
    ...(detail.FailureReason !== undefined && { failureReason: detail.FailureReason }),
    ...(renewal && {
      renewal: {
        status: renewal.RenewalStatus,
        ...(renewal.RenewalStatusReason !== undefined && { reason: renewal.RenewalStatusReason }),
        pendingDomains: renewal.DomainValidationOptions.filter(
          (option) => option.ValidationStatus === 'PENDING_VALIDATION',
        ).map((option) => ({
          domain: option.DomainName,
          ...(option.ResourceRecord && {
            record: {
              name: option.ResourceRecord.Name,
              type: option.ResourceRecord.Type,
              value: option.ResourceRecord.Value,
            },
          }),
        })),
      },
    }),
  };
}
