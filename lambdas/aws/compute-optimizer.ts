import {
  type ComputeOptimizerClient,
  GetAutoScalingGroupRecommendationsCommand,
  GetEC2InstanceRecommendationsCommand,
  GetEnrollmentStatusCommand,
  GetRDSDatabaseRecommendationsCommand,
} from '@aws-sdk/client-compute-optimizer';
import * as z from 'zod/mini';
import { parseOrThrow, RunbookError } from '../shared/errors';
import { sendNamingFaults } from './faults';

// Compute Optimizer as the right-sizing report uses it: whether the account opted in, and its EC2, Auto
// Scaling group and RDS recommendations, every page. Answers are parsed at this edge; faults get names.

/** Compute Optimizer did not answer (throttled after the SDK's retries, 5xx, timeout). */
export class ComputeOptimizerUnavailable extends RunbookError {
  override name = 'ComputeOptimizerUnavailable';
}

/** Compute Optimizer answered with something that is not what the API promises. */
export class ComputeOptimizerInvalidResponse extends RunbookError {
  override name = 'ComputeOptimizerInvalidResponse';
}

/** The account has not opted in (OptInRequiredException): the report sizes from CloudWatch instead. */
export class ComputeOptimizerNotEnrolled extends RunbookError {
  override name = 'ComputeOptimizerNotEnrolled';
}

async function send<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await sendNamingFaults(operation, call, ComputeOptimizerUnavailable);
  } catch (error) {
    if ((error as Error).name === 'OptInRequiredException') {
      throw new ComputeOptimizerNotEnrolled(
        `${operation}: the account has not opted in to Compute Optimizer.`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}

const enrollmentAnswer = z.object({
  status: z._default(z.enum(['Active', 'Inactive', 'Pending', 'Failed']), 'Inactive'),
  statusReason: z.optional(z.string()),
});

export type EnrollmentStatus = 'Active' | 'Inactive' | 'Pending' | 'Failed';

/** The account's Compute Optimizer enrollment: only `Active` has recommendations. */
export async function enrollmentStatus(client: ComputeOptimizerClient): Promise<EnrollmentStatus> {
  const raw = await send('GetEnrollmentStatus', () => client.send(new GetEnrollmentStatusCommand({})));
  return parseOrThrow(
    enrollmentAnswer,
    raw,
    'The GetEnrollmentStatus answer',
    ComputeOptimizerInvalidResponse,
  ).status;
}

const utilisation = z.object({
  name: z.optional(z.string()),
  statistic: z.optional(z.string()),
  value: z.optional(z.number()),
});
const utilisations = z._default(z.array(utilisation), []);

const ec2Recommendation = z.object({
  instanceArn: z.string().check(z.minLength(1)),
  instanceName: z.optional(z.string()),
  currentInstanceType: z.string().check(z.minLength(1)),
  finding: z.string(),
  findingReasonCodes: z._default(z.array(z.string()), []),
  utilizationMetrics: utilisations,
  lookBackPeriodInDays: z.optional(z.number()),
  recommendationOptions: z._default(
    z.array(
      z.object({
        instanceType: z.string(),
        rank: z.optional(z.number()),
        projectedUtilizationMetrics: utilisations,
      }),
    ),
    [],
  ),
});

const asgRecommendation = z.object({
  autoScalingGroupArn: z.string().check(z.minLength(1)),
  autoScalingGroupName: z.string().check(z.minLength(1)),
  finding: z.string(),
  utilizationMetrics: utilisations,
  lookBackPeriodInDays: z.optional(z.number()),
  currentConfiguration: z.object({
    instanceType: z.string().check(z.minLength(1)),
    desiredCapacity: z.optional(z.number()),
  }),
  recommendationOptions: z._default(
    z.array(
      z.object({
        configuration: z.optional(z.object({ instanceType: z.optional(z.string()) })),
        rank: z.optional(z.number()),
        projectedUtilizationMetrics: utilisations,
      }),
    ),
    [],
  ),
});

const rdsRecommendation = z.object({
  resourceArn: z.string().check(z.minLength(1)),
  engine: z.optional(z.string()),
  currentDBInstanceClass: z.string().check(z.minLength(1)),
  instanceFinding: z.optional(z.string()),
  instanceFindingReasonCodes: z._default(z.array(z.string()), []),
  utilizationMetrics: utilisations,
  instanceRecommendationOptions: z._default(
    z.array(
      z.object({
        dbInstanceClass: z.optional(z.string()),
        rank: z.optional(z.number()),
        projectedUtilizationMetrics: utilisations,
      }),
    ),
    [],
  ),
});

export type Ec2Recommendation = z.output<typeof ec2Recommendation>;
export type AsgRecommendation = z.output<typeof asgRecommendation>;
export type RdsRecommendation = z.output<typeof rdsRecommendation>;

/** Every page of one Get…Recommendations call, each parsed with `schema`; `items` picks the list out. */
async function allPages<S extends z.ZodMiniType<{ nextToken?: string | undefined }>, T>(
  operation: string,
  call: (nextToken: string | undefined) => Promise<unknown>,
  schema: S,
  items: (answer: z.output<S>) => T[],
  maxPages = 100,
): Promise<T[]> {
  const found: T[] = [];
  let nextToken: string | undefined;
  for (let page = 1; page <= maxPages; page += 1) {
    const raw = await send(operation, () => call(nextToken));
    const answer = parseOrThrow(schema, raw, `The ${operation} answer`, ComputeOptimizerInvalidResponse);
    found.push(...items(answer));
    nextToken = answer.nextToken;
    if (nextToken === undefined) return found;
  }
  throw new ComputeOptimizerInvalidResponse(`${operation} still had more pages after ${maxPages}.`);
}

const nextToken = z.optional(z.string());

/** Compute Optimizer's recommendation for every EC2 instance it knows in the region. */
export function ec2InstanceRecommendations(client: ComputeOptimizerClient): Promise<Ec2Recommendation[]> {
  return allPages(
    'GetEC2InstanceRecommendations',
    (token) => client.send(new GetEC2InstanceRecommendationsCommand({ nextToken: token, maxResults: 1000 })),
    z.object({ instanceRecommendations: z._default(z.array(ec2Recommendation), []), nextToken }),
    (answer) => answer.instanceRecommendations,
  );
}

/** Compute Optimizer's recommendation for every Auto Scaling group it knows in the region. */
export function autoScalingGroupRecommendations(
  client: ComputeOptimizerClient,
): Promise<AsgRecommendation[]> {
  return allPages(
    'GetAutoScalingGroupRecommendations',
    (token) =>
      client.send(new GetAutoScalingGroupRecommendationsCommand({ nextToken: token, maxResults: 1000 })),
    z.object({ autoScalingGroupRecommendations: z._default(z.array(asgRecommendation), []), nextToken }),
    (answer) => answer.autoScalingGroupRecommendations,
  );
}

/** Compute Optimizer's recommendation for every RDS DB instance it knows in the region. */
export function rdsDatabaseRecommendations(client: ComputeOptimizerClient): Promise<RdsRecommendation[]> {
  return allPages(
    'GetRDSDatabaseRecommendations',
    (token) => client.send(new GetRDSDatabaseRecommendationsCommand({ nextToken: token, maxResults: 1000 })),
    z.object({ rdsDBRecommendations: z._default(z.array(rdsRecommendation), []), nextToken }),
    (answer) => answer.rdsDBRecommendations,
  );
}
