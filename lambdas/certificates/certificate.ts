// What the certificate check knows about one certificate, whatever its source: the inventory adapters
// (ACM, IAM, load balancers, cert-manager) and the live TLS probes each produce these, and classification
// and the report read only these.

/** Where a certificate was found. */
export type CertificateSource = 'acm' | 'iam' | 'load-balancer' | 'cert-manager' | 'endpoint';

/** Something wrong with a certificate besides its expiry date, each with what to do about it. */
export interface CertificateProblem {
  /** Stable code the report groups on, e.g. `renewal-failed`, `hostname-mismatch`, `sha1-signature`. */
  code: string;
  /** One sentence for the person on call: what is wrong and what to do. */
  text: string;
}

export interface ObservedCertificate {
  source: CertificateSource;
  /** Stable identity of the line: an ARN, `namespace/name` for cert-manager, `host:port (sni)` for a probe. */
  id: string;
  /** What a person calls it: the domain name, the endpoint, the Certificate resource. */
  name: string;
  /** AWS region, or the cluster for cert-manager; undefined for a live endpoint. */
  location?: string;
  /**
   * The earliest expiry that matters, ISO 8601: for a probe, the earliest `notAfter` anywhere in the chain the
   * server presented (an intermediate can expire before the leaf). Undefined when unknown (unreachable).
   */
  notAfter?: string;
  /** Which certificate of a chain expires at `notAfter`, when it is not the leaf (e.g. the intermediate's subject). */
  expiringCertificate?: string;
  /** Whether the owner renews it by itself: ACM-issued (eligible), cert-manager; imported and IAM never. */
  renewsAutomatically: boolean;
  /** What uses it (load balancer ARNs, CloudFront…), as the source reports it. */
  inUseBy: string[];
  problems: CertificateProblem[];
}
