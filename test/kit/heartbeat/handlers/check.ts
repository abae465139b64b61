import { checkHeartbeat, type HeartbeatCheck } from '../check';

export async function handler(event: unknown): Promise<HeartbeatCheck> {
  return checkHeartbeat(event, () => new Date());
}
