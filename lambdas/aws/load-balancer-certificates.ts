import {
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { mapConcurrently } from '../shared/concurrency';
import { sendNamingFaults } from './faults';

// Which certificates the region's ALBs and NLBs serve: HTTPS and TLS listeners and every certificate on
// them (the default and the SNI ones). Classic load balancers (ELB v1) are not read.

/** Elastic Load Balancing did not answer (throttled after the SDK's retries, 5xx, timeout). */
export class ElasticLoadBalancingUnavailable extends RunbookError {
  override name = 'ElasticLoadBalancingUnavailable';
}

/** Elastic Load Balancing answered with something that is not what the API promises. */
export class ElasticLoadBalancingInvalidResponse extends RunbookError {
  override name = 'ElasticLoadBalancingInvalidResponse';
}

/** One SDK call, a transient fault named ElasticLoadBalancingUnavailable. */
const send = <T>(operation: string, call: () => Promise<T>): Promise<T> =>
  sendNamingFaults(operation, call, ElasticLoadBalancingUnavailable);

const loadBalancersAnswer = z.object({
  LoadBalancers: z._default(
    z.array(z.object({ LoadBalancerArn: z.string().check(z.minLength(1)), Type: z.optional(z.string()) })),
    [],
  ),
  NextMarker: z.optional(z.string()),
});
const listenersAnswer = z.object({
  Listeners: z._default(
    z.array(z.object({ ListenerArn: z.string().check(z.minLength(1)), Protocol: z.optional(z.string()) })),
    [],
  ),
  NextMarker: z.optional(z.string()),
});
const listenerCertificatesAnswer = z.object({
  Certificates: z._default(z.array(z.object({ CertificateArn: z.string().check(z.minLength(1)) })), []),
  NextMarker: z.optional(z.string()),
});

/** DescribeLoadBalancers and DescribeListeners take at most 400 per page (ELB API reference, PageSize). */
const PAGE_SIZE = 400;

/** Follows NextMarker through at most `maxPages` pages of one Describe call. */
async function allPages<T>(
  operation: string,
  maxPages: number,
  fetchPage: (marker: string | undefined) => Promise<{ items: T[]; nextMarker: string | undefined }>,
): Promise<T[]> {
  const items: T[] = [];
  let marker: string | undefined;
  for (let page = 1; ; page += 1) {
    const answer = await send(operation, () => fetchPage(marker));
    items.push(...answer.items);
    marker = answer.nextMarker;
    if (marker === undefined) return items;
    if (page >= maxPages) {
      throw new ElasticLoadBalancingInvalidResponse(`${operation} still had more pages after ${maxPages}.`);
    }
  }
}

export interface ListenerCertificate {
  certificateArn: string;
  listenerArn: string;
  loadBalancerArn: string;
}

/** Every certificate on an HTTPS or TLS listener of the region's ALBs and NLBs, once per listener. */
export async function listListenerCertificates(
  elb: ElasticLoadBalancingV2Client,
  { concurrency = 10, maxPages = 50 }: { concurrency?: number; maxPages?: number } = {},
): Promise<ListenerCertificate[]> {
  const loadBalancers = await allPages('DescribeLoadBalancers', maxPages, async (marker) => {
    const raw = await elb.send(new DescribeLoadBalancersCommand({ Marker: marker, PageSize: PAGE_SIZE }));
    const answer = parseOrThrow(
      loadBalancersAnswer,
      raw,
      'The DescribeLoadBalancers answer',
      ElasticLoadBalancingInvalidResponse,
    );
    return { items: answer.LoadBalancers, nextMarker: answer.NextMarker };
  });
  // Gateway load balancers have no TLS listeners.
  const withTls = loadBalancers.filter((balancer) => balancer.Type !== 'gateway');
  const listeners = (
    await mapConcurrently(withTls, concurrency, ({ LoadBalancerArn }) =>
      allPages('DescribeListeners', maxPages, async (marker) => {
        const raw = await elb.send(
          new DescribeListenersCommand({ LoadBalancerArn, Marker: marker, PageSize: PAGE_SIZE }),
        );
        const answer = parseOrThrow(
          listenersAnswer,
          raw,
          `The DescribeListeners answer for ${LoadBalancerArn}`,
          ElasticLoadBalancingInvalidResponse,
        );
        const secure = answer.Listeners.filter(
          (listener) => listener.Protocol === 'HTTPS' || listener.Protocol === 'TLS',
        );
        return {
          items: secure.map((listener) => ({
            listenerArn: listener.ListenerArn,
            loadBalancerArn: LoadBalancerArn,
          })),
          nextMarker: answer.NextMarker,
        };
      }),
    )
  ).flat();
  const certificates = await mapConcurrently(listeners, concurrency, (listener) =>
    allPages('DescribeListenerCertificates', maxPages, async (marker) => {
      const raw = await elb.send(
        new DescribeListenerCertificatesCommand({ ListenerArn: listener.listenerArn, Marker: marker }),
      );
      const answer = parseOrThrow(
        listenerCertificatesAnswer,
        raw,
        `The DescribeListenerCertificates answer for ${listener.listenerArn}`,
        ElasticLoadBalancingInvalidResponse,
      );
      return {
        items: answer.Certificates.map(({ CertificateArn }) => ({
          certificateArn: CertificateArn,
          ...listener,
        })),
        nextMarker: answer.NextMarker,
      };
    }),
  );
  return certificates.flat();
}
