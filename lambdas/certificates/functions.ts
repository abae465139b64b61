import type { RunbookFunctionTable } from '../shared/function-table';

/** The certificate check's Lambdas; read by `lib/certificate-check-runbook.ts` and by its rehearsal. */
export const certificateFunctions = {
  readTrigger: {
    handler: 'lambdas/certificates/handlers/read-trigger.ts',
    serviceName: 'certificates-read-trigger',
    substitution: 'ReadTriggerFunctionArn',
    description:
      'Certificate check: reads what started it (the schedule or an ACM event), rejects malformed events',
    reaches: [],
  },
  collectAws: {
    handler: 'lambdas/certificates/handlers/collect-aws.ts',
    serviceName: 'certificates-collect-aws',
    substitution: 'CollectAwsFunctionArn',
    description:
      'Certificate check: reads ACM (every region), IAM server certificates and listener certificates',
    // ACM in other regions (us-east-1 for CloudFront) and IAM, a global service, are not behind this region's
    // VPC endpoints: the function needs a route to them.
    reaches: ['acm', 'iam', 'elasticloadbalancing', 's3', 'internet'],
    // 10,000 certificates: 10 ListCertificates pages per region and DescribeCertificate for those near expiry.
    timeoutSeconds: 300,
    memoryMb: 512,
  },
  collectCertManager: {
    handler: 'lambdas/certificates/handlers/collect-cert-manager.ts',
    serviceName: 'certificates-collect-cert-manager',
    substitution: 'CollectCertManagerFunctionArn',
    description: "Certificate check: reads cert-manager Certificates in the clusters' granted namespaces",
    reaches: ['eks', 'kubernetes', 's3'],
    timeoutSeconds: 120,
  },
  probeEndpoints: {
    handler: 'lambdas/certificates/handlers/probe-endpoints.ts',
    serviceName: 'certificates-probe-endpoints',
    substitution: 'ProbeEndpointsFunctionArn',
    description: 'Certificate check: probes the configured TLS endpoints (chain, expiry, trust, protocol)',
    reaches: ['internet', 's3'],
    // The configuration bounds a run's worst case (every endpoint hanging) below this: see
    // certificates.probeTimeoutSeconds in lib/config/certificates.ts.
    timeoutSeconds: 900,
    memoryMb: 512,
  },
  report: {
    handler: 'lambdas/certificates/handlers/report.ts',
    serviceName: 'certificates-report',
    substitution: 'ReportFunctionArn',
    description: 'Certificate check: classifies, writes the report to S3, publishes DaysToExpiry metrics',
    reaches: ['s3'],
    timeoutSeconds: 300,
    memoryMb: 1024,
  },
} as const satisfies RunbookFunctionTable;
