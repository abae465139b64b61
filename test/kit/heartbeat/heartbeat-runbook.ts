import { fileURLToPath } from 'node:url';
import { Duration, TimeZone, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { RunbookFunction } from '../../../lib/runbook-function';
import type { RunbookSharedResources } from '../../../lib/runbook-shared-resources';
import { RunbookStateMachine } from '../../../lib/runbook-state-machine';
import { heartbeatSubstitutions, type HeartbeatSection } from './config';
import { heartbeatFunctions } from './functions';

export interface HeartbeatRunbookProps {
  readonly shared: RunbookSharedResources;
  readonly settings: HeartbeatSection;
}

/** A test-only runbook on a schedule: one Lambda, a notification, a lifecycle event; all else is the kit. */
export class HeartbeatRunbook extends Construct {
  public readonly checkFunction: RunbookFunction;
  public readonly workflow: RunbookStateMachine;

  constructor(scope: Construct, id: string, props: HeartbeatRunbookProps) {
    super(scope, id);
    const { shared, settings } = props;
    const role = new Role(this, 'CheckRole', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords define no resource types, so they cannot be scoped.',
    });
    this.checkFunction = new RunbookFunction(this, 'CheckFunction', {
      definition: heartbeatFunctions.check,
      platform: shared,
      role,
    });
    this.workflow = new RunbookStateMachine(this, 'Workflow', {
      runbook: 'heartbeat',
      shared,
      definitionPath: fileURLToPath(new URL('heartbeat.asl.json', import.meta.url)),
      functions: [this.checkFunction],
      substitutions: heartbeatSubstitutions(settings),
      timeout: Duration.minutes(5),
      trigger: {
        kind: 'schedule',
        description: `Heartbeat of the runbook kit (${shared.environment})`,
        schedule: ScheduleExpression.expression(settings.schedule, TimeZone.of(settings.timeZone)),
        ...(settings.flexibleWindowMinutes > 0 && {
          flexibleWindow: Duration.minutes(settings.flexibleWindowMinutes),
        }),
      },
    });
  }
}
