import * as z from 'zod/mini';
import { checksSchema, noDataPolicySchema, type Check } from '../../lambdas/canary/checks';
import { planSteps, stepPlanSettingsSchema, type StepPlan } from '../../lambdas/canary/weights';
import { boundedInt, clusterName, dnsLabel, dnsSubdomain } from './fields';
import type { EksCluster } from './shared';

// The canary promotion's section of the configuration (`canary:`, issue 7), its checks against the shared
// sections, and what the runbook is deployed with, derived from it (lib/canary-runbook.ts).
//
// The Lambdas read the same schema: the services' settings reach them through the state machine
// definition (`${Services}`), as the restore test's databases do, not through a 4 KB environment.

/** A service's name: in the `CanaryRequested` event, the CLI, Slack, events and the lock's holder. */
export const canaryServiceName = z
  .string()
  .check(z.regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be 1-40 of a-z, 0-9, "-", starting with a letter'));

/**
 * A Service port: a number, or the name of one of the Service's ports (IANA_SVC_NAME, as Kubernetes checks it:
 * at most 15 of a-z, 0-9, "-", with a letter, no leading, trailing or double "-").
 */
export const servicePort = z.union([
  boundedInt(1, 65_535),
  z
    .string()
    .check(
      z.regex(
        /^(?=.*[a-z])(?!-)(?!.*--)[a-z0-9-]{1,15}(?<!-)$/,
        'must be a port number or a Kubernetes port name (at most 15 of a-z, 0-9, "-", with a letter)',
      ),
    ),
]);

/** A Service and the port traffic reaches it on. */
const serviceBackendSchema = z.strictObject({
  /** The Service (a DNS label: a Service name is one). */
  service: dnsLabel,
  port: servicePort,
});

/** A Gateway API backend: the port may be left out (any port of the Service matches, as in the route). */
const routeBackendSchema = z.strictObject({
  service: dnsLabel,
  port: z.optional(boundedInt(1, 65_535)),
});

/**
 * How traffic is split between stable and canary (lambdas/canary/routers/). Each router confirms a step on the
 * evidence before it counts: the load balancer's rules, the route's status, the ready pods.
 */
export const canaryRouterSchema = z.discriminatedUnion('type', [
  z.strictObject({
    /** The AWS Load Balancer Controller's `alb.ingress.kubernetes.io/actions.<actionName>` annotation. */
    type: z.literal('alb'),
    /** The Ingress carrying the annotation, in the service's namespace. */
    ingress: dnsSubdomain,
    /** `<name>` in the annotation: the Ingress rule's backend service name, port `use-annotation`. */
    actionName: dnsLabel,
    stable: serviceBackendSchema,
    canary: serviceBackendSchema,
  }),
  z.strictObject({
    /** An HTTPRoute's backendRefs weights: any Gateway API implementation (VPC Lattice, Envoy Gateway, Istio…). */
    type: z.literal('gateway-api'),
    /** The HTTPRoute, in the service's namespace. */
    httpRoute: dnsSubdomain,
    stable: routeBackendSchema,
    canary: routeBackendSchema,
  }),
  z.strictObject({
    /** Both Deployments behind one Service, replicas set to approximate the weight. */
    type: z.literal('replica-ratio'),
    /**
     * stable + canary replicas, constant through a run (so capacity is too): at least 2, one pod on each side
     * during a step. The weight moves in steps of 100 ÷ totalReplicas.
     */
    totalReplicas: boundedInt(2, 1_000),
  }),
]);
export type CanaryRouter = z.output<typeof canaryRouterSchema>;

/** Whole minutes between two analyses: each step holds its weight for one interval. */
export const INTERVAL_MINUTES = { min: 1, max: 60 } as const;
export const intervalMinutesSchema = boundedInt(INTERVAL_MINUTES.min, INTERVAL_MINUTES.max);
/** Failed analyses before the abort. */
export const THRESHOLD = { min: 1, max: 20 } as const;
export const thresholdSchema = boundedInt(THRESHOLD.min, THRESHOLD.max);

/** The longest approval wait the schema takes: a day. Longer, the canary holds its traffic and the lock for nothing. */
export const MAX_APPROVAL_MINUTES = 24 * 60;

/** Slack member ids (`U…`, or `W…` for Enterprise Grid users), as the interaction payload's `user.id` gives them. */
export const slackUserId = z
  .string()
  .check(
    z.regex(/^[UW][A-Z0-9]{2,20}$/, 'must be a Slack user id such as U024BE7LH (not a name or an e-mail)'),
  );

export const canaryApprovalSchema = z.strictObject({
  /** Who may approve or reject, by Slack user id; a click by anyone else is refused. */
  approvers: z.array(slackUserId).check(
    z.minLength(1, 'must list at least one approver'),
    z.maxLength(50),
    z.refine((ids) => new Set(ids).size === ids.length, 'must not list an approver twice'),
  ),
  /** No answer within this many minutes aborts the canary (the task-token wait's timeout). @default 60 */
  timeoutMinutes: z._default(boundedInt(5, MAX_APPROVAL_MINUTES), 60),
});
export type CanaryApproval = z.output<typeof canaryApprovalSchema>;

export const smokeTestSchema = z.strictObject({
  /** POSTed the request before any traffic shifts; any answer but 2xx within the timeout stops the run. */
  url: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }),
  /** @default 60 */
  timeoutSeconds: z._default(boundedInt(1, 900), 60),
});

/** One service promoted by canary, with its settings. */
export const canaryServiceSchema = z.strictObject({
  /** What `CanaryRequested` names in `detail.service`; unique. */
  name: canaryServiceName,
  cluster: clusterName,
  namespace: dnsLabel,
  /** The Deployment serving production traffic; promotion copies the canary's pod template onto it. */
  stableDeployment: dnsSubdomain,
  /** The Deployment the new version runs in; scaled to zero outside a run. */
  canaryDeployment: dnsSubdomain,
  router: canaryRouterSchema,
  // The step plan (lambdas/canary/weights.ts, Flagger's fields): `stepWeights`, or `stepWeight` + `maxWeight`;
  // `checkCanarySection` applies stepPlanSettingsSchema's own rules to them.
  /** The canary's weight at each step, increasing. @default - 5, 20, 50, 100 (the seeds' plan) */
  stepWeights: stepPlanSettingsSchema.shape.stepWeights,
  /** Flagger's increment: stepWeight, 2 × stepWeight… up to maxWeight. Not with stepWeights. */
  stepWeight: stepPlanSettingsSchema.shape.stepWeight,
  /** The last step with stepWeight. @default 100 */
  maxWeight: stepPlanSettingsSchema.shape.maxWeight,
  /**
   * Minutes each step holds its weight before its analysis: the checks read this window, one value a minute.
   * @default 5
   */
  intervalMinutes: z._default(intervalMinutesSchema, 5),
  /** Failed analyses in a run before it aborts; a failed analysis repeats its step. @default 2 */
  threshold: z._default(thresholdSchema, 2),
  /** What every step is judged on (lambdas/canary/checks.ts). */
  checks: checksSchema,
  /** No data for a check: `fail` counts a failed check (Flagger), `pause` asks the approvers (Argo). @default 'fail' */
  noData: z._default(noDataPolicySchema, 'fail'),
  /**
   * A person approves promotion after the last step: from the CLI, and with Slack's Approve / Reject buttons
   * when `slack.app` is set (without it, the CLI only). Omitted: promoted when the last analysis passes.
   */
  approval: z.optional(canaryApprovalSchema),
  /** A webhook called before the first shift. Omitted: none. */
  smokeTest: z.optional(smokeTestSchema),
});
export type CanaryService = z.output<typeof canaryServiceSchema>;
export type CanaryServiceInput = z.input<typeof canaryServiceSchema>;

export const MAX_CANARY_SERVICES = 50;
/** What one service's settings may take in the definition: the run's state holds 256 KB. */
export const MAX_SERVICE_SETTINGS_BYTES = 32_000;

export const canarySectionSchema = z.strictObject({
  services: z
    .array(canaryServiceSchema)
    .check(
      z.minLength(1, 'must list at least one service'),
      z.maxLength(MAX_CANARY_SERVICES, `must list at most ${MAX_CANARY_SERVICES} services`),
    ),
});
export type CanarySection = z.output<typeof canarySectionSchema>;

/**
 * The smallest two-sided p-value the exact Mann-Whitney U test can give with `minutes` values on each side:
 * complete separation, 2 of the C(2n, n) equally likely orderings (3 and 3: 2/20 = 0.1; 4 and 4: 2/70 ≈ 0.029).
 */
export function mannWhitneyMinimumP(minutes: number): number {
  let orderings = 1;
  for (let k = 1; k <= minutes; k += 1) orderings = (orderings * (minutes + k)) / k;
  return Math.min(1, 2 / orderings);
}

/**
 * Why an interval is too short for a check's U test, or undefined. Refused, not warned: a test that cannot
 * reach its alpha never fails, and a check that never fails reads as a passed comparison in Slack and in the
 * status — false confidence, worse than no test. The configuration has no warning channel either: synth
 * passes or stops.
 */
export function mannWhitneyTooShort(check: Check, intervalMinutes: number): string | undefined {
  if (check.mannWhitney === undefined) return undefined;
  const { alpha } = check.mannWhitney;
  const p = mannWhitneyMinimumP(intervalMinutes);
  if (p < alpha) return undefined;
  let enough = intervalMinutes;
  while (mannWhitneyMinimumP(enough) >= alpha) enough += 1;
  return `check "${check.name}" runs a Mann-Whitney test, which with ${intervalMinutes} per-minute values a side can never reach alpha ${alpha} (its smallest p-value is ${Number(p.toFixed(4))}), so it would never fail: use an interval of at least ${enough} minutes, or drop mannWhitney`;
}

/** Step Functions ends a Standard execution after a year; a canary run is held far below that. */
export const MAX_CANARY_RUN_MINUTES = 7 * 24 * 60;
/** Outside the steps: the smoke test's retries, routing checks, promotion or abort, notifications. */
const OUTSIDE_STEPS_MINUTES = 30;
/** The wait for a router to confirm a step's weight (the controller reconciles asynchronously). */
export const ROUTER_CONFIRM_MINUTES = 5;

/** Seconds between two looks at the router while a step's weight is being confirmed (the ASL's WaitForRouter). */
export const ROUTER_POLL_SECONDS = 10;
/** Step Functions fails an execution whose history passes 25,000 events; a canary keeps well under it. */
export const CANARY_HISTORY_EVENT_BUDGET = 20_000;
/**
 * Minutes a step holds its weight beyond its interval, at most: the window starts at the next whole minute after
 * the weight is seen applied, the analysis waits a minute more for CloudWatch to publish the last one, and the
 * hold checks for an abort a minute at a time (so it may pass the deadline by up to a minute).
 */
export const HOLD_MARGIN_MINUTES = 3;

/**
 * History events of one analysis at worst (entered + exited for every state, + scheduled, started and succeeded
 * for a Task): the shift (5); the router's confirmation polled for ROUTER_CONFIRM_MINUTES (Wait 2 + Task 5 +
 * Choice 2 per look); the hold (Pass 2) and its minutes (Wait 2 + the lock read 5 + Choice 2 each); the analysis
 * and the thread update (5 each); the choice (2); and a pause's approval (Task 5 + Choice 2).
 * test/conventions/canary-history.test.ts counts the same from the ASL.
 */
export function historyEventsPerAnalysis(intervalMinutes: number): number {
  const looks = (ROUTER_CONFIRM_MINUTES * 60) / ROUTER_POLL_SECONDS;
  const holdMinutes = intervalMinutes + HOLD_MARGIN_MINUTES;
  return 5 + looks * 9 + 2 + holdMinutes * 9 + 5 + 5 + 2 + 7;
}

/**
 * Outside the analyses, at worst: the start and its announcement, the canary's pods polled every 15 s for 10
 * minutes, the smoke test, the promotion and stable's rollout polled every 15 s for 15 minutes, the return to
 * stable confirmed every 10 s for 5 minutes, the end (thread, lock, event, a page).
 */
export const HISTORY_EVENTS_OUTSIDE_ANALYSES = 20 + 40 * 9 + 10 + 10 + 60 * 9 + 30 * 9 + 40;

/** The execution history one run of the service can write at most. */
export function canaryHistoryEvents(
  service: Pick<CanaryService, 'stepWeights' | 'stepWeight' | 'maxWeight' | 'threshold' | 'intervalMinutes'>,
): number {
  const analyses = servicePlan(service).steps.length + service.threshold - 1;
  return analyses * historyEventsPerAnalysis(service.intervalMinutes) + HISTORY_EVENTS_OUTSIDE_ANALYSES;
}

/**
 * The longest one run of a service can last: the smoke test, every analysis it may make (each step once, and
 * `threshold - 1` repeats before the abort), the router's confirmation of each shift, the approval wait (a
 * `pause` on no data waits as long, at most once per analysis), and the rest. The execution timeout is derived
 * from it, so the approval's own timeout always fires first and routes to the abort (traffic back to stable),
 * which an execution timeout would skip.
 */
export function canaryRunMinutes(
  service: Pick<
    CanaryService,
    | 'stepWeights'
    | 'stepWeight'
    | 'maxWeight'
    | 'intervalMinutes'
    | 'threshold'
    | 'noData'
    | 'approval'
    | 'smokeTest'
  >,
): number {
  const steps = servicePlan(service).steps.length;
  const analyses = steps + service.threshold - 1;
  const approval = service.approval?.timeoutMinutes ?? 0;
  const pauses = service.noData === 'pause' ? analyses * approval : 0;
  const smokeTest = Math.ceil((service.smokeTest?.timeoutSeconds ?? 0) / 60);
  return (
    smokeTest +
    analyses * (service.intervalMinutes + HOLD_MARGIN_MINUTES + ROUTER_CONFIRM_MINUTES) +
    approval +
    pauses +
    OUTSIDE_STEPS_MINUTES
  );
}

/** The step settings of a service, as stepPlanSettingsSchema and planSteps take them. */
export function stepSettings(
  service: Pick<CanaryService, 'stepWeights' | 'stepWeight' | 'maxWeight'>,
): z.input<typeof stepPlanSettingsSchema> {
  return {
    ...(service.stepWeights !== undefined && { stepWeights: service.stepWeights }),
    ...(service.stepWeight !== undefined && { stepWeight: service.stepWeight }),
    ...(service.maxWeight !== undefined && { maxWeight: service.maxWeight }),
  };
}

/** Every string in a parsed value, with its path. */
function stringsIn(value: unknown, path: (string | number)[] = []): [(string | number)[], string][] {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringsIn(item, [...path, index]));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => stringsIn(item, [...path, key]));
  }
  return [];
}

/**
 * Cross-section checks: each service in a granted cluster and namespace, once; its step plan by the step plan's
 * own rules; ALB templates only with the ALB router; a U test only where it can fail; `pause` only with someone
 * to ask; a run (the approval wait included) within the execution's limit; settings that fit the definition,
 * and approvers that fit the approval endpoint's environment.
 */
export function checkCanarySection(
  { canary, eksClusters }: { canary: CanarySection; eksClusters: EksCluster[] },
  ctx: z.core.$RefinementCtx,
): void {
  const clusters = new Map(eksClusters.map((cluster) => [cluster.name, cluster]));
  const names = new Set<string>();
  canary.services.forEach((service, index) => {
    const at = ['canary', 'services', index];
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path: [...at, ...path], message });

    if (names.has(service.name)) issue(['name'], `service "${service.name}" is listed twice`);
    names.add(service.name);

    const cluster = clusters.get(service.cluster);
    if (!cluster) {
      issue(['cluster'], `cluster "${service.cluster}" is not listed in eksClusters`);
    } else if (!cluster.namespaces.includes(service.namespace)) {
      issue(
        ['namespace'],
        `namespace "${service.namespace}" is not in eksClusters["${service.cluster}"].namespaces, so the runbook has no access to it`,
      );
    }

    if (service.stableDeployment === service.canaryDeployment) {
      issue(['canaryDeployment'], 'must differ from stableDeployment: the canary runs beside stable');
    }
    const { router } = service;
    if (router.type !== 'replica-ratio' && router.stable.service === router.canary.service) {
      issue(
        ['router', 'canary', 'service'],
        `must differ from router.stable.service: the ${router.type} router splits traffic between two Services (one Service over both Deployments is the replica-ratio router)`,
      );
    }

    const plan = z.safeParse(stepPlanSettingsSchema, stepSettings(service));
    if (!plan.success) {
      for (const problem of plan.error.issues) issue(problem.path.map(String), problem.message);
    }

    service.checks.forEach((check, checkIndex) => {
      if (check.template !== undefined && router.type !== 'alb') {
        issue(
          ['checks', checkIndex, 'template'],
          `${check.template} reads the ALB's target groups, which only the alb router has (this service uses ${router.type}): write the check's canary and stable series out`,
        );
      }
      const tooShort = mannWhitneyTooShort(check, service.intervalMinutes);
      if (tooShort !== undefined) issue(['checks', checkIndex, 'mannWhitney'], tooShort);
    });

    if (service.noData === 'pause' && service.approval === undefined) {
      issue(
        ['noData'],
        'pause asks a person whether to go on: it needs approval (its approvers answer, its timeoutMinutes bounds the wait)',
      );
    }

    if (plan.success) {
      const minutes = canaryRunMinutes(service);
      if (minutes > MAX_CANARY_RUN_MINUTES) {
        issue(
          service.approval ? ['approval', 'timeoutMinutes'] : ['intervalMinutes'],
          `a run could last ${minutes} minutes (steps, repeats up to threshold, ${service.noData === 'pause' ? 'an approval wait per analysis on no data, ' : ''}the approval wait), more than the ${MAX_CANARY_RUN_MINUTES} (7 days) the state machine's execution timeout allows: wait less, or take fewer steps`,
        );
      }
    }

    if (plan.success) {
      const events = canaryHistoryEvents(service);
      if (events > CANARY_HISTORY_EVENT_BUDGET) {
        issue(
          service.stepWeight !== undefined ? ['stepWeight'] : ['stepWeights'],
          `${servicePlan(service).steps.length} steps of ${service.intervalMinutes} minutes and threshold ${service.threshold} could write ${events} execution history events, more than the ${CANARY_HISTORY_EVENT_BUDGET} this runbook allows itself (Step Functions fails an execution at 25,000, mid-canary): take fewer steps`,
        );
      }
    }

    for (const [where, value] of stringsIn(service)) {
      if (value.includes('${')) {
        issue(
          where,
          'must not contain "${": the settings reach the workflow through its definition substitutions, which would read it as a placeholder',
        );
      }
    }
    const size = JSON.stringify(service).length;
    if (size > MAX_SERVICE_SETTINGS_BYTES) {
      issue(
        [],
        `its settings take ${size} bytes, more than ${MAX_SERVICE_SETTINGS_BYTES}: they travel in the workflow's state (256 KB)`,
      );
    }
  });

  const approversBytes = Buffer.byteLength(JSON.stringify(approversSetting(canary)), 'utf8');
  if (approversBytes > MAX_APPROVERS_JSON_BYTES) {
    ctx.addIssue({
      code: 'custom',
      path: ['canary', 'services'],
      message: `the approvers of all services take ${approversBytes} bytes as JSON in the Slack approval endpoint's environment, more than the ${MAX_APPROVERS_JSON_BYTES} that fit (Lambda allows 4 KB for all variables): list fewer approvers`,
    });
  }
}

/** Lambda environment variables are limited to 4 KB in all; the approvers must leave room for the rest. */
export const MAX_APPROVERS_JSON_BYTES = 3_000;

/**
 * Who may answer each service's approval, as the Slack approval endpoint reads it (`CANARY_APPROVERS`): the
 * workload (`<cluster>/<namespace>/<stableDeployment>`, the lock's key) → Slack user ids. Services without
 * `approval` are left out: a click for them is refused.
 */
export function approversSetting(section: CanarySection): Record<string, string[]> {
  return Object.fromEntries(
    section.services.flatMap((service) =>
      service.approval
        ? [
            [
              `${service.cluster}/${service.namespace}/${service.stableDeployment}`,
              service.approval.approvers,
            ],
          ]
        : [],
    ),
  );
}

/** The settings as the workflow hands them to the request parser: the services by name. */
export function servicesSetting(section: CanarySection): Record<string, CanaryService> {
  return Object.fromEntries(section.services.map((service) => [service.name, service]));
}

/** A service's step plan: its stepWeights, or stepWeight + maxWeight, else the seeds' 5, 20, 50, 100. */
export function servicePlan(
  service: Pick<CanaryService, 'stepWeights' | 'stepWeight' | 'maxWeight'>,
): StepPlan {
  return planSteps(stepSettings(service));
}

/**
 * What the construct and the rehearsal will derive from the section, the same way: the definition's
 * substitutions, the execution timeout (and the lock's TTL, which must not outlive it), and what decides
 * permissions and placement (which routers, an internet-reaching smoke test, the approval endpoint).
 */
export function canaryRuntime({ environment, settings }: { environment: string; settings: CanarySection }) {
  const runMinutes = Math.max(...settings.services.map(canaryRunMinutes));
  const routers = [...new Set(settings.services.map((service) => service.router.type))].sort();
  return {
    substitutions: {
      // A JSON document inside an ASL string: the request parser reads it back with canaryServiceSchema.
      Services: JSON.stringify(JSON.stringify(servicesSetting(settings))).slice(1, -1),
    },
    timeoutMinutes: runMinutes,
    /** The lock is held for the whole run, and no longer than the execution could last. */
    lockTtlSeconds: runMinutes * 60,
    /** `alb` needs `elasticloadbalancing:DescribeRules`; each router its Kubernetes verbs. */
    routers,
    /** Some service calls a smoke-test webhook: the function reaches the internet. */
    smokeTests: settings.services.some((service) => service.smokeTest !== undefined),
    /**
     * Some service waits for approval (or pauses on no data): with `slack.app`, the Slack approval endpoint is
     * deployed.
     */
    approval: settings.services.some((service) => service.approval !== undefined),
    /** The approval endpoint's `CANARY_APPROVERS`. */
    approvers: approversSetting(settings),
    /** Where the runbook acts: the cluster and namespace of each service, once each. */
    workloads: [...new Set(settings.services.map((service) => `${service.cluster}/${service.namespace}`))]
      .sort()
      .map((workload) => {
        const [cluster = '', namespace = ''] = workload.split('/');
        return { cluster, namespace };
      }),
    environment,
  };
}
