import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import * as z from 'zod/mini';
import { boundedInt, clusterName } from './fields';
import type { EksCluster } from './shared';

// The certificate check's section of the configuration (`certificates:`), its checks against the shared
// sections, and what the runbook is deployed with, derived from it.

/** A host name (IDN and a trailing root dot allowed) or an IP address. */
const host = z.string().check(
  z.minLength(1),
  z.maxLength(253),
  z.refine(
    (value) =>
      isIP(value) !== 0 ||
      /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(
        domainToASCII(value) || '-',
      ),
    'must be a host name (IDN allowed) or an IP address',
  ),
);

/** One live TLS endpoint the check probes. */
export const certificateEndpointSchema = z.strictObject({
  host,
  /** @default 443 */
  port: z._default(boundedInt(1, 65_535), 443),
  /** The SNI name sent and verified, when it is not `host` (an endpoint reached by address). @default host */
  servername: z.optional(host),
  /**
   * Its own CloudWatch alarm on `DaysToExpiry` (missing data breaching), beside the check's alarm on the
   * earliest expiry of all. Each costs $0.10 a month. @default false
   */
  alarm: z._default(z.boolean(), false),
});
export type CertificateEndpoint = z.output<typeof certificateEndpointSchema>;

const pemCertificate = z.string().check(
  z.refine((value) => {
    try {
      new X509Certificate(value);
      return true;
    } catch {
      return false;
    }
  }, 'must be a PEM certificate (-----BEGIN CERTIFICATE-----…)'),
);

/** A private CA the probes trust besides the system roots. */
export const trustedCaSchema = z.strictObject({
  /** What people call it, in the report. */
  name: z.string().check(z.minLength(1), z.maxLength(100)),
  pem: pemCertificate,
});

/** The most endpoints one run probes: their list travels in the probe step's input (256 KB). */
export const MAX_ENDPOINTS = 2_000;
/** What a probe run may take at worst, inside the probe function's 900 s timeout. */
export const PROBE_BUDGET_SECONDS = 840;
/** The probe step's settings must leave room in its 256 KB input. */
export const MAX_PROBE_SETTINGS_BYTES = 200_000;

export const certificatesSectionSchema = z.strictObject({
  /** An EventBridge Scheduler expression. @default 'cron(0 6 * * ? *)' (daily, 06:00) */
  schedule: z._default(
    z.string().check(z.regex(/^(cron|rate)\(.+\)$/, 'must be a cron(…) or rate(…) expression')),
    'cron(0 6 * * ? *)',
  ),
  /** IANA time zone of the schedule. @default 'UTC' */
  timeZone: z._default(z.string().check(z.minLength(1)), 'UTC'),
  /**
   * Regions whose ACM certificates and load balancers are read, besides the stack's own region and us-east-1
   * (CloudFront's), which are always read. @default []
   */
  regions: z._default(
    z.array(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region, e.g. eu-west-1'))),
    [],
  ),
  /** Fewer days to expiry than this: warning. @default 30 */
  warningDays: z._default(boundedInt(2, 365), 30),
  /** Fewer days to expiry than this: critical; the check's alarm fires below it. @default 7 */
  criticalDays: z._default(boundedInt(1, 364), 7),
  /** The ACM events (approaching expiration, expired, renewal action required) start a check of that certificate. @default true */
  acmEvents: z._default(z.boolean(), true),
  /**
   * Clusters whose cert-manager `Certificate` resources are read, in the namespaces `eksClusters` grants;
   * `[]` reads none. @default - every cluster of `eksClusters`
   */
  certManagerClusters: z.optional(z.array(clusterName)),
  /** Live TLS endpoints. @default [] */
  endpoints: z._default(
    z
      .array(certificateEndpointSchema)
      .check(z.maxLength(MAX_ENDPOINTS, `must list at most ${MAX_ENDPOINTS} endpoints`)),
    [],
  ),
  /** Private CAs the probes trust besides the system roots. @default [] */
  trustedCas: z._default(z.array(trustedCaSchema).check(z.maxLength(20)), []),
  /** Budget of one probe: DNS, TCP connect and TLS handshake. @default 10 */
  probeTimeoutSeconds: z._default(boundedInt(1, 60), 10),
  /** Endpoints probed at once. @default 50 */
  probeConcurrency: z._default(boundedInt(1, 500), 50),
  /** How long reports stay in the bucket. @default 400 */
  reportRetentionDays: z._default(boundedInt(7, 3_650), 400),
});
export type CertificatesSection = z.output<typeof certificatesSectionSchema>;

/** The probe step's settings as the workflow hands them over. */
export interface ProbeSettings {
  endpoints: Array<{ host: string; port: number; servername?: string }>;
  trustedCas: string[];
  timeoutMs: number;
  concurrency: number;
}

export function probeSettings(settings: CertificatesSection): ProbeSettings {
  return {
    endpoints: settings.endpoints.map(({ host, port, servername }) => ({
      host,
      port,
      ...(servername !== undefined && { servername }),
    })),
    trustedCas: settings.trustedCas.map((ca) => ca.pem),
    timeoutMs: settings.probeTimeoutSeconds * 1000,
    concurrency: settings.probeConcurrency,
  };
}

/** The identity a probe gives an endpoint's line and its `DaysToExpiry` metric (probe.ts builds the same). */
export function endpointId(endpoint: Pick<CertificateEndpoint, 'host' | 'port' | 'servername'>): string {
  const name = (endpoint.servername ?? endpoint.host).replace(/\.$/, '');
  const sni = isIP(name) ? undefined : domainToASCII(name) || name;
  const host = isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}${sni ? ` (${sni})` : ''}`;
}

export function checkCertificatesSection(
  { certificates, eksClusters }: { certificates: CertificatesSection; eksClusters: EksCluster[] },
  ctx: z.core.$RefinementCtx,
): void {
  if (certificates.criticalDays >= certificates.warningDays) {
    ctx.addIssue({
      code: 'custom',
      path: ['certificates', 'criticalDays'],
      message: `must be less than warningDays (${certificates.warningDays})`,
    });
  }
  const known = new Set(eksClusters.map((cluster) => cluster.name));
  (certificates.certManagerClusters ?? []).forEach((name, index) => {
    if (!known.has(name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['certificates', 'certManagerClusters', index],
        message: `cluster "${name}" is not listed in eksClusters`,
      });
    }
  });
  const seen = new Map<string, number>();
  certificates.endpoints.forEach((endpoint, index) => {
    const id = endpointId(endpoint);
    const first = seen.get(id);
    if (first !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['certificates', 'endpoints', index],
        message: `${id} is listed twice (also at endpoints[${first}])`,
      });
    } else seen.set(id, index);
  });
  // The probe step's worst case is every endpoint hanging until its timeout; it must end inside the
  // function's 900 s, with room to write the results.
  const rounds = Math.ceil(certificates.endpoints.length / certificates.probeConcurrency);
  if (rounds * certificates.probeTimeoutSeconds > PROBE_BUDGET_SECONDS) {
    ctx.addIssue({
      code: 'custom',
      path: ['certificates', 'probeConcurrency'],
      message: `${certificates.endpoints.length} endpoints at ${certificates.probeConcurrency} at a time with a ${certificates.probeTimeoutSeconds} s timeout can take ${rounds * certificates.probeTimeoutSeconds} s, beyond the probe step's ${PROBE_BUDGET_SECONDS} s: raise probeConcurrency or lower probeTimeoutSeconds`,
    });
  }
  const bytes = Buffer.byteLength(JSON.stringify(probeSettings(certificates)));
  if (bytes > MAX_PROBE_SETTINGS_BYTES) {
    ctx.addIssue({
      code: 'custom',
      path: ['certificates', 'endpoints'],
      message: `the endpoints and trusted CAs take ${bytes} bytes; at most ${MAX_PROBE_SETTINGS_BYTES} fit the probe step's input`,
    });
  }
}

/** What the construct and the rehearsal both derive from the section. */
export interface CertificateCheckRuntime {
  /** `definitionSubstitutions`. */
  substitutions: Record<string, string>;
  /** The clusters (with their granted namespaces) whose cert-manager Certificates are read. */
  certManagerClusters: EksCluster[];
  /** Environment of the AWS collector, beside the kit's. */
  collectAwsEnvironment: Record<string, string>;
  /** Environment of the cert-manager collector. */
  collectCertManagerEnvironment: Record<string, string>;
  /** Environment of the report step. */
  reportEnvironment: Record<string, string>;
  /** Environment of the trigger reader. */
  readTriggerEnvironment: Record<string, string>;
}

/** A JSON document as the content of an ASL string literal: substituted between the quotes of `"${…}"`. */
const asAslString = (value: unknown): string => JSON.stringify(JSON.stringify(value)).slice(1, -1);

export function certificateCheckRuntime({
  environment,
  settings,
  clusters,
}: {
  environment: string;
  settings: CertificatesSection;
  clusters: EksCluster[];
}): CertificateCheckRuntime {
  const names = settings.certManagerClusters ?? clusters.map((cluster) => cluster.name);
  const certManagerClusters = clusters.filter((cluster) => names.includes(cluster.name));
  return {
    substitutions: { ProbeSettings: asAslString(probeSettings(settings)) },
    certManagerClusters,
    collectAwsEnvironment: { REGIONS: JSON.stringify(settings.regions) },
    collectCertManagerEnvironment: {
      CERT_MANAGER_CLUSTERS: JSON.stringify(
        certManagerClusters.map(({ name, namespaces }) => ({ name, namespaces })),
      ),
    },
    reportEnvironment: {
      ENVIRONMENT_NAME: environment,
      WARNING_DAYS: String(settings.warningDays),
      CRITICAL_DAYS: String(settings.criticalDays),
    },
    readTriggerEnvironment: { REGIONS: JSON.stringify(settings.regions) },
  };
}
