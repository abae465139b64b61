import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunbooksConfig } from '../../lib/config/schema';
import { LOCK_TABLE, Rehearsal, type RehearsalResult } from '../harness/rehearsal';
import { kubernetesErrorScenarios } from '../harness/rollback/kubernetes-error-scenarios';
import { rehearsedRunbook } from '../harness/rollback/rehearsal';
import { CHECKOUT } from '../harness/rollback/scenarios';

let rehearsal: Rehearsal<RunbooksConfig>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  rehearsal = await Rehearsal.start(rehearsedRunbook);
});
afterAll(() => rehearsal?.close());

/** Runs one of this file's scenarios, which the rollback's scenario list need not hold. */
async function only(name: string): Promise<RehearsalResult> {
  const scenario = kubernetesErrorScenarios.find((candidate) => candidate.name === name);
  if (!scenario) throw new Error(`no scenario ${name}`);
  const [result, ...rest] = await rehearsal.runScenario(scenario);
  expect(rest).toHaveLength(0);
  return result as RehearsalResult;
}

const cluster = () => rehearsal.cluster(CHECKOUT.cluster);
const requests = () => cluster().requests.map((request) => `${request.method} ${request.status}`);
const patches = () => cluster().requests.filter((request) => request.method === 'PATCH');
const checkoutImage = () =>
  cluster().getDeployment(CHECKOUT.namespace, CHECKOUT.deployment)?.spec.template.spec.containers[0]?.image;
const prepares = (result: RehearsalResult) =>
  result.lambdaInvocations.filter((call) => call.name === 'rollback-prepare').map((call) => call.error);
const lockHolder = async () => (await rehearsal.account.readLock(CHECKOUT.lockKey, LOCK_TABLE))?.holder;

describe('the rollback runbook, when the Kubernetes API server refuses or cannot be trusted', () => {
  it('is part of the runbook, and every scenario name is unique', () => {
    const names = rehearsedRunbook.scenarios.map((scenario) => scenario.name);
    expect(names).toEqual(expect.arrayContaining(kubernetesErrorScenarios.map((scenario) => scenario.name)));
    expect(new Set(names).size).toBe(names.length);
  });

  it('kubernetes-401-once: signs a new token, sends the request again and rolls back with one PATCH', async () => {
    const result = await only('kubernetes-401-once');

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('Succeeded');
    expect(requests().slice(0, 2)).toEqual(['GET 401', 'GET 200']);
    // Renewed inside the one invocation: the workflow saw no failure to retry.
    expect(prepares(result)).toEqual([undefined]);
    expect(patches().map((request) => request.status)).toEqual([200]);
    expect(checkoutImage()).toBe(CHECKOUT.images[1]);
    expect(rehearsal.account.pages).toHaveLength(0);
    expect(await lockHolder()).toBeUndefined();
  });

  describe('refusals the runbook cannot fix: one page naming the error, nothing changed, the lock released', () => {
    it.each([
      [
        'kubernetes-401-always',
        'KubernetesUnauthorized',
        ['GET 401', 'GET 401'],
        [
          '401 Unauthorized, again with a newly signed token: EKS cluster prod-eks does not authenticate this Lambda',
          'aws eks list-access-entries --cluster-name prod-eks',
          'CONFIG_MAP only',
        ],
      ],
      [
        'kubernetes-403',
        'KubernetesForbidden',
        ['GET 403'],
        [
          `lacks an EKS access entry or access policy that allows get on deployments in namespace ${CHECKOUT.namespace} of EKS cluster prod-eks`,
          'AmazonEKSViewPolicy',
          `namespace scope that includes ${CHECKOUT.namespace}`,
        ],
      ],
      [
        'kubernetes-tls-mismatch',
        'KubernetesTlsMismatch',
        [],
        [
          'is not signed by the CA DescribeCluster returned for EKS cluster prod-eks (UNABLE_TO_VERIFY_LEAF_SIGNATURE',
          'the request was not sent and changed nothing',
        ],
      ],
    ])('%s: %s', async (name, error, answered, says) => {
      const result = await only(name);

      expect(result.status).toBe('SUCCEEDED');
      expect(result.states.at(-1)).toBe('PreparationFailed');
      // Not a condition a retry changes: Prepare runs once.
      expect(prepares(result)).toEqual([error]);
      expect(requests()).toEqual(answered);
      expect(patches()).toHaveLength(0);
      expect(checkoutImage()).toBe(CHECKOUT.images[2]);
      expect(rehearsal.account.pages).toHaveLength(1);
      const [page] = rehearsal.account.pages;
      expect(page?.message).toMatchObject({ content: { title: expect.stringContaining(error) } });
      const description = JSON.stringify(page?.message);
      for (const text of says) expect(description).toContain(text);
      expect(description).not.toContain('k8s-aws-v1');
      expect(await lockHolder()).toBeUndefined();
    });
  });

  it('kubernetes-5xx: retries Prepare on KubernetesUnavailable, then pages once without having acted', async () => {
    const result = await only('kubernetes-5xx');

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-1)).toBe('PreparationFailed');
    expect(result.timeline.filter((entry) => entry.text === '↻ retry Prepare')).toHaveLength(2);
    expect(prepares(result)).toEqual([
      'KubernetesUnavailable',
      'KubernetesUnavailable',
      'KubernetesUnavailable',
    ]);
    expect(requests()).toEqual(['GET 503', 'GET 503', 'GET 503']);
    expect(patches()).toHaveLength(0);
    expect(checkoutImage()).toBe(CHECKOUT.images[2]);
    expect(rehearsal.account.pages).toHaveLength(1);
    expect(rehearsal.account.pages[0]?.message).toMatchObject({
      content: {
        title: expect.stringContaining('KubernetesUnavailable'),
        description: expect.stringContaining(
          `GET /apis/apps/v1/namespaces/${CHECKOUT.namespace}/deployments/${CHECKOUT.deployment}: 503`,
        ),
      },
    });
    expect(await lockHolder()).toBeUndefined();
  });

  it('trusts the cluster again once its own certificate is back: the same warm functions roll back', async () => {
    await only('kubernetes-tls-mismatch');
    const result = await only('kubernetes-401-once');
    expect(result.states.at(-1)).toBe('Succeeded');
    expect(patches().map((request) => request.status)).toEqual([200]);
  });
});
