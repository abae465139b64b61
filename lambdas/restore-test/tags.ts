import { RestoreTestTag } from '../../lib/config/restore-tests';

/** The tags a run puts on what it creates (at create): they let only this runbook delete it, and only its run. */
export function restoreTestTags({
  environment,
  executionId,
  database,
  now,
}: {
  environment: string;
  executionId: string;
  database: string;
  now: Date;
}): Record<string, string> {
  return {
    [RestoreTestTag.marker]: environment,
    [RestoreTestTag.execution]: executionId,
    [RestoreTestTag.database]: database,
    [RestoreTestTag.createdAt]: now.toISOString(),
    Name: `Restore test of ${database} (platform-runbooks, ${environment})`,
  };
}
