import * as z from 'zod/mini';
import {
  intervalMinutesSchema,
  mannWhitneyTooShort,
  servicePlan,
  thresholdSchema,
  type CanaryService,
} from '../../lib/config/canary';
import type { JsonPatchOperation } from '../kubernetes/resources';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { stepPlanSettingsSchema, type StepPlan } from './weights';

// What starts a canary: a `CanaryRequested` event on the runbooks bus (`platform-runbooks-<environment>`), put
// by CI with `aws events put-events` (CANARY_PUT_EVENTS_COMMAND below, which the README shows) or by the CLI.
// Everything is checked here, before the lock or a single Kubernetes call: a malformed request is refused with
// a message naming each field at fault, an unknown service with the list of configured ones.
// The rule (lib/canary-runbook.ts) matches `source` in CANARY_REQUEST_SOURCES and `detail-type` CanaryRequested;
// the start step (start.ts) reads the event with `readCanaryRequest`.

/** The request is not one this runbook can act on: nothing is changed. */
export class InvalidCanaryRequest extends RunbookError {
  override name = 'InvalidCanaryRequest';
}

/** The request names a service the configuration does not list. */
export class UnknownCanaryService extends RunbookError {
  override name = 'UnknownCanaryService';
}

export const CANARY_REQUESTED = 'CanaryRequested';
/**
 * The event's `source`: `platform-runbooks.ci` from a pipeline, `platform-runbooks.cli` from `npm run canary --
 * start`, so Slack says which started a run. A name of our own, never `aws.*` (reserved for AWS services).
 * Who may put it is whoever IAM lets call `events:PutEvents` on the bus: grant CI exactly that, with an
 * `events:source` condition on `platform-runbooks.ci`.
 */
export const CANARY_REQUEST_SOURCES = ['platform-runbooks.ci', 'platform-runbooks.cli'] as const;
export type CanaryRequestSource = (typeof CANARY_REQUEST_SOURCES)[number];

/** The put-events entry a CI job sends (the file `canary-request.json` of CANARY_PUT_EVENTS_COMMAND). */
export const CANARY_REQUEST_ENTRIES_EXAMPLE = `[
  {
    "EventBusName": "platform-runbooks-prod",
    "Source": "platform-runbooks.ci",
    "DetailType": "CanaryRequested",
    "Detail": "{\\"service\\":\\"checkout\\",\\"image\\":\\"123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:1.42.0\\",\\"requestedBy\\":\\"github-actions:acme/checkout\\",\\"reference\\":\\"3f2c1a9e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e\\",\\"overrides\\":{\\"stepWeights\\":[10,50,100]}}"
  }
]`;

/**
 * The command. `put-events` answers 200 even when it refuses an entry: the entry's error is in `Entries` and
 * `FailedEntryCount` counts them, so the job must check it (here, the step fails unless it is 0).
 */
export const CANARY_PUT_EVENTS_COMMAND = `failed=$(aws events put-events --entries file://canary-request.json --query FailedEntryCount --output text)
test "$failed" = 0 || { echo "CanaryRequested was not put ($failed failed entries)" >&2; exit 1; }`;

/**
 * An image reference with a tag or a digest (the OCI distribution reference grammar): a bare name means
 * `:latest`, which is refused, as is `:latest` itself — the canary must be the version CI built, not whatever
 * the tag points to when a node pulls it.
 */
const domain = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?`;
const component = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const imageReference = new RegExp(
  String.raw`^${domain}${component}(?:/${component})*(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$`,
);
export const imageSchema = z.string().check(
  z.maxLength(512),
  z.superRefine((image, ctx) => {
    const match = imageReference.exec(image);
    if (!match) {
      ctx.addIssue({
        code: 'custom',
        input: image,
        message: 'must be an image reference such as registry/repository:tag or repository@sha256:<digest>',
      });
    } else if (match.groups?.tag === undefined && match.groups?.digest === undefined) {
      ctx.addIssue({
        code: 'custom',
        input: image,
        message: 'must name a tag or a digest (a bare name is :latest)',
      });
    } else if (match.groups?.tag === 'latest' && match.groups.digest === undefined) {
      ctx.addIssue({
        code: 'custom',
        input: image,
        message: 'must not be :latest: name the version built (a tag or a digest)',
      });
    }
  }),
);

/** The JSON Pointer prefix a pod-template patch may write under. */
export const POD_TEMPLATE_PREFIX = '/spec/template/';
/** A JSON Pointer (RFC 6901): "/"-separated tokens, "~" only as "~0" or "~1". */
const jsonPointer = /^(\/([^~/]|~[01])*)+$/;

const patchPath = z.string().check(
  z.maxLength(1024),
  z.regex(jsonPointer, 'must be a JSON Pointer (RFC 6901), e.g. /spec/template/spec/containers/0/env/-'),
  z.refine(
    (path) => path.startsWith(POD_TEMPLATE_PREFIX) && path.length > POD_TEMPLATE_PREFIX.length,
    `must be under ${POD_TEMPLATE_PREFIX}: a canary changes the pod template only`,
  ),
  z.refine(
    (path) => !/^\/spec\/template\/metadata\/labels(\/|$)/.test(path),
    "must not change the pod template's labels: the Deployment's selector and the Services select on them",
  ),
);

/** JSON Patch (RFC 6902) operations on the canary Deployment's pod template; `move` and `copy` are refused (their `from` would read outside it). */
export const podTemplatePatchSchema = z
  .array(
    z.discriminatedUnion('op', [
      z.strictObject({ op: z.enum(['add', 'replace', 'test']), path: patchPath, value: z.unknown() }),
      z.strictObject({ op: z.literal('remove'), path: patchPath }),
    ]),
  )
  .check(
    z.minLength(1, 'must hold at least one operation'),
    z.maxLength(100, 'must hold at most 100 operations'),
  );

/** What the requester may change for one run; each within the configuration's own bounds. */
export const overridesSchema = z.strictObject({
  /** With any of the three, the request's step settings replace the service's. */
  stepWeights: stepPlanSettingsSchema.shape.stepWeights,
  stepWeight: stepPlanSettingsSchema.shape.stepWeight,
  maxWeight: stepPlanSettingsSchema.shape.maxWeight,
  intervalMinutes: z.optional(intervalMinutesSchema),
  threshold: z.optional(thresholdSchema),
});
export type CanaryOverrides = z.output<typeof overridesSchema>;

export const canaryRequestDetailSchema = z.strictObject({
  service: z.string().check(z.minLength(1), z.maxLength(64)),
  /** The new image of the canary's container; exactly one of `image` and `podTemplatePatch`. */
  image: z.optional(imageSchema),
  /** With `image`: the container it is for. Omitted: the Deployment's only container. */
  container: z.optional(
    z
      .string()
      .check(z.regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a container name (an RFC 1123 label)')),
  ),
  /** JSON Patch operations on the stable pod template, giving the canary's. */
  podTemplatePatch: z.optional(podTemplatePatchSchema),
  overrides: z.optional(overridesSchema),
  /** Who asked: a pipeline (`github-actions:org/repo`) or a person; shown in Slack and the events. */
  requestedBy: z.string().check(z.minLength(1), z.maxLength(128)),
  /** The commit the change was built from, 7 to 64 hex digits. */
  reference: z
    .string()
    .check(z.regex(/^[0-9a-f]{7,64}$/, 'must be a commit id: 7 to 64 lowercase hex digits')),
});
export type CanaryRequestDetail = z.output<typeof canaryRequestDetailSchema>;

/** The event as EventBridge delivers it to the rule's target. */
const canaryRequestEventSchema = z.object({
  id: z.string().check(z.minLength(1)),
  'detail-type': z.literal(CANARY_REQUESTED),
  source: z.enum(CANARY_REQUEST_SOURCES, {
    error: `must be one of ${CANARY_REQUEST_SOURCES.map((source) => `"${source}"`).join(', ')}`,
  }),
  account: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit account id')),
  region: z.string().check(z.minLength(1)),
  time: z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp')),
  detail: canaryRequestDetailSchema,
});

export interface RequestContext {
  /** This stack's account: an event from another account (through a bus policy) is refused. */
  account: string;
  /** This stack's region. */
  region: string;
  /** The configured services by name (`servicesSetting`). */
  services: Readonly<Record<string, CanaryService>>;
}

export type CanaryChange =
  { kind: 'image'; image: string; container?: string } | { kind: 'patch'; operations: JsonPatchOperation[] };

/** A request ready to run: the service's settings with the overrides applied. */
export interface CanaryRequest {
  eventId: string;
  source: CanaryRequestSource;
  requestedAt: string;
  requestedBy: string;
  reference: string;
  service: CanaryService;
  change: CanaryChange;
  plan: StepPlan;
  intervalMinutes: number;
  threshold: number;
  /** The fields the request overrode, for the Slack message ("interval 10 min (requested)"). */
  overridden: (keyof CanaryOverrides)[];
}

/** Reads a `CanaryRequested` event; throws InvalidCanaryRequest or UnknownCanaryService naming what is wrong. */
export function readCanaryRequest(input: unknown, context: RequestContext): CanaryRequest {
  const event = parseOrThrow(
    canaryRequestEventSchema,
    input,
    'The CanaryRequested event',
    InvalidCanaryRequest,
  );
  if (event.account !== context.account) {
    throw new InvalidCanaryRequest(
      `The CanaryRequested event is from account ${event.account}; this runbook acts only on account ${context.account}`,
    );
  }
  if (event.region !== context.region) {
    throw new InvalidCanaryRequest(
      `The CanaryRequested event is from region ${event.region}; this runbook acts only in ${context.region}`,
    );
  }
  const { detail } = event;
  const service = Object.hasOwn(context.services, detail.service)
    ? context.services[detail.service]
    : undefined;
  if (!service) {
    const configured = Object.keys(context.services).sort();
    throw new UnknownCanaryService(
      `detail.service: "${detail.service}" is not configured for canaries; configured: ${configured.length ? configured.join(', ') : '(none)'}`,
    );
  }

  const problems: string[] = [];
  if ((detail.image === undefined) === (detail.podTemplatePatch === undefined)) {
    problems.push('detail: must give exactly one of image and podTemplatePatch');
  }
  if (detail.container !== undefined && detail.image === undefined) {
    problems.push('detail.container: is used only with image');
  }
  const overrides = detail.overrides ?? {};
  const stepOverride =
    overrides.stepWeights !== undefined ||
    overrides.stepWeight !== undefined ||
    overrides.maxWeight !== undefined;
  const stepSource = stepOverride ? overrides : service;
  const stepSettings = {
    ...(stepSource.stepWeights !== undefined && { stepWeights: stepSource.stepWeights }),
    ...(stepSource.stepWeight !== undefined && { stepWeight: stepSource.stepWeight }),
    ...(stepSource.maxWeight !== undefined && { maxWeight: stepSource.maxWeight }),
  };
  const steps = z.safeParse(stepPlanSettingsSchema, stepSettings);
  if (!steps.success) {
    for (const issue of steps.error.issues) {
      problems.push(`detail.overrides.${issue.path.map(String).join('.')}: ${issue.message}`);
    }
  }
  const intervalMinutes = overrides.intervalMinutes ?? service.intervalMinutes;
  if (overrides.intervalMinutes !== undefined) {
    for (const check of service.checks) {
      const tooShort = mannWhitneyTooShort(check, intervalMinutes);
      if (tooShort !== undefined) problems.push(`detail.overrides.intervalMinutes: ${tooShort}`);
    }
  }
  if (problems.length > 0) {
    throw new InvalidCanaryRequest(`The CanaryRequested event is malformed: ${problems.join('; ')}`);
  }

  const change: CanaryChange =
    detail.image !== undefined
      ? {
          kind: 'image',
          image: detail.image,
          ...(detail.container !== undefined && { container: detail.container }),
        }
      : { kind: 'patch', operations: (detail.podTemplatePatch ?? []) as JsonPatchOperation[] };
  return {
    eventId: event.id,
    source: event.source,
    requestedAt: event.time,
    requestedBy: detail.requestedBy,
    reference: detail.reference,
    service,
    change,
    plan: servicePlan(stepSettings),
    intervalMinutes,
    threshold: overrides.threshold ?? service.threshold,
    overridden: (Object.keys(overrides) as (keyof CanaryOverrides)[]).filter(
      (key) => overrides[key] !== undefined,
    ),
  };
}
