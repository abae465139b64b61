import * as z from 'zod/mini';
import type { FunctionPeer } from '../../lambdas/shared/function-table';

// Where the runbooks' Lambdas run (`network`) and how their logs are kept (`logs`): shared sections, read by
// `lib/runbook-network.ts`, `lib/runbook-logs.ts` and the rehearsals.

const awsId = (prefix: string, example: string) =>
  z.string().check(z.regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `must be an id such as ${example}`));

export const securityGroupId = awsId('sg', 'sg-0123456789abcdef0');

const availabilityZone = z
  .string()
  .check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an availability zone such as eu-west-1a'));

const ipv4Cidr = z
  .string()
  .check(
    z.regex(
      /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(1[6-9]|2[0-8])$/,
      'must be an IPv4 CIDR block with a prefix from /16 to /28, as a VPC has',
    ),
  );

export const subnetSchema = z.strictObject({
  id: awsId('subnet', 'subnet-0123456789abcdef0'),
  availabilityZone,
  /** Needed for the gateway endpoints (DynamoDB) when `createEndpoints` is true. */
  routeTableId: z.optional(awsId('rtb', 'rtb-0123456789abcdef0')),
});

export const networkSchema = z.strictObject({
  vpcId: awsId('vpc', 'vpc-0123456789abcdef0'),
  /** Private subnets the Lambdas run in (Lambda allows 16); two or more AZs keep them up when one fails. */
  subnets: z.array(subnetSchema).check(z.minLength(1), z.maxLength(16)),
  /**
   * The Lambdas' security groups (Lambda allows 5); omitted: the stack creates one with exactly the rules
   * the runbooks need.
   */
  securityGroupIds: z.optional(z.array(securityGroupId).check(z.minLength(1), z.maxLength(5))),
  /**
   * Whether the subnets route to the internet (a NAT gateway). True: Slack and any AWS API without a VPC
   * endpoint are reached through it, and every Lambda runs in the VPC. False: the Lambdas reach only the
   * VPC (endpoints, the clusters' private endpoints), so the functions that need the internet (the Slack
   * notifier, the certificate check's AWS collector and prober) stay outside it.
   * @default true
   */
  internetAccess: z._default(z.boolean(), true),
  /** The VPC's CIDR block: the egress boundary when `internetAccess` is false and the stack makes the group. */
  vpcCidr: z.optional(ipv4Cidr),
  /**
   * Create the VPC endpoints the deployed Lambdas need (interface endpoints with private DNS, a gateway
   * endpoint for DynamoDB). False: the VPC has them already, or reaches AWS through the NAT gateway.
   * @default false
   */
  createEndpoints: z._default(z.boolean(), false),
});

export type NetworkSettings = z.output<typeof networkSchema>;

/** CloudWatch Logs' allowed retention periods, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Control Tower's CT.CLOUDWATCH.PR.2 asks for at least this. */
export const CONTROL_TOWER_MIN_RETENTION_DAYS = 365;

export const logsSchema = z.strictObject({
  /**
   * Retention of every log group of the stack (Lambda and state machine logs).
   * @default 365 - Control Tower's CT.CLOUDWATCH.PR.2 minimum
   */
  retentionDays: z._default(
    z.union(
      LOG_RETENTION_DAYS.map((days) => z.literal(days)),
      { error: `must be one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(', ')}` },
    ),
    CONTROL_TOWER_MIN_RETENTION_DAYS,
  ),
  /**
   * A customer managed key to encrypt the log groups with; its policy must let `logs.<region>.amazonaws.com`
   * use it for this account's log groups. Omitted: the stack creates one (rotated).
   */
  kmsKeyArn: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/,
          'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
        ),
      ),
  ),
});

export type LogSettings = z.output<typeof logsSchema>;

/** Network checks across fields: what each setting needs from the others. */
export function checkNetworkSection(network: NetworkSettings, ctx: z.core.$RefinementCtx): void {
  const seen = new Set<string>();
  network.subnets.forEach((subnet, index) => {
    if (seen.has(subnet.id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'subnets', index, 'id'],
        message: `subnet ${subnet.id} is listed twice`,
      });
    }
    seen.add(subnet.id);
    if (network.createEndpoints && subnet.routeTableId === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'subnets', index, 'routeTableId'],
        message: `is required with createEndpoints: the DynamoDB gateway endpoint is added to the subnet's route table`,
      });
    }
  });
  if (network.createEndpoints) {
    // An interface endpoint takes at most one subnet per availability zone.
    const zones = new Map<string, string>();
    network.subnets.forEach((subnet, index) => {
      const other = zones.get(subnet.availabilityZone);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['network', 'subnets', index, 'availabilityZone'],
          message: `${subnet.availabilityZone} already has subnet ${other}: with createEndpoints, list one subnet per availability zone (an interface endpoint takes one per zone)`,
        });
      }
      zones.set(subnet.availabilityZone, subnet.id);
    });
  }
  if (!network.internetAccess && network.securityGroupIds === undefined && network.vpcCidr === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['network', 'vpcCidr'],
      message:
        'is required with internetAccess: false when the stack creates the security group: egress is limited to the VPC',
    });
  }
}

/** Where a Lambda runs: `NETWORK_PLACEMENT` in its environment, which the Kubernetes client checks. */
export type NetworkPlacement = 'vpc' | 'outside-vpc';

/**
 * With a network, every Lambda runs in it, except one that needs the internet when the subnets have no
 * route to it (`internetAccess: false`: the Slack notifier, the certificate check's AWS collector and prober):
 * outside a VPC it still reaches what it needs.
 */
export function networkPlacement(
  network: NetworkSettings | undefined,
  reaches: readonly FunctionPeer[],
): NetworkPlacement {
  if (network === undefined) return 'outside-vpc';
  return network.internetAccess || !reaches.includes('internet') ? 'vpc' : 'outside-vpc';
}
