import * as z from 'zod/mini';
import { canarySectionSchema, checkCanarySection } from './canary';
import { certificatesSectionSchema, checkCertificatesSection } from './certificates';
import { checkPlatformSection, platformSectionSchema } from './platform';
import { checkRestoreTestsSection, restoreTestsSectionSchema } from './restore-tests';
import { checkRightsizingSection, rightsizingSectionSchema } from './rightsizing';
import { checkRollbackSection, rollbackSectionSchema } from './rollback';
import { checkSharedSections, sharedConfigSchema } from './shared';

/**
 * One optional section per runbook, each with its schema and cross-section checks in its own file: a runbook
 * is deployed when its section is present. A new runbook adds its line here.
 */
const runbookSections = {
  /** Omitted: the rollback runbook is not deployed. */
  rollback: z.optional(rollbackSectionSchema),
  /** Omitted: the certificate check is not deployed. */
  certificates: z.optional(certificatesSectionSchema),
  /** Omitted: the backup-restore test is not deployed. It needs `network` (the checks run in the VPC). */
  restoreTests: z.optional(restoreTestsSectionSchema),
  /** Omitted: the cost right-sizing report is not deployed. */
  rightsizing: z.optional(rightsizingSectionSchema),
  /**
   * Omitted: the canary promotion is not deployed. A service's `approval` is answered from the CLI, and also
   * from Slack buttons when `slack.app` is set.
   */
  canary: z.optional(canarySectionSchema),
};

/** The core platform (`platform.ts`): deployed as its own stack, `Platform-<environment>`, when present. */
const platformSection = { platform: z.optional(platformSectionSchema) };

/** The whole configuration: the shared sections (`shared.ts`), the runbooks' sections and the platform's. */
export const configSchema = z.extend(sharedConfigSchema, { ...runbookSections, ...platformSection }).check(
  z.superRefine((config, ctx) => {
    checkSharedSections(config, ctx);
    if (config.rollback) checkRollbackSection({ ...config, rollback: config.rollback }, ctx);
    if (config.certificates) checkCertificatesSection({ ...config, certificates: config.certificates }, ctx);
    if (config.restoreTests) checkRestoreTestsSection({ ...config, restoreTests: config.restoreTests }, ctx);
    if (config.rightsizing) checkRightsizingSection({ ...config, rightsizing: config.rightsizing }, ctx);
    if (config.canary) checkCanarySection({ ...config, canary: config.canary }, ctx);
    if (config.platform) checkPlatformSection({ ...config, platform: config.platform }, ctx);
    // With no runbook section there would be nothing to deploy but the shared resources.
    const names = Object.keys(runbookSections) as Array<keyof typeof runbookSections>;
    if (names.every((name) => config[name] === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `no runbook is configured: add a runbook section (${names.join(', ')})`,
      });
    }
  }),
);

export type RunbooksConfig = z.output<typeof configSchema>;
