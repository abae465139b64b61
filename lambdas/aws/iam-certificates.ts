import { type IAMClient, ListServerCertificatesCommand } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';

// IAM server certificates: the pre-ACM way to put a certificate on a load balancer or CloudFront. IAM is
// global (one listing per account) and never renews them.

/** IAM did not answer (throttled after the SDK's retries, 5xx, timeout). */
export class IamUnavailable extends RunbookError {
  override name = 'IamUnavailable';
}

/** IAM answered with something that is not what the API promises. */
export class IamInvalidResponse extends RunbookError {
  override name = 'IamInvalidResponse';
}

/** One SDK call, a transient fault named IamUnavailable. */
const send = <T>(operation: string, call: () => Promise<T>): Promise<T> =>
  sendNamingFaults(operation, call, IamUnavailable);

const listAnswer = z.object({
  ServerCertificateMetadataList: z._default(
    z.array(
      z.object({
        ServerCertificateName: z.string(),
        Arn: z.string().check(z.minLength(1)),
        Expiration: z.date(),
      }),
    ),
    [],
  ),
  IsTruncated: z._default(z.boolean(), false),
  Marker: z.optional(z.string()),
});

export interface IamServerCertificate {
  arn: string;
  name: string;
  expiration: Date;
}

/** ListServerCertificates takes at most 1,000 items per page (IAM API reference, MaxItems). */
const PAGE_SIZE = 1_000;

/** Every IAM server certificate of the account, following Marker while IsTruncated. */
export async function listIamServerCertificates(
  iam: IAMClient,
  { maxPages = 20 }: { maxPages?: number } = {},
): Promise<IamServerCertificate[]> {
  const certificates: IamServerCertificate[] = [];
  let marker: string | undefined;
  for (let page = 1; ; page += 1) {
    const raw = await send('ListServerCertificates', () =>
      iam.send(new ListServerCertificatesCommand({ MaxItems: PAGE_SIZE, Marker: marker })),
    );
    const answer = parseOrThrow(listAnswer, raw, 'The ListServerCertificates answer', IamInvalidResponse);
    for (const metadata of answer.ServerCertificateMetadataList) {
      certificates.push({
        arn: metadata.Arn,
        name: metadata.ServerCertificateName,
        expiration: metadata.Expiration,
      });
    }
    if (!answer.IsTruncated) break;
    if (answer.Marker === undefined) {
      throw new IamInvalidResponse('The ListServerCertificates answer is truncated but has no Marker.');
    }
    if (page >= maxPages) {
      throw new IamInvalidResponse(`ListServerCertificates still had more pages after ${maxPages}.`);
    }
    marker = answer.Marker;
  }
  return certificates;
}
