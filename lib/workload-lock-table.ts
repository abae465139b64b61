import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

export interface WorkloadLockTableProps {
  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN - the table holds the rollback cooldowns and the canary locks: deleting it
   * with a stack update would let a second rollback of a just-rolled-back Deployment through.
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * One item per workload (`cluster/namespace/deployment`): the rollback cooldown and the lock that keeps two
 * runbooks (a rollback and a canary promotion, say) from acting on the same Deployment at once.
 * Items expire through the `ttl` attribute (epoch seconds), so a crashed run cannot hold a lock forever.
 * On demand, point-in-time recovery, encrypted with the AWS-managed key.
 */
export class WorkloadLockTable extends Construct {
  /** The table; partition key `workload` (string), TTL attribute `ttl`. */
  public readonly table: Table;

  constructor(scope: Construct, id: string, props: WorkloadLockTableProps = {}) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'workload', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'ttl',
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
