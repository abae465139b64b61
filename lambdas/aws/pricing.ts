import { GetProductsCommand, type PricingClient } from '@aws-sdk/client-pricing';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';

// The Price List API as the right-sizing report uses it: one product's on-demand hourly price. The API has
// endpoints in us-east-1, eu-central-1 and ap-south-1 only (the client is built for us-east-1, whatever region
// is priced). Answers are parsed at this edge; faults get names.

/** The Price List API did not answer (throttled after the SDK's retries, 5xx, timeout). */
export class PricingUnavailable extends RunbookError {
  override name = 'PricingUnavailable';
}

/** The Price List API answered with something that is not a price list: no price is taken from it. */
export class PricingInvalidResponse extends RunbookError {
  override name = 'PricingInvalidResponse';
}

/** The region the Price List client is built for: its endpoint (reference.md "Right-sizing"). */
export const PRICING_ENDPOINT_REGION = 'us-east-1';

const send = <T>(operation: string, call: () => Promise<T>): Promise<T> =>
  sendNamingFaults(operation, call, PricingUnavailable);

const productsAnswer = z.object({
  // Each entry is a JSON document (a product and its terms), as a string.
  PriceList: z._default(z.array(z.string()), []),
  NextToken: z.optional(z.string()),
});

const priceDimension = z.object({ unit: z.string(), pricePerUnit: z.record(z.string(), z.string()) });
const product = z.object({
  product: z.object({ attributes: z.record(z.string(), z.string()) }),
  terms: z.object({
    OnDemand: z._default(
      z.record(z.string(), z.object({ priceDimensions: z.record(z.string(), priceDimension) })),
      {},
    ),
  }),
});

export interface ProductQuery {
  serviceCode: 'AmazonEC2' | 'AmazonRDS';
  /** TERM_MATCH filters, field → value (instanceType, location, operatingSystem…). */
  filters: Record<string, string>;
  /** @default 10 */
  maxPages?: number;
}

/**
 * The lowest on-demand USD hourly price (unit `Hrs`) among the products matching every filter; undefined when
 * none matches (an unknown type, a type not sold in the region). Filters precise enough to name one product
 * leave one price; taking the lowest keeps a stray variant (a license-included twin) from inflating it.
 */
export async function onDemandHourlyUsd(
  pricing: PricingClient,
  { serviceCode, filters, maxPages = 10 }: ProductQuery,
): Promise<number | undefined> {
  const prices: number[] = [];
  let nextToken: string | undefined;
  for (let page = 1; page <= maxPages; page += 1) {
    const raw = await send('GetProducts', () =>
      pricing.send(
        new GetProductsCommand({
          ServiceCode: serviceCode,
          Filters: Object.entries(filters).map(([Field, Value]) => ({ Type: 'TERM_MATCH', Field, Value })),
          FormatVersion: 'aws_v1',
          MaxResults: 100,
          NextToken: nextToken,
        }),
      ),
    );
    const answer = parseOrThrow(productsAnswer, raw, 'The GetProducts answer', PricingInvalidResponse);
    for (const document of answer.PriceList) {
      let json: unknown;
      try {
        json = JSON.parse(document);
      } catch {
        throw new PricingInvalidResponse('The GetProducts answer has a price list entry that is not JSON.');
      }
      const entry = parseOrThrow(product, json, 'A GetProducts price list entry', PricingInvalidResponse);
      for (const term of Object.values(entry.terms.OnDemand)) {
        for (const dimension of Object.values(term.priceDimensions)) {
          const usd = Number(dimension.pricePerUnit.USD);
          if (dimension.unit === 'Hrs' && Number.isFinite(usd) && usd > 0) prices.push(usd);
        }
      }
    }
    nextToken = answer.NextToken;
    if (nextToken === undefined) break;
  }
  return prices.length === 0 ? undefined : Math.min(...prices);
}
