import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunbooksConfig } from '../../lib/config/schema';
import { Rehearsal, type RehearsalResult, type Scenario } from '../harness/rehearsal';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { alarmEvent, CHECKOUT } from '../harness/rollback/scenarios';

// What the rollback's Slack messages say on each route, read from the real local receiver: the ASL builds the
// generic report (facts, changes, figures) and the rollback's Lambdas word the guards; the notifier knows neither.
let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  rehearsal = await Rehearsal.start(rehearsedRunbook);
});
afterAll(() => rehearsal?.close());

/** Each message as one string: its notification text and every block's text. */
function messages(): string[] {
  return rehearsal.slack.messages.map((message) => {
    const blocks = (message.body.blocks ?? []) as Array<{
      text?: { text: string };
      elements?: Array<{ text: string }>;
    }>;
    const texts = blocks.flatMap((block) => [
      ...(block.text ? [block.text.text] : []),
      ...(block.elements ?? []).map((element) => element.text),
    ]);
    return [message.body.text ?? '', ...texts].join('\n');
  });
}

const only = async (scenario: string | Scenario<RunbooksConfig>): Promise<RehearsalResult> => {
  const [result, ...rest] = await rehearsal.runScenario(scenario);
  expect(rest).toHaveLength(0);
  return result as RehearsalResult;
};

const workloadFacts = [
  '*Deployment:* `checkout/checkout-api`',
  '*Cluster:* `prod-eks`',
  '*Alarm:* `checkout-api-5xx-rate`',
].join('\n');
const changes = [
  '*Revision:* 3 → 2',
  '*Images:* `registry.example.com/checkout-api:1.5.0` → `registry.example.com/checkout-api:1.4.2`',
].join('\n');

describe('the rollback’s Slack messages', () => {
  it('announce the rollback with the workload, the change and the time to patch, then its figures on success', async () => {
    const result = await only('healthy');
    expect(result.status).toBe('SUCCEEDED');

    const [rollingBack, succeeded] = messages();
    expect(rollingBack).toMatch(/^🔄 Rollback in progress · prod · checkout\/checkout-api\n/);
    expect(rollingBack).toMatch(/\n⏱ alarm → patch \*\d+ s\*\n/);
    expect(rollingBack).toContain(`${workloadFacts}\n${changes}`);

    expect(succeeded).toMatch(/^✅ Rollback succeeded · prod · checkout\/checkout-api\n/);
    expect(succeeded).toMatch(
      /\n⏱ alarm → patch \*\d+ s\* · rollout \*\d+ s\* · recovered after rollout \*1 min\* \(target 10 min\) ✅ · time to recovery \*1 min \d+ s\*\n/,
    );
    expect(succeeded).toContain(`${workloadFacts}\n${changes}`);
    expect(succeeded).toContain(
      '|Execution in Step Functions> · <https://grafana.example.com/d/platform-runbooks|Dashboard>',
    );
  });

  it.each([
    ['paused', 'the Deployment is paused: someone is already working on it'],
    ['cooldown', 'rolled back less than 30 minutes ago'],
    [
      'canary-in-progress',
      'a canary is in progress on this workload; it was asked to abort, and sends all traffic back to stable within about a minute',
    ],
    ['no-previous-revision', 'there is no earlier revision to roll back to'],
    ['deployment-missing', 'the Deployment does not exist'],
  ])('word the %s guard in the rollback’s sentence, beside the workload', async (scenario, sentence) => {
    await only(scenario);

    const [skipped] = messages();
    expect(messages()).toHaveLength(1);
    expect(skipped).toMatch(
      new RegExp(`^⏭️ Rollback skipped · prod · checkout/checkout-api — ${sentence}\n`),
    );
    expect(skipped).toContain(`${workloadFacts}\n*Skipped because:* ${sentence}\n*Detail:* `);
  });

  it('name the alarm alone when it maps to no workload', async () => {
    await only('unmapped-alarm');

    const [skipped] = messages();
    expect(skipped).toMatch(
      /^⏭️ Rollback skipped · prod · rollback-orphan-alarm — the alarm is not mapped to any workload\n/,
    );
    expect(skipped).toContain(
      '\n*Alarm:* `rollback-orphan-alarm`\n*Skipped because:* the alarm is not mapped to any workload\n',
    );
    expect(skipped).not.toContain('*Deployment:*');
  });

  it('word a guard the undo met after planning, on the route that rebuilds the run', async () => {
    const deployedMeanwhile: Scenario<RunbooksConfig> = {
      name: 'deployed-meanwhile',
      summary: 'Someone deploys 1.5.1 between Prepare and Undo: the undo leaves that deploy alone.',
      async arrange(rehearsal) {
        rehearsal.cluster().addDeployment({
          namespace: CHECKOUT.namespace,
          name: CHECKOUT.deployment,
          revisions: CHECKOUT.images.map((image) => ({ image })),
        });
        rehearsal.account.addAlarm({ name: CHECKOUT.alarm, state: 'ALARM' });
        return {
          events: [alarmEvent(CHECKOUT.alarm)],
          options: {
            overrides: {
              Undo: async (input) => {
                rehearsal.cluster().deploy(CHECKOUT.namespace, CHECKOUT.deployment, {
                  image: 'registry.example.com/checkout-api:1.5.1',
                });
                const { handler } = await import('../../lambdas/rollback/handlers/undo');
                return handler(input);
              },
            },
          },
        };
      },
    };

    const result = await only(deployedMeanwhile);

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(expect.arrayContaining(['RecordUndoGuard', 'NotifySkipped', 'Skipped']));
    const skip = rehearsal.account.events.find((event) => event.detailType === 'RunbookSkipped');
    expect(skip?.detail).toMatchObject({ reason: 'deployment-changed' });
    const sentence =
      'the Deployment was deployed again while the rollback was being prepared; that deploy was left alone';
    const [skipped] = messages();
    expect(messages()).toHaveLength(1);
    expect(skipped).toMatch(/^⏭️ Rollback skipped · prod · checkout\/checkout-api — /);
    expect(skipped).toContain(`${workloadFacts}\n*Skipped because:* ${sentence}\n*Detail:* `);
  });

  it('say what failed, that on-call was paged and what was changed', async () => {
    await only('no-recovery');

    const failed = messages().at(-1);
    expect(failed).toMatch(/^🚨 Rollback failed · prod · checkout\/checkout-api — `NotRecovered`\n/);
    expect(failed).toContain(`${workloadFacts}\n${changes}\n*Error:* \`NotRecovered\`\n📟 *On-call paged*\n`);
    expect(failed).toContain('(during recovery; rollback performed: yes)');
  });

  it('reject a malformed event naming the field, with no workload to name', async () => {
    await only('malformed-event');

    const [rejected] = messages();
    expect(rejected).toMatch(/^⛔ Rollback rejected · prod — `InvalidAlarmEvent`\n/);
    expect(rejected).toContain('*Rejected because:* `InvalidAlarmEvent`\n*Cause:* ');
    expect(rejected).toContain('detail.state');
  });
});

describe('when Slack rate-limits past the notifier budget', () => {
  const succeeded = () => rehearsal.account.events.find((event) => event.detailType === 'RunbookSucceeded');

  it('delivers the final summary late, on one retry a minute later, rather than never', async () => {
    const result = await only('slack-rate-limited');
    expect(result.status).toBe('SUCCEEDED');
    // The progress message was lost; the summary's first attempt was refused, its retry delivered.
    expect(rehearsal.slack.requests.map((request) => request.status)).toEqual([429, 429, 200]);
    expect(messages()).toHaveLength(1);
    expect(messages()[0]).toMatch(/Rollback succeeded/);
    expect(succeeded()?.detail).toMatchObject({ slack: { delivered: true } });
  });

  it('says in the outcome that no summary reached Slack when every call is refused', async () => {
    const result = await only('slack-rate-limited-always');
    expect(result.status).toBe('SUCCEEDED');
    expect(messages()).toHaveLength(0);
    expect(succeeded()?.detail).toMatchObject({ slack: { Error: 'SlackRateLimited' } });
  });
});
