import type { RunbooksConfig } from '../../../lib/config/schema';
import type { Rehearsal } from '../rehearsal';
import { SimulatedCertificates } from './simulated-certificates';

/** The bucket the rehearsal's report steps write to, as the stack's reports bucket. */
export const REPORT_BUCKET = 'platform-runbooks-rehearsal-reports';

const simulations = new WeakMap<object, SimulatedCertificates>();

/**
 * The simulated ACM, IAM, load balancers and report bucket of a rehearsal, created on first use and restored
 * when the rehearsal closes; reset here, since the rehearsal's own reset does not know them.
 */
export function certificatesOf(rehearsal: Rehearsal<RunbooksConfig>): SimulatedCertificates {
  let simulated = simulations.get(rehearsal);
  if (!simulated) {
    const created = new SimulatedCertificates([REPORT_BUCKET]);
    rehearsal.onClose(() => created.restore());
    simulations.set(rehearsal, created);
    simulated = created;
  }
  return simulated;
}
