import * as z from 'zod/mini';
import { checkRollbackSection, rollbackSectionSchema } from './rollback';
import { checkSharedSections, sharedConfigSchema } from './shared';

/**
 * The whole configuration: the shared sections (`shared.ts`) and one section per runbook, each with its
 * schema and cross-section checks in its own file. A new runbook adds its section here and nothing else.
 */
export const configSchema = z
  .extend(sharedConfigSchema, {
    rollback: rollbackSectionSchema,
  })
  .check(
    z.superRefine((config, ctx) => {
      checkSharedSections(config, ctx);
      checkRollbackSection(config, ctx);
    }),
  );

export type RunbooksConfig = z.output<typeof configSchema>;
