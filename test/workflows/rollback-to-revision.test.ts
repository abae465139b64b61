import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load';
import type { RunbooksConfig } from '../../lib/config/schema';
import { Rehearsal } from '../harness/rehearsal';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { CHECKOUT } from '../harness/rollback/scenarios';

// Its own file: the handlers read their settings once per process, as in Lambda, so a second configuration
// needs a second module graph.
let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const config = loadConfig(fileURLToPath(new URL('../../lib/config/example.yaml', import.meta.url)));
  const checkout = config.rollback?.targets.find((target) => target.alarmName === CHECKOUT.alarm);
  if (!checkout) throw new Error('the example configuration no longer maps the checkout alarm');
  checkout.toRevision = 1;
  rehearsal = await Rehearsal.start(rehearsedRunbook, config);
});
afterAll(() => rehearsal?.close());

describe('the rollback runbook with toRevision in the configuration', () => {
  it('rolls back to that revision, as kubectl rollout undo --to-revision does, not to the previous one', async () => {
    const [result] = await rehearsal.runScenario('healthy');
    expect(result?.status).toBe('SUCCEEDED');
    const deployment = rehearsal.cluster().getDeployment(CHECKOUT.namespace, CHECKOUT.deployment);
    expect(deployment?.spec.template.spec?.containers?.[0]?.image).toBe(CHECKOUT.images[0]);
    const performed = rehearsal.account.events.find((event) => event.detailType === 'RollbackPerformed');
    expect(performed?.detail).toMatchObject({
      fromRevision: 3,
      toRevision: 1,
      toImages: [CHECKOUT.images[0]],
    });
  });
});
