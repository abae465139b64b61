/**
 * An AWS service a Lambda calls, by its VPC endpoint name (`com.amazonaws.<region>.<name>`): the stack
 * creates those endpoints for the Lambdas it places in a VPC (`network.createEndpoints`).
 */
export type AwsServicePeer =
  | 'eks'
  | 'monitoring'
  | 'dynamodb'
  | 'secretsmanager'
  | 'states'
  | 's3'
  | 'acm'
  | 'elasticloadbalancing'
  | 'iam'
  | 'rds'
  | 'ec2'
  | 'autoscaling'
  | 'compute-optimizer'
  | 'pricing';

/**
 * What a Lambda reaches over the network: AWS services, a cluster's Kubernetes API server (public or private
 * endpoint), a database inside the VPC (a restored RDS instance, on its port), or the internet (Slack). `test/conventions/function-peers.test.ts` checks the list against the
 * clients its bundle contains.
 */
export type FunctionPeer = AwsServicePeer | 'kubernetes' | 'database' | 'internet';

/**
 * One Lambda of a runbook, written once: the runbook's construct deploys it from this entry, and the
 * rehearsal binds the same handler to the ASL state that the same substitution names, so the two cannot
 * disagree about which code runs where.
 */
export interface RunbookFunctionEntry {
  /** The handler file, relative to the repository root, e.g. `lambdas/rollback/handlers/prepare.ts`. */
  readonly handler: string;
  /** `POWERTOOLS_SERVICE_NAME`, and the function's name in the rehearsal's timeline. */
  readonly serviceName: string;
  /** The `definitionSubstitutions` key whose value is the function's ARN in the ASL file. */
  readonly substitution: string;
  /** The function's description in the console. */
  readonly description: string;
  /** Everything it calls over the network: where it may run, and which VPC endpoints it needs. */
  readonly reaches: readonly FunctionPeer[];
  /**
   * Its timeout, when the kit's 30 s is not enough: written here, so the ASL rule that gives each Task a
   * longer `TimeoutSeconds` reads the same number the construct deploys.
   * @default 30
   */
  readonly timeoutSeconds?: number;
  /** @default 256 */
  readonly memoryMb?: number;
}

/** A runbook's Lambdas by their role in it (`prepare`, `undo`…). */
export type RunbookFunctionTable = Readonly<Record<string, RunbookFunctionEntry>>;
