import { Duration, Stack } from 'aws-cdk-lib';
import { type Archive, type CfnArchive, EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';

export interface LifecycleEventBusProps {
  /** Short environment name; the bus is named `platform-runbooks-<environment>`. */
  readonly environment: string;
  /**
   * How long published lifecycle events are kept for replay.
   * @default Duration.days(30)
   */
  readonly archiveRetention?: Duration;
}

/**
 * The custom EventBridge bus the runbooks publish their lifecycle to (`RunbookStarted`, `RollbackPerformed`…),
 * so other tools (a GitOps bot reverting the commit after a rollback) can react. Everything published is
 * archived (encrypted with an AWS owned key), so a consumer that was down can replay what it missed.
 */
export class LifecycleEventBus extends Construct {
  /** The bus, named `platform-runbooks-<environment>`. */
  public readonly bus: EventBus;
  /** The archive of every event published on the bus by this account. */
  public readonly archive: Archive;

  constructor(scope: Construct, id: string, props: LifecycleEventBusProps) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', {
      eventBusName: `platform-runbooks-${props.environment}`,
      description: `Lifecycle events of the platform runbooks (${props.environment})`,
    });
    this.archive = this.bus.archive('Archive', {
      description: `Every lifecycle event of the platform runbooks (${props.environment}), for replay`,
      // An archive needs a pattern; the account matches every event put on the bus.
      eventPattern: { account: [Stack.of(this).account] },
      retention: props.archiveRetention ?? Duration.days(30),
    });
    // Without a key CDK still writes `KmsKeyIdentifier: ""`, which some regions refuse at deploy
    // (aws-cdk issue 37847). Left out, the archive is encrypted with an AWS owned key, as the bus is.
    (this.archive.node.defaultChild as CfnArchive).addPropertyDeletionOverride('KmsKeyIdentifier');
  }
}
