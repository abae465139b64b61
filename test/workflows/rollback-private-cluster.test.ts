import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunbooksConfig } from '../../lib/config/schema';
import { LOCK_TABLE, Rehearsal, type RehearsalResult } from '../harness/rehearsal';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { CHECKOUT, PRIVATE_NETWORK } from '../harness/rollback/scenarios';

// Its own file: the runbooks run in the cluster's VPC (`network`), and the handlers read their placement once
// per process, as in Lambda, so this configuration needs its own module graph.
let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  const scenario = rehearsedRunbook.scenarios.find((candidate) => candidate.name === 'private-cluster');
  if (!scenario?.config) throw new Error('the private-cluster scenario no longer brings its configuration');
  rehearsal = await Rehearsal.start(rehearsedRunbook, scenario.config(rehearsedRunbook.defaultConfig()));
});
afterAll(() => rehearsal?.close());

const only = async (name: string): Promise<RehearsalResult> => {
  const [result, ...rest] = await rehearsal.runScenario(name);
  expect(rest).toHaveLength(0);
  return result as RehearsalResult;
};
const patches = () => rehearsal.cluster().requests.filter((request) => request.method === 'PATCH');
const checkoutImage = () =>
  rehearsal.cluster().getDeployment(CHECKOUT.namespace, CHECKOUT.deployment)?.spec.template.spec
    ?.containers?.[0]?.image;

describe('the rollback runbook in the VPC of a cluster with a private-only endpoint', () => {
  it('is configured with a network, and the Kubernetes functions are placed in it', () => {
    expect(rehearsal.config.network).toMatchObject({ vpcId: PRIVATE_NETWORK.vpcId, internetAccess: true });
    expect(process.env.NETWORK_PLACEMENT).toBe('vpc');
  });

  it('rolls back exactly as the healthy scenario does: one PATCH, the rollout, the recovery', async () => {
    const privateRun = await only('private-cluster');
    // The cluster the run just reached answers DescribeCluster as private-only.
    const { cluster } = await new EKSClient({}).send(new DescribeClusterCommand({ name: CHECKOUT.cluster }));
    expect(cluster?.resourcesVpcConfig).toMatchObject({
      endpointPublicAccess: false,
      endpointPrivateAccess: true,
    });

    expect(privateRun.status).toBe('SUCCEEDED');
    expect(privateRun.states).toContain('Succeeded');
    expect(patches().map((request) => request.status)).toEqual([200]);
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect(rehearsal.account.events.map((event) => event.detailType)).toEqual([
      'RunbookStarted',
      'RollbackPerformed',
      'RunbookSucceeded',
    ]);
    expect(rehearsal.account.pages).toHaveLength(0);
    expect(rehearsal.slack.messages).toHaveLength(2);
    expect((await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE))?.holder).toBeUndefined();

    const healthyRun = await only('healthy');
    expect(privateRun.states).toEqual(healthyRun.states);
  });
});
