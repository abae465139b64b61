import type { RunbookFunctionTable } from '../shared/function-table';

/** The cost right-sizing report's Lambdas; read by `lib/rightsizing-report-runbook.ts` and by its rehearsal. */
export const rightsizingFunctions = {
  collectWorkloads: {
    handler: 'lambdas/rightsizing/handlers/collect-workloads.ts',
    serviceName: 'rightsizing-collect-workloads',
    substitution: 'CollectWorkloadsFunctionArn',
    description:
      "Right-sizing report: reads one cluster's workloads (requests, HPAs) and their Container Insights usage, sizes them",
    reaches: ['eks', 'kubernetes', 'monitoring', 's3'],
    // 10,000 workloads × 14 days of 5-minute data: hundreds of GetMetricData pages (npm run bench).
    timeoutSeconds: 900,
    memoryMb: 2048,
  },
  collectCompute: {
    handler: 'lambdas/rightsizing/handlers/collect-compute.ts',
    serviceName: 'rightsizing-collect-compute',
    substitution: 'CollectComputeFunctionArn',
    description:
      'Right-sizing report: sizes EC2 instances, Auto Scaling groups and RDS instances (Compute Optimizer, else CloudWatch)',
    reaches: ['compute-optimizer', 'ec2', 'rds', 'monitoring', 's3'],
    timeoutSeconds: 600,
    memoryMb: 1024,
  },
  report: {
    handler: 'lambdas/rightsizing/handlers/report.ts',
    serviceName: 'rightsizing-report',
    substitution: 'RightsizingReportFunctionArn',
    description:
      'Right-sizing report: prices every line, writes the CSV, Markdown and HTML report, answers the Slack summary',
    // The Price List API has endpoints in us-east-1, eu-central-1 and ap-south-1 only: a route out is needed.
    reaches: ['s3', 'pricing', 'internet'],
    timeoutSeconds: 600,
    memoryMb: 2048,
  },
} as const satisfies RunbookFunctionTable;
