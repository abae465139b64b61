import * as z from 'zod/mini';
import type { ObservedCertificate } from './certificate';

// What each collecting step of a run leaves in the report bucket for the report step: the certificates it
// found and the sources it could not read. Ten thousand certificates do not fit a state's 256 KB, so the
// state carries only where the part is and how many lines it holds.

/** The collecting steps, one part each. */
export const PARTS = ['aws', 'cert-manager', 'endpoints'] as const;
export type PartName = (typeof PARTS)[number];

/** A source a step could not read (a region throttled, a cluster unreachable): reported, not fatal. */
export interface SourceFailure {
  /** `acm`, `iam`, `load-balancer`, `cert-manager`… */
  source: string;
  /** The region, `global`, or the cluster (and namespace). */
  location: string;
  /** The error's name and message. */
  error: string;
}

export interface CollectedPart {
  part: PartName;
  /** ISO 8601. */
  collectedAt: string;
  certificates: ObservedCertificate[];
  failures: SourceFailure[];
}

/** What a collecting step returns into the state. */
export interface PartSummary {
  part: PartName;
  bucket: string;
  key: string;
  certificates: number;
  failures: number;
}

/** The runs' parts; the bucket's lifecycle expires them after a week. */
export const RUNS_PREFIX = 'certificate-check/runs/';
/** The reports people read, kept `reportRetentionDays`. */
export const REPORTS_PREFIX = 'certificate-check/reports/';

export const partKey = (executionName: string, part: PartName): string =>
  `${RUNS_PREFIX}${executionName}/${part}.json`;

const text = z.string().check(z.minLength(1));

export const observedCertificateSchema = z.object({
  source: z.enum(['acm', 'iam', 'load-balancer', 'cert-manager', 'endpoint']),
  id: text,
  name: text,
  location: z.optional(z.string()),
  notAfter: z.optional(
    z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'must be a timestamp')),
  ),
  expiringCertificate: z.optional(z.string()),
  renewsAutomatically: z.boolean(),
  inUseBy: z.array(z.string()),
  problems: z.array(z.object({ code: text, text })),
});

export const sourceFailureSchema = z.object({ source: text, location: z.string(), error: text });

export const collectedPartSchema = z.object({
  part: z.enum(PARTS),
  collectedAt: text,
  certificates: z.array(observedCertificateSchema),
  failures: z.array(sourceFailureSchema),
});

export const partSummarySchema = z.object({
  part: z.enum(PARTS),
  bucket: text,
  key: text,
  certificates: z.int(),
  failures: z.int(),
});
