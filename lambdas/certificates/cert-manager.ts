import type { KubernetesClient } from '../kubernetes/client';
import { KubernetesNotFound, KubernetesTlsMismatch, KubernetesUnauthorized } from '../kubernetes/errors';
import type { Certificate, CertificateCondition } from '../kubernetes/resources';
import { mapConcurrently } from '../shared/concurrency';
import type { CertificateProblem, ObservedCertificate } from './certificate';
import type { SourceFailure } from './parts';

// cert-manager's Certificates in the granted namespaces of each cluster, one line each, with what cert-manager
// itself says is wrong: not Ready, late to renew, never issued. A cluster or namespace that cannot be read is
// reported, not fatal: the others still make the report.

const SOURCE = 'cert-manager';

/**
 * How long past `status.renewalTime` a Certificate may be before it is reported. A renewal that works replaces
 * renewalTime within minutes (an ACME order with DNS propagation included); one that fails is retried after an
 * hour at the earliest (cert-manager backs off 1 h × 2^(failures − 1)). An hour late, at least one attempt has
 * failed or none ran.
 */
const RENEWAL_GRACE_MS = 60 * 60_000;

/**
 * Lists in flight at once, over all clusters: light on each API server's share for one user (API Priority and
 * Fairness), and bounded when a cluster hangs: 8 namespaces per 5 s client timeout fit the step's 120 s.
 */
const DEFAULT_CONCURRENCY = 8;

/** A condition's message is quoted in the report and in Slack; cert-manager's can carry a whole ACME error. */
const MAX_QUOTE = 300;

/**
 * Errors that say nothing about one namespace: the type is not served (cert-manager not installed), the cluster
 * does not authenticate the role, or the API server is not the cluster's. One failure for the cluster, not one
 * per namespace.
 */
const CLUSTER_WIDE_ERRORS = [KubernetesNotFound, KubernetesUnauthorized, KubernetesTlsMismatch];

export interface CertManagerCluster {
  name: string;
  /** The namespaces the role's access entry is scoped to. */
  namespaces: readonly string[];
}

export interface CertManagerSources {
  clusters: readonly CertManagerCluster[];
  clientFor: (cluster: string) => Promise<KubernetesClient>;
}

export interface CertManagerInventory {
  certificates: ObservedCertificate[];
  failures: SourceFailure[];
}

export interface CertManagerOptions {
  now: Date;
  /** Namespaces listed at once, over all clusters. @default 8 */
  concurrency?: number;
}

type Connection = { cluster: CertManagerCluster } & (
  { client: KubernetesClient; error?: undefined } | { client?: undefined; error: unknown }
);
type Listing = { ok: true; items: Certificate[] } | { ok: false; error: unknown };

/**
 * Reads every cluster's granted namespaces, `concurrency` at a time, into one line per Certificate. A cluster
 * whose client cannot be had (DescribeCluster, an endpoint out of reach) is one failure located at the cluster,
 * and so is a cluster-wide error, however many namespaces met it; any other failed read is located at
 * `<cluster>/<namespace>`. Lines and failures follow the order of the clusters and their namespaces.
 */
export async function collectCertManagerCertificates(
  { clusters, clientFor }: CertManagerSources,
  { now, concurrency = DEFAULT_CONCURRENCY }: CertManagerOptions,
): Promise<CertManagerInventory> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a whole number of at least 1, got ${concurrency}`);
  }
  const connected = await Promise.all(
    clusters.map(async (cluster): Promise<Connection> => {
      try {
        return { cluster, client: await clientFor(cluster.name) };
      } catch (error) {
        return { cluster, error };
      }
    }),
  );
  const reads = connected.flatMap(({ cluster, client }) =>
    client ? [...new Set(cluster.namespaces)].map((namespace) => ({ cluster, client, namespace })) : [],
  );
  const listings = await mapConcurrently(
    reads,
    concurrency,
    async ({ client, namespace }): Promise<Listing> => {
      try {
        return { ok: true, items: await client.listCertificates(namespace) };
      } catch (error) {
        return { ok: false, error };
      }
    },
  );

  const certificates: ObservedCertificate[] = [];
  const failures: SourceFailure[] = [];
  for (const outcome of connected) {
    const cluster = outcome.cluster.name;
    if (!outcome.client) {
      failures.push(failure(cluster, outcome.error));
      continue;
    }
    const reported = new Set<string>();
    reads.forEach((read, index) => {
      const listing = listings[index];
      if (read.cluster !== outcome.cluster || !listing) return;
      if (listing.ok) {
        for (const certificate of listing.items) certificates.push(line(cluster, certificate, now));
      } else if (CLUSTER_WIDE_ERRORS.some((ErrorClass) => listing.error instanceof ErrorClass)) {
        const { name } = listing.error as Error;
        if (!reported.has(name)) failures.push(failure(cluster, listing.error));
        reported.add(name);
      } else {
        failures.push(failure(`${cluster}/${read.namespace}`, listing.error));
      }
    });
  }
  return { certificates, failures };
}

function failure(location: string, error: unknown): SourceFailure {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { source: SOURCE, location, error: text };
}

function line(cluster: string, certificate: Certificate, now: Date): ObservedCertificate {
  const { metadata, spec, status } = certificate;
  const resource = `${metadata.namespace}/${metadata.name}`;
  const domain = [spec.commonName, ...(spec.dnsNames ?? [])].find(Boolean);
  return {
    source: SOURCE,
    id: `${cluster}/${resource}`,
    name: domain ? `${resource} (${domain})` : resource,
    location: cluster,
    ...(status?.notAfter && { notAfter: new Date(status.notAfter).toISOString() }),
    renewsAutomatically: true,
    inUseBy: [`secret ${metadata.namespace}/${spec.secretName}`],
    problems: problemsOf(certificate, now),
  };
}

function problemsOf({ metadata, spec, status }: Certificate, now: Date): CertificateProblem[] {
  const problems: CertificateProblem[] = [];
  const conditions = status?.conditions ?? [];
  const ready = conditions.find((condition) => condition.type === 'Ready');
  const issuing = conditions.find((condition) => condition.type === 'Issuing');
  const describe = `kubectl describe certificate -n ${metadata.namespace} ${metadata.name}`;
  const issuer = `${spec.issuerRef.kind ?? 'Issuer'} ${spec.issuerRef.name}`;

  if (!ready) {
    problems.push({
      code: 'not-ready',
      text: `cert-manager reports no Ready condition for it, so nothing says the Secret is kept current: check that cert-manager is running and reconciles namespace ${metadata.namespace} (${describe}).`,
    });
  } else if (ready.status !== 'True') {
    problems.push({
      code: 'not-ready',
      text: `cert-manager reports it not Ready (${ready.status}${quoted(ready)}): fix what that says in the Certificate, its CertificateRequest or its ${issuer} (${describe}).`,
    });
  }

  const { renewalTime, notAfter, failedIssuanceAttempts } = status ?? {};
  if (renewalTime && now.getTime() - Date.parse(renewalTime) > RENEWAL_GRACE_MS) {
    const attempts = failedIssuanceAttempts
      ? `, after ${failedIssuanceAttempts} failed issuance ${failedIssuanceAttempts === 1 ? 'attempt' : 'attempts'}`
      : '';
    const why =
      issuing && issuing.status !== 'True'
        ? ` (Issuing ${issuing.status}${quoted(issuing)})`
        : issuing
          ? ', though an issuance is under way (Issuing True)'
          : '';
    const expires = notAfter ? ` before the current certificate expires at ${notAfter}` : '';
    problems.push({
      code: 'past-renewal-time',
      text: `cert-manager should have renewed it at ${renewalTime} and has not${attempts}${why}: fix the issuance through its CertificateRequest and ${issuer}${expires} (${describe}).`,
    });
  }

  if (!notAfter) {
    problems.push({
      code: 'not-issued',
      text: `cert-manager has never issued it (no status.notAfter), so Secret ${metadata.namespace}/${spec.secretName} holds no certificate from it: find what blocks the first issuance in its CertificateRequest and ${issuer} (${describe}).`,
    });
  }
  return problems;
}

/** `, reason X: "message"`, on one line and cut to a length a report line can carry. */
function quoted({ reason, message }: CertificateCondition): string {
  const text = (message ?? '').replace(/\s+/g, ' ').trim();
  const cut = text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE - 1)}…` : text;
  return `${reason ? `, reason ${reason}` : ''}${cut ? `: "${cut}"` : ''}`;
}
