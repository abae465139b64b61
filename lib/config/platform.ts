import * as z from 'zod/mini';
import { boundedInt, clusterName, dnsLabel, dnsSubdomain } from './fields';
import { LOG_RETENTION_DAYS } from './network';
import type { RollbackSection } from './rollback';
import type { EksCluster } from './shared';

// The optional core platform (`platform:`): VPC, EKS, RDS PostgreSQL, Redis, S3 and the alarms the runbooks
// react to. Everything that differs between environments (sizes, counts, retention, protection) is a field
// here, so the constructs in lib/platform/ hold no `if (environment === 'production')`.

const availabilityZone = z
  .string()
  .check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an availability zone such as eu-west-1a'));

const vpcCidr = z
  .string()
  .check(
    z.regex(
      /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(1[6-9]|20)$/,
      'must be an IPv4 CIDR block with a prefix from /16 to /20 (nine subnets are cut from it)',
    ),
  );

const iamPrincipalArn = z
  .string()
  .check(
    z.regex(
      /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}$/,
      'must be an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)',
    ),
  );

const logRetentionDays = z.union(
  LOG_RETENTION_DAYS.map((days) => z.literal(days)),
  { error: `must be one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(', ')}` },
);

/** Interface endpoints the runbooks' Lambdas call from inside the VPC (lambdas/shared/function-table.ts). */
export const PLATFORM_INTERFACE_ENDPOINTS = [
  'eks',
  'monitoring',
  'secretsmanager',
  'states',
  'rds',
  'xray',
  'acm',
  'elasticloadbalancing',
] as const;
export type PlatformInterfaceEndpoint = (typeof PLATFORM_INTERFACE_ENDPOINTS)[number];

export const platformVpcSchema = z.strictObject({
  /** The VPC's CIDR block; each of the nine subnets (three tiers × three zones) gets a /22 or smaller. @default '10.0.0.0/16' */
  cidr: z._default(vpcCidr, '10.0.0.0/16'),
  /** NAT gateways: one per zone keeps a zone's egress up when another zone fails; one is cheaper. */
  natGateways: boundedInt(1, 3),
  /** Retention of the VPC flow logs. @default 365 */
  flowLogRetentionDays: z._default(logRetentionDays, 365),
  /**
   * Interface endpoints to create (gateway endpoints for S3 and DynamoDB are always created: they are free).
   * Without one, the runbooks reach that service through the NAT gateway. @default every service the runbooks call
   */
  interfaceEndpoints: z._default(z.array(z.enum(PLATFORM_INTERFACE_ENDPOINTS)), [
    ...PLATFORM_INTERFACE_ENDPOINTS,
  ]),
});

export const platformEksSchema = z.strictObject({
  /** The cluster's name; the runbooks find it by this name in `eksClusters`. */
  clusterName,
  /** Kubernetes version, e.g. "1.33". */
  version: z.string().check(z.regex(/^1\.\d{2}$/, 'must be a Kubernetes minor version such as 1.33')),
  /**
   * Whether the API server also has a public endpoint (only from `publicAccessCidrs`). False: private only,
   * reachable from the VPC (the runbooks' Lambdas run there). @default false
   */
  endpointPublicAccess: z._default(z.boolean(), false),
  /** Source ranges of the public endpoint, only with `endpointPublicAccess`. @default [] */
  publicAccessCidrs: z._default(
    z.array(z.string().check(z.regex(/^[\d.]+\/\d{1,2}$/, 'must be a CIDR'))),
    [],
  ),
  /** IAM roles or users given cluster-admin (AmazonEKSClusterAdminPolicy) through an access entry. */
  admins: z.array(iamPrincipalArn).check(z.minLength(1)),
  /** EKS refuses to delete the cluster while this is on. */
  deletionProtection: z.boolean(),
  /** Retention of the control-plane log group (`/aws/eks/<cluster>/cluster`). @default 365 */
  logRetentionDays: z._default(logRetentionDays, 365),
});

export const platformDatabaseSchema = z.strictObject({
  /** The DB instance identifier: the restore test and the alarms name it. */
  instanceIdentifier: z
    .string()
    .check(z.regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be an RDS identifier'), z.maxLength(63)),
  /** PostgreSQL version, major.minor, e.g. "17.6". */
  engineVersion: z.string().check(z.regex(/^\d{2}\.\d{1,2}$/, 'must be a PostgreSQL version such as 17.6')),
  /** e.g. db.t4g.medium, db.r6g.xlarge. */
  instanceClass: z.string().check(z.regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, 'must be an RDS instance class')),
  /** Initial storage (gp3). */
  allocatedStorageGiB: boundedInt(20, 65_536),
  /** Storage autoscaling ceiling; not below `allocatedStorageGiB`. */
  maxAllocatedStorageGiB: boundedInt(20, 65_536),
  /** A standby in a second zone. */
  multiAz: z.boolean(),
  /** RDS refuses to delete the instance while this is on; off, a deleted stack still leaves a final snapshot. */
  deletionProtection: z.boolean(),
  /** Automated backups (and point-in-time recovery) kept this many days. */
  backupRetentionDays: boundedInt(7, 30),
  /** Performance Insights retention: 7 (free) or a multiple of 31 up to 731. @default 7 */
  performanceInsightsRetentionDays: z._default(
    z.int().check(
      z.refine((days) => days === 7 || (days % 31 === 0 && days >= 31 && days <= 731), {
        message: 'must be 7 or a multiple of 31 up to 731',
      }),
    ),
    7,
  ),
  /** The database created in the instance. @default 'app' */
  databaseName: z._default(
    z.string().check(z.regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be a database name')),
    'app',
  ),
});

export const platformCacheSchema = z.strictObject({
  /** e.g. cache.t4g.small, cache.r7g.large. */
  nodeType: z.string().check(z.regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'must be an ElastiCache node type')),
  /** Replicas of the primary; multi-AZ failover needs at least one. */
  replicas: boundedInt(0, 5),
  /** Automatic failover to a replica in another zone. */
  multiAz: z.boolean(),
  /** Redis OSS version. @default '7.1' */
  engineVersion: z._default(z.string().check(z.regex(/^\d+\.\d+$/, 'must be a version such as 7.1')), '7.1'),
  /** Daily snapshots kept this many days (0: none). */
  snapshotRetentionDays: boundedInt(0, 35),
});

export const platformBucketsSchema = z.strictObject({
  /** Objects move to Glacier Flexible Retrieval after this many days. */
  glacierAfterDays: boundedInt(1, 3_650),
  /** Objects are deleted this many days after they were written; 0: never. */
  expireAfterDays: z._default(boundedInt(0, 36_500), 0),
});

/** A Deployment the platform watches; its alarms are wired to the rollback runbook by tag. */
export const platformWorkloadSchema = z.strictObject({
  namespace: dnsLabel,
  deployment: dnsSubdomain,
  /**
   * The ALB's `LoadBalancer` dimension (`app/<name>/<id>`, the end of its ARN), once EKS Auto Mode has
   * created it for the workload's Ingress. Omitted: no 5xx-rate or p99-latency alarm yet.
   */
  loadBalancer: z.optional(
    z
      .string()
      .check(z.regex(/^app\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/, 'must be app/<name>/<16 hex digits>')),
  ),
  /** The target group's dimension (`targetgroup/<name>/<id>`), to watch one service behind a shared ALB. */
  targetGroup: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/,
          'must be targetgroup/<name>/<16 hex digits>',
        ),
      ),
  ),
});
export type PlatformWorkload = z.output<typeof platformWorkloadSchema>;

export const platformAlarmsSchema = z.strictObject({
  /**
   * Prefix of the workload alarms' names; it must start with one of `rollback.tagDiscoveryAlarmPrefixes`,
   * so the rollback runbook's rule matches them.
   */
  workloadAlarmPrefix: z
    .string()
    .check(z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . -')),
  /** E-mail addresses subscribed to the platform's alarm topic. @default [] */
  emails: z._default(z.array(z.email()), []),
  /** RDS CPU above this percentage for 15 minutes. @default 80 */
  databaseCpuPercent: z._default(boundedInt(1, 100), 80),
  /** RDS free storage below this percentage of `allocatedStorageGiB`. @default 10 */
  databaseFreeStoragePercent: z._default(boundedInt(1, 90), 10),
  /** RDS connections above this for 5 minutes (about 80 % of the class's max_connections). */
  databaseConnections: boundedInt(1, 100_000),
  /** Container restarts of a workload's pods within an hour above this. @default 3 */
  podRestartsPerHour: z._default(boundedInt(1, 1_000), 3),
});

export const platformSectionSchema = z.strictObject({
  /** Three zones of the stack's region, named: synth looks nothing up. */
  availabilityZones: z.array(availabilityZone).check(z.length(3)),
  vpc: platformVpcSchema,
  eks: platformEksSchema,
  database: platformDatabaseSchema,
  cache: platformCacheSchema,
  buckets: platformBucketsSchema,
  alarms: platformAlarmsSchema,
  /** Deployments watched by the platform's alarms. @default [] */
  workloads: z._default(z.array(platformWorkloadSchema), []),
  /** Whether data stores (database final snapshot, buckets, keys) outlive a deleted stack. */
  retainData: z.boolean(),
});

export type PlatformSection = z.output<typeof platformSectionSchema>;
export type PlatformSectionInput = z.input<typeof platformSectionSchema>;

/**
 * Cross-section checks: a region to deploy to (the zones belong to one), the cluster among `eksClusters` (so
 * the runbooks get their access entries in it), the workload alarms' prefix among the rollback's, and the
 * sizes' own consistency.
 */
export function checkPlatformSection(
  {
    platform,
    region,
    eksClusters,
    rollback,
  }: {
    platform: PlatformSection;
    region?: string | undefined;

    eksClusters: EksCluster[];
    rollback?: RollbackSection | undefined;
  },
  ctx: z.core.$RefinementCtx,
): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path: ['platform', ...path], message });
  if (region === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['region'],
      message: 'is required with platform: its availability zones belong to one region',
    });
  }
  const zones = new Set<string>();
  platform.availabilityZones.forEach((zone, index) => {
    if (region !== undefined && !zone.startsWith(region)) {
      issue(['availabilityZones', index], `${zone} is not in region ${region}`);
    }
    if (zones.has(zone)) issue(['availabilityZones', index], `${zone} is listed twice`);
    zones.add(zone);
  });
  const cluster = eksClusters.find((candidate) => candidate.name === platform.eks.clusterName);
  if (!cluster) {
    issue(
      ['eks', 'clusterName'],
      `cluster "${platform.eks.clusterName}" is not listed in eksClusters: list it there so the runbooks get their access entries in it`,
    );
  }
  if (platform.eks.endpointPublicAccess && platform.eks.publicAccessCidrs.length === 0) {
    issue(
      ['eks', 'publicAccessCidrs'],
      'is required with endpointPublicAccess: never open the API server to 0.0.0.0/0',
    );
  }
  if (!platform.eks.endpointPublicAccess && platform.eks.publicAccessCidrs.length > 0) {
    issue(['eks', 'publicAccessCidrs'], 'is used only with endpointPublicAccess: true');
  }
  if (platform.database.maxAllocatedStorageGiB < platform.database.allocatedStorageGiB) {
    issue(['database', 'maxAllocatedStorageGiB'], 'must not be below allocatedStorageGiB');
  }
  if (platform.cache.multiAz && platform.cache.replicas === 0) {
    issue(['cache', 'replicas'], 'must be at least 1 with multiAz: failover needs a replica in another zone');
  }
  const prefixes = rollback?.tagDiscoveryAlarmPrefixes ?? [];
  if (
    platform.workloads.length > 0 &&
    !prefixes.some((prefix) => platform.alarms.workloadAlarmPrefix.startsWith(prefix))
  ) {
    issue(
      ['alarms', 'workloadAlarmPrefix'],
      `"${platform.alarms.workloadAlarmPrefix}" starts with none of rollback.tagDiscoveryAlarmPrefixes (${JSON.stringify(prefixes)}), so the workload alarms would never start the rollback runbook`,
    );
  }
  const seen = new Set<string>();
  platform.workloads.forEach((workload, index) => {
    const key = `${workload.namespace}/${workload.deployment}`;
    if (seen.has(key)) issue(['workloads', index], `${key} is listed twice`);
    seen.add(key);
    if (cluster && !cluster.namespaces.includes(workload.namespace)) {
      issue(
        ['workloads', index, 'namespace'],
        `namespace "${workload.namespace}" is not in eksClusters["${cluster.name}"].namespaces, so the rollback runbook could not act on it`,
      );
    }
    if (workload.targetGroup !== undefined && workload.loadBalancer === undefined) {
      issue(['workloads', index, 'targetGroup'], 'is used only with loadBalancer');
    }
  });
}

/** The tag the rollback runbook maps an alarm by (lib/config/rollback.ts `tagDiscoveryAlarmPrefixes`). */
export const ROLLBACK_TARGET_TAG = 'runbooks:rollback-target';

/** The value of `runbooks:rollback-target` for a workload of the platform's cluster. */
export function rollbackTargetTagValue(cluster: string, workload: PlatformWorkload): string {
  return `${cluster}/${workload.namespace}/${workload.deployment}`;
}
