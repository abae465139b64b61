import type { RunbooksConfig } from '../../../lib/config/schema';
import type { Rehearsal, Scenario, ScenarioPlan } from '../rehearsal';
import { CHECKOUT, healthyCheckout, one } from './fixtures';

type RollbackRehearsal = Rehearsal<RunbooksConfig>;

/** checkout-api's bad release and its alarm, which recovers after that many reads, or keeps firing. */
async function badReleaseOfCheckout(
  rehearsal: RollbackRehearsal,
  recoversAfterReads?: number,
): Promise<ScenarioPlan> {
  await healthyCheckout(rehearsal, recoversAfterReads ?? null);
  return one();
}

/** How the API server answers the runbook's Kubernetes requests when something between them is wrong. */
export const kubernetesErrorScenarios: Array<Scenario<RunbooksConfig>> = [
  {
    name: 'kubernetes-401-once',
    summary:
      'The API server refuses the first token once (401): a new token is signed, the request sent again, and the rollback goes ahead.',
    async arrange(rehearsal) {
      const plan = await badReleaseOfCheckout(rehearsal, 2);
      rehearsal.cluster(CHECKOUT.cluster).injectFault({ status: 401 });
      return plan;
    },
  },
  {
    name: 'kubernetes-401-always',
    summary:
      'The role has no EKS access entry, so the cluster refuses its tokens, a newly signed one too: KubernetesUnauthorized, on-call is paged, nothing is changed.',
    async arrange(rehearsal) {
      const plan = await badReleaseOfCheckout(rehearsal);
      rehearsal.cluster(CHECKOUT.cluster).setAccessEntry(false);
      return plan;
    },
  },
  {
    name: 'kubernetes-403',
    summary: `The role's access policy does not cover namespace ${CHECKOUT.namespace} (403): KubernetesForbidden names the access entry and policy to fix, on-call is paged, nothing is changed.`,
    async arrange(rehearsal) {
      const plan = await badReleaseOfCheckout(rehearsal);
      rehearsal.cluster(CHECKOUT.cluster).denyAccess({ namespace: CHECKOUT.namespace });
      return plan;
    },
  },
  {
    name: 'kubernetes-5xx',
    summary:
      'The API server answers 503 to every read: Prepare is retried as KubernetesUnavailable, then on-call is paged; nothing is changed.',
    async arrange(rehearsal) {
      const plan = await badReleaseOfCheckout(rehearsal);
      // More than Prepare's attempts can use.
      rehearsal.cluster(CHECKOUT.cluster).injectFault({ method: 'GET', status: 503, times: 20 });
      return plan;
    },
  },
  {
    name: 'kubernetes-tls-mismatch',
    summary:
      'The API server presents a certificate from another CA than DescribeCluster returns (a TLS-intercepting proxy): KubernetesTlsMismatch, not retried, on-call is paged, nothing is sent.',
    async arrange(rehearsal) {
      const plan = await badReleaseOfCheckout(rehearsal);
      await rehearsal.cluster(CHECKOUT.cluster).presentCertificate('foreign-ca');
      return plan;
    },
  },
];
