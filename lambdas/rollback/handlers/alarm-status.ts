import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { readAlarmStatus, type AlarmStatus } from '../alarm-status';
import { correlateWithExecution, logger } from '../../shared/logger';
import { awsClientOptions } from '../../aws/client-options';

const cloudwatch = new CloudWatchClient(awsClientOptions());

export async function handler(event: { execution?: { id?: string } }): Promise<AlarmStatus> {
  correlateWithExecution(event.execution?.id);
  const status = await readAlarmStatus(event, { cloudwatch, now: () => new Date() });
  logger.info('alarm status', { state: status.state });
  return status;
}
