import {
  GetProductsCommand,
  type GetProductsCommandInput,
  PricingClient,
  PricingServiceException,
} from '@aws-sdk/client-pricing';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { onDemandHourlyUsd, PricingInvalidResponse, PricingUnavailable } from '../../lambdas/aws/pricing';
import { PriceBook } from '../../lambdas/rightsizing/pricing';

const pricing = new PricingClient({ region: 'us-east-1' });
const mock = mockClient(pricing);
afterEach(() => mock.reset());

/** One price list entry as GetProducts returns it: a JSON document in a string. */
const entry = (usd: string, unit = 'Hrs') =>
  JSON.stringify({
    product: { attributes: { instanceType: 'm5.large', location: 'US East (N. Virginia)' } },
    terms: {
      OnDemand: {
        'SKU.JRTCKXETXF': {
          priceDimensions: { 'SKU.JRTCKXETXF.6YS6EN2CT7': { unit, pricePerUnit: { USD: usd } } },
        },
      },
    },
  });

describe('onDemandHourlyUsd', () => {
  it('sends TERM_MATCH filters, follows NextToken and takes the hourly USD price', async () => {
    mock
      .on(GetProductsCommand)
      .resolvesOnce({ PriceList: [entry('0.0000000000', 'Hrs')], NextToken: 'more' })
      .resolvesOnce({ PriceList: [entry('0.0960000000')] });
    const price = await onDemandHourlyUsd(pricing, {
      serviceCode: 'AmazonEC2',
      filters: { instanceType: 'm5.large', location: 'US East (N. Virginia)' },
    });
    expect(price).toBe(0.096);
    const [first, second] = mock
      .commandCalls(GetProductsCommand)
      .map((call) => call.args[0].input as GetProductsCommandInput);
    expect(first).toMatchObject({
      ServiceCode: 'AmazonEC2',
      FormatVersion: 'aws_v1',
      Filters: [
        { Type: 'TERM_MATCH', Field: 'instanceType', Value: 'm5.large' },
        { Type: 'TERM_MATCH', Field: 'location', Value: 'US East (N. Virginia)' },
      ],
    });
    expect(second?.NextToken).toBe('more');
  });

  it('answers undefined when no product matches', async () => {
    mock.on(GetProductsCommand).resolves({ PriceList: [] });
    await expect(
      onDemandHourlyUsd(pricing, { serviceCode: 'AmazonRDS', filters: {} }),
    ).resolves.toBeUndefined();
  });

  it('refuses an entry that is not a price list document', async () => {
    mock.on(GetProductsCommand).resolves({ PriceList: ['{"product": 1}'] });
    await expect(
      onDemandHourlyUsd(pricing, { serviceCode: 'AmazonEC2', filters: {} }),
    ).rejects.toBeInstanceOf(PricingInvalidResponse);
  });

  it('names throttling PricingUnavailable', async () => {
    mock.on(GetProductsCommand).rejects(
      new PricingServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: {},
        message: 'slow down',
      }),
    );
    await expect(
      onDemandHourlyUsd(pricing, { serviceCode: 'AmazonEC2', filters: {} }),
    ).rejects.toBeInstanceOf(PricingUnavailable);
  });
});

describe('PriceBook', () => {
  it('asks the Price List API once per type and region (EC2: Linux, Shared, NA, Used) and caches it', async () => {
    mock.on(GetProductsCommand).resolves({ PriceList: [entry('0.1')] });
    const book = new PriceBook(pricing);
    const key = { service: 'ec2', instanceType: 'm5.large', region: 'eu-west-1' } as const;
    const [a, b] = await Promise.all([book.price(key), book.price(key)]);
    expect(a).toEqual({ hourlyUsd: 0.1, source: 'price-list' });
    expect(b).toEqual(a);
    expect(mock.commandCalls(GetProductsCommand)).toHaveLength(1);
    const filters = (mock.commandCalls(GetProductsCommand)[0]?.args[0].input as GetProductsCommandInput)
      .Filters;
    expect(Object.fromEntries((filters ?? []).map((filter) => [filter.Field, filter.Value]))).toEqual({
      instanceType: 'm5.large',
      location: 'EU (Ireland)',
      operatingSystem: 'Linux',
      tenancy: 'Shared',
      preInstalledSw: 'NA',
      capacitystatus: 'Used',
    });
  });

  it('filters RDS for PostgreSQL by deployment option', async () => {
    mock.on(GetProductsCommand).resolves({ PriceList: [entry('0.356')] });
    await new PriceBook(pricing).price({
      service: 'rds',
      instanceType: 'db.m5.large',
      region: 'us-east-1',
      multiAz: true,
    });
    const filters = (mock.commandCalls(GetProductsCommand)[0]?.args[0].input as GetProductsCommandInput)
      .Filters;
    expect(filters).toEqual(
      expect.arrayContaining([
        { Type: 'TERM_MATCH', Field: 'databaseEngine', Value: 'PostgreSQL' },
        { Type: 'TERM_MATCH', Field: 'deploymentOption', Value: 'Multi-AZ' },
      ]),
    );
  });

  it('falls back to the bundled table when the API does not know the type, and when it is down', async () => {
    mock.on(GetProductsCommand).resolves({ PriceList: [] });
    const book = new PriceBook(pricing);
    await expect(
      book.price({ service: 'ec2', instanceType: 'm5.large', region: 'us-east-1' }),
    ).resolves.toEqual({
      hourlyUsd: 0.096,
      source: 'bundled',
    });
    mock.reset();
    mock.on(GetProductsCommand).rejects(
      new PricingServiceException({
        name: 'ServiceUnavailable',
        $fault: 'server',
        $metadata: {},
        message: 'down',
      }),
    );
    const outage = new PriceBook(pricing);
    await expect(
      outage.price({ service: 'rds', instanceType: 'db.r5.large', region: 'us-east-1', multiAz: true }),
    ).resolves.toEqual({
      hourlyUsd: 0.5,
      source: 'bundled',
    });
    // After an outage it stops asking.
    await outage.price({ service: 'ec2', instanceType: 'c5.large', region: 'us-east-1' });
    expect(mock.commandCalls(GetProductsCommand)).toHaveLength(1);
  });

  it('answers undefined for a type missing from both sources', async () => {
    mock.on(GetProductsCommand).resolves({ PriceList: [] });
    await expect(
      new PriceBook(pricing).price({ service: 'ec2', instanceType: 'x9z.huge', region: 'us-east-1' }),
    ).resolves.toBeUndefined();
  });
});
