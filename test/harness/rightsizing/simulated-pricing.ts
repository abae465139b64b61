import {
  GetProductsCommand,
  type GetProductsCommandInput,
  InvalidNextTokenException,
  InvalidParameterException,
  NotFoundException,
  PricingClient,
  ThrottlingException,
  InternalErrorException,
} from '@aws-sdk/client-pricing';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { timelineNow } from '../virtual-clock';

// The AWS Price List Query API's GetProducts as the right-sizing report calls it, in-process
// (aws-sdk-client-mock answers every PricingClient's `send`). What it keeps faithful:
// - `PriceList` is an array of JSON documents as strings, each a product (its attributes) and its terms
//   (OnDemand: one offer term with one `Hrs` price dimension in USD; Reserved terms beside it), as the API
//   answers with FormatVersion aws_v1;
// - filters: TERM_MATCH (and EQUALS) on attribute names, all must match, values compared without case;
//   an unknown attribute or a type nobody sells matches nothing (an empty PriceList, not an error);
// - the endpoints: the API answers in us-east-1, eu-central-1 and ap-south-1 only; a client built for another
//   region cannot resolve its host (ENOTFOUND), as in AWS;
// - pagination: MaxResults 1–100 (default 100), a NextToken tied to its query (InvalidNextTokenException);
// - the catalogue holds the neighbours a loose filter would wrongly match (Windows, dedicated tenancy,
//   reserved-capacity and license-included twins, Multi-AZ), so filters are tested, not trusted;
// - faults: ThrottlingException, InternalErrorException.

export const PRICING_REGIONS = ['us-east-1', 'eu-central-1', 'ap-south-1'] as const;
const MAX_RESULTS = 100;

/** The Price List's `location` of the regions the rehearsal prices in. */
export const LOCATIONS: Record<string, string> = {
  'eu-west-1': 'EU (Ireland)',
  'us-east-1': 'US East (N. Virginia)',
  'eu-central-1': 'EU (Frankfurt)',
};

export interface SimulatedProduct {
  serviceCode: 'AmazonEC2' | 'AmazonRDS';
  sku: string;
  attributes: Record<string, string>;
  hourlyUsd: number;
}

export interface PricingFault {
  name: 'ThrottlingException' | 'InternalErrorException';
  /** Faulty answers left; Infinity for always. @default 1 */
  times?: number;
}

const sku = (seed: string) =>
  createHash('sha256')
    .update(seed)
    .digest('base64')
    .replace(/[^A-Z0-9]/g, '')
    .slice(0, 16)
    .padEnd(16, 'X');

/** One EC2 on-demand product (Linux, shared tenancy, no pre-installed software, capacity used). */
export function ec2Product(
  instanceType: string,
  region: string,
  hourlyUsd: number,
  overrides: Record<string, string> = {},
): SimulatedProduct {
  const location = LOCATIONS[region] ?? region;
  const attributes = {
    servicecode: 'AmazonEC2',
    productFamily: 'Compute Instance',
    instanceType,
    instanceFamily: 'General purpose',
    location,
    locationType: 'AWS Region',
    regionCode: region,
    operatingSystem: 'Linux',
    tenancy: 'Shared',
    preInstalledSw: 'NA',
    capacitystatus: 'Used',
    licenseModel: 'No License required',
    operation: 'RunInstances',
    usagetype: `${region === 'us-east-1' ? '' : 'EU-'}BoxUsage:${instanceType}`,
    marketoption: 'OnDemand',
    ...overrides,
  };
  return { serviceCode: 'AmazonEC2', sku: sku(JSON.stringify(attributes)), attributes, hourlyUsd };
}

/** One RDS for PostgreSQL on-demand product, Single-AZ unless `multiAz`. */
export function rdsProduct(
  instanceClass: string,
  region: string,
  hourlyUsd: number,
  { multiAz = false, engine = 'PostgreSQL' } = {},
): SimulatedProduct {
  const attributes = {
    servicecode: 'AmazonRDS',
    productFamily: 'Database Instance',
    instanceType: instanceClass,
    location: LOCATIONS[region] ?? region,
    locationType: 'AWS Region',
    regionCode: region,
    databaseEngine: engine,
    deploymentOption: multiAz ? 'Multi-AZ' : 'Single-AZ',
    licenseModel: engine === 'PostgreSQL' ? 'No license required' : 'License included',
    usagetype: `EU-InstanceUsage:${instanceClass}`,
    operation: 'CreateDBInstance:0014',
  };
  return { serviceCode: 'AmazonRDS', sku: sku(JSON.stringify(attributes)), attributes, hourlyUsd };
}

/**
 * A type's product with the neighbours a filter must tell it from: EC2 Windows (×1.8), dedicated tenancy
 * (×1.1), an unused capacity reservation and SQL Server pre-installed; RDS Multi-AZ (×2) and SQL Server.
 */
export function productFamily(service: 'ec2' | 'rds', type: string, region: string, hourlyUsd: number) {
  if (service === 'ec2') {
    return [
      ec2Product(type, region, hourlyUsd),
      ec2Product(type, region, hourlyUsd * 1.8, {
        operatingSystem: 'Windows',
        licenseModel: 'License Included',
      }),
      ec2Product(type, region, hourlyUsd * 1.1, { tenancy: 'Dedicated' }),
      ec2Product(type, region, hourlyUsd, { capacitystatus: 'UnusedCapacityReservation' }),
      ec2Product(type, region, hourlyUsd * 2.5, { preInstalledSw: 'SQL Std' }),
    ];
  }
  return [
    rdsProduct(type, region, hourlyUsd),
    rdsProduct(type, region, hourlyUsd * 2, { multiAz: true }),
    rdsProduct(type, region, hourlyUsd * 3, { engine: 'SQL Server' }),
  ];
}

/** A product as the API's PriceList entry: a JSON document, as a string. */
function priceListEntry(product: SimulatedProduct, publication: string): string {
  const offer = 'JRTCKXETXF';
  const rate = '6YS6EN2CT7';
  const onDemand = `${product.sku}.${offer}`;
  const reserved = `${product.sku}.4NA7Y494T4`;
  const type = product.attributes.instanceType ?? '';
  return JSON.stringify({
    product: {
      productFamily: product.attributes.productFamily,
      attributes: product.attributes,
      sku: product.sku,
    },
    serviceCode: product.serviceCode,
    terms: {
      OnDemand: {
        [onDemand]: {
          priceDimensions: {
            [`${onDemand}.${rate}`]: {
              unit: 'Hrs',
              endRange: 'Inf',
              description: `$${product.hourlyUsd.toFixed(4)} per On Demand ${product.attributes.operatingSystem ?? product.attributes.databaseEngine} ${type} Instance Hour`,
              appliesTo: [],
              rateCode: `${onDemand}.${rate}`,
              beginRange: '0',
              pricePerUnit: { USD: product.hourlyUsd.toFixed(10) },
            },
          },
          sku: product.sku,
          effectiveDate: '2026-11-01T00:00:00Z',
          offerTermCode: offer,
          termAttributes: {},
        },
      },
      Reserved: {
        [reserved]: {
          priceDimensions: {
            [`${reserved}.2TG2D8R56U`]: {
              unit: 'Quantity',
              description: 'Upfront Fee',
              appliesTo: [],
              rateCode: `${reserved}.2TG2D8R56U`,
              pricePerUnit: { USD: String(Math.round(product.hourlyUsd * 8760 * 0.6)) },
            },
            [`${reserved}.6YS6EN2CT7`]: {
              unit: 'Hrs',
              endRange: 'Inf',
              description: 'USD 0.0 per Linux/UNIX (Amazon VPC) Instance Hour',
              appliesTo: [],
              rateCode: `${reserved}.6YS6EN2CT7`,
              beginRange: '0',
              pricePerUnit: { USD: '0.0000000000' },
            },
          },
          sku: product.sku,
          effectiveDate: '2026-11-01T00:00:00Z',
          offerTermCode: '4NA7Y494T4',
          termAttributes: {
            LeaseContractLength: '1yr',
            OfferingClass: 'standard',
            PurchaseOption: 'All Upfront',
          },
        },
      },
    },
    version: publication,
    publicationDate: `${publication.slice(0, 4)}-${publication.slice(4, 6)}-${publication.slice(6, 8)}T00:00:00Z`,
  });
}

export class SimulatedPricing {
  readonly products: SimulatedProduct[] = [];
  readonly faults: Array<PricingFault & { times: number }> = [];
  /** Every GetProducts call: the client's region and the filters. */
  readonly calls: Array<{
    region: string;
    serviceCode: string;
    filters: Record<string, string>;
    /** `timelineNow()` when it arrived. */
    at: number;
    /** `n products`, or the error's name. */
    answer: string;
  }> = [];
  private readonly mock = mockClient(PricingClient);

  constructor() {
    this.install();
  }

  restore(): void {
    this.mock.restore();
  }

  reset(): void {
    this.products.length = 0;
    this.faults.length = 0;
    this.calls.length = 0;
  }

  add(...products: SimulatedProduct[]): void {
    this.products.push(...products);
  }

  injectFault(fault: PricingFault): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  private install(): void {
    this.mock.on(GetProductsCommand).callsFake(async (input: GetProductsCommandInput, getClient) => {
      const region = await (getClient() as PricingClient).config.region();
      const filters = Object.fromEntries((input.Filters ?? []).map((f) => [f.Field ?? '', f.Value ?? '']));
      const call = { region, serviceCode: input.ServiceCode ?? '', filters, at: timelineNow(), answer: '' };
      this.calls.push(call);
      try {
        const answer = this.answer(input, region, filters);
        call.answer = `${answer.PriceList.length} products`;
        return answer;
      } catch (error) {
        call.answer = (error as { code?: string }).code ?? (error as Error).name;
        throw error;
      }
    });
  }

  private answer(input: GetProductsCommandInput, region: string, filters: Record<string, string>) {
    if (!(PRICING_REGIONS as readonly string[]).includes(region)) {
      // No such endpoint: the SDK's request never reaches a server.
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND api.pricing.${region}.amazonaws.com`), {
        code: 'ENOTFOUND',
        $metadata: {},
      });
    }
    const fault = this.faults.find((candidate) => candidate.times > 0);
    if (fault) {
      fault.times -= 1;
      const ErrorClass = fault.name === 'ThrottlingException' ? ThrottlingException : InternalErrorException;
      throw new ErrorClass({
        message: `${fault.name} (simulated GetProducts)`,
        $metadata: { httpStatusCode: fault.name === 'ThrottlingException' ? 400 : 500 },
      });
    }
    if (input.ServiceCode !== 'AmazonEC2' && input.ServiceCode !== 'AmazonRDS')
      throw new NotFoundException({ message: `Service ${input.ServiceCode} not found.`, $metadata: {} });
    const size = input.MaxResults ?? MAX_RESULTS;
    if (!Number.isInteger(size) || size < 1 || size > MAX_RESULTS)
      throw new InvalidParameterException({
        message: `MaxResults must be between 1 and ${MAX_RESULTS}.`,
        $metadata: {},
      });
    for (const filter of input.Filters ?? []) {
      if (filter.Type !== 'TERM_MATCH' && filter.Type !== 'EQUALS')
        throw new InvalidParameterException({
          message: `The simulated Price List serves TERM_MATCH and EQUALS filters, not ${filter.Type}.`,
          $metadata: {},
        });
    }
    const matching = this.products.filter(
      (product) =>
        product.serviceCode === input.ServiceCode &&
        Object.entries(filters).every(([field, value]) => {
          const key = Object.keys(product.attributes).find(
            (name) => name.toLowerCase() === field.toLowerCase(),
          );
          return key !== undefined && product.attributes[key]?.toLowerCase() === value.toLowerCase();
        }),
    );
    const query = createHash('sha256')
      .update(JSON.stringify([input.ServiceCode, input.Filters]))
      .digest('base64url')
      .slice(0, 12);
    let offset = 0;
    if (input.NextToken !== undefined) {
      const decoded = /^([\w-]{12}):(\d+)$/.exec(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
      if (!decoded || decoded[1] !== query)
        throw new InvalidNextTokenException({ message: 'The NextToken is not valid.', $metadata: {} });
      offset = Number(decoded[2]);
    }
    const end = offset + size;
    return {
      FormatVersion: 'aws_v1',
      PriceList: matching.slice(offset, end).map((product) => priceListEntry(product, '20261101000000')),
      ...(end < matching.length && { NextToken: Buffer.from(`${query}:${end}`).toString('base64url') }),
    };
  }
}
