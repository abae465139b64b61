import * as z from 'zod/mini';
import { rightsizingStrategySchema } from '../../lib/config/rightsizing';
import { executionSchema } from '../shared/execution';

// What every step of the right-sizing report receives from the workflow: the execution and the settings the
// construct wrote into the definition (`rightsizingRuntime`), parsed at each step's edge.

export const rightsizingSettingsSchema = z.object({
  lookbackDays: z.int().check(z.gte(1), z.lte(15)),
  periodSeconds: z.union([z.literal(60), z.literal(300), z.literal(3600)]),
  strategy: rightsizingStrategySchema,
  ec2: z.boolean(),
  rds: z.boolean(),
  topN: z.int().check(z.gte(1), z.lte(20)),
  linkExpiryHours: z.int().check(z.gte(1), z.lte(168)),
});
export type RightsizingStepSettings = z.output<typeof rightsizingSettingsSchema>;

export const stepInputSchema = z.object({ execution: executionSchema, settings: rightsizingSettingsSchema });

export const clusterInputSchema = z.object({
  execution: executionSchema,
  settings: rightsizingSettingsSchema,
  cluster: z.object({
    name: z.string().check(z.minLength(1)),
    namespaces: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  }),
});
