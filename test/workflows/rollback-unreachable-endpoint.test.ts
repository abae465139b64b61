import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunbooksConfig } from '../../lib/config/schema';
import { LOCK_TABLE, ON_CALL_TOPIC, Rehearsal, type RehearsalResult } from '../harness/rehearsal';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { CHECKOUT, OFFICE_CIDR } from '../harness/rollback/scenarios';

// Its own file: a warm function keeps the client of a cluster it reached, so these refusals need functions that
// have not yet reached prod-eks, as after a deploy; the last test reaches it.
let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  rehearsal = await Rehearsal.start(rehearsedRunbook);
});
afterAll(() => rehearsal?.close());

const only = async (name: string): Promise<RehearsalResult> => {
  const [result, ...rest] = await rehearsal.runScenario(name);
  expect(rest).toHaveLength(0);
  return result as RehearsalResult;
};
const slackTexts = () => rehearsal.slack.messages.map((message) => JSON.stringify(message.body));

describe('the rollback runbook outside a VPC, against an endpoint it cannot reach', () => {
  it('runs its functions outside a VPC when the configuration has no network', () => {
    expect(rehearsal.config.network).toBeUndefined();
    expect(process.env.NETWORK_PLACEMENT).toBe('outside-vpc');
  });

  it.each([
    [
      'private-cluster-outside-vpc',
      'EKS cluster prod-eks has a private-only API endpoint, and this Lambda runs outside a VPC: set `network`',
    ],
    [
      'restricted-public-endpoint',
      `EKS cluster prod-eks has its public API endpoint restricted to ${OFFICE_CIDR}, and a Lambda outside a VPC has no fixed source address: set \`network\``,
    ],
  ])(
    '%s: refuses by name before any Kubernetes request, pages once, releases the lock',
    async (name, says) => {
      const result = await only(name);

      // As every Prepare failure ends: page, Slack, RollbackNotStarted; no lifecycle event.
      // Paged (or, for a malformed event, told Slack): it ends without failing, so no second page.
      expect(result.status).toBe('SUCCEEDED');
      expect(result.states.at(-1)).toBe('PreparationFailed');
      expect(result.states.slice(-5)).toEqual([
        'PagePreparationFailed',
        'SendPreparationPage',
        'NotifyPreparationFailed',
        'PreparationPageDelivered',
        'PreparationFailed',
      ]);
      // A configuration problem: not retried, and nothing after Prepare ran.
      expect(result.lambdaInvocations.filter((call) => call.name !== 'notify-slack')).toEqual([
        expect.objectContaining({ name: 'rollback-prepare', error: 'ClusterEndpointUnreachable' }),
      ]);
      expect(rehearsal.cluster().requests).toHaveLength(0);
      expect(
        rehearsal.cluster().getDeployment(CHECKOUT.namespace, CHECKOUT.deployment)?.spec.template.spec
          ?.containers?.[0]?.image,
      ).toBe(CHECKOUT.images[2]);
      expect((await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE))?.holder).toBeUndefined();
      expect(rehearsal.account.events).toHaveLength(0);

      expect(rehearsal.account.pages).toHaveLength(1);
      const [page] = rehearsal.account.pages;
      expect(page?.topicArn).toBe(ON_CALL_TOPIC);
      expect(page?.message).toMatchObject({
        content: {
          title: '[prod] Rollback runbook could not start: ClusterEndpointUnreachable',
          description: expect.stringContaining(says),
        },
      });
      expect(rehearsal.slack.messages).toHaveLength(1);
      expect(slackTexts()[0]).toContain('ClusterEndpointUnreachable');
      expect(slackTexts()[0]).toContain(`*Cause:* ${says}`);
    },
  );

  it('keeps the refusal out of the warm functions: once the endpoint is open, the same functions roll back', async () => {
    const result = await only('healthy');
    expect(result.status).toBe('SUCCEEDED');
    expect(rehearsal.cluster().requests.filter((request) => request.method === 'PATCH')).toHaveLength(1);
  });

  it('will not rehearse private-cluster without its network, which would report a refusal instead', async () => {
    await expect(rehearsal.runScenario('private-cluster')).rejects.toThrow(
      'Scenario "private-cluster" runs with its own configuration',
    );
  });
});
