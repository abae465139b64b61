import {
  AccessDeniedException,
  ComputeOptimizerClient,
  GetAutoScalingGroupRecommendationsCommand,
  GetEC2InstanceRecommendationsCommand,
  GetEnrollmentStatusCommand,
  GetRDSDatabaseRecommendationsCommand,
  InternalServerException,
  InvalidParameterValueException,
  OptInRequiredException,
  ServiceUnavailableException,
  ThrottlingException,
} from '@aws-sdk/client-compute-optimizer';
import { mockClient } from 'aws-sdk-client-mock';
import { ACCOUNT, REGION } from '../simulated-account';
import { timelineNow } from '../virtual-clock';

// Compute Optimizer as the right-sizing report calls it, in-process (aws-sdk-client-mock answers every
// ComputeOptimizerClient's `send`): the account's enrollment (GetEnrollmentStatus), and its EC2 instance,
// Auto Scaling group and RDS recommendations in the API's shapes (findings `Overprovisioned`,
// `Underprovisioned`, `Optimized`, `NotOptimized` for groups; reason codes; utilisation and projected
// utilisation; ranked options with savings opportunities). What it keeps faithful:
// - an account not opted in (status other than `Active`) answers every Get…Recommendations with
//   OptInRequiredException, as Compute Optimizer does;
// - pagination: `maxResults` 1–1000 (InvalidParameterValueException beyond), an opaque `nextToken` tied to
//   its operation; `pageSize` makes pages smaller than asked (a service may return fewer), to exercise them;
// - faults by the API's modelled errors: ThrottlingException, InternalServerException,
//   ServiceUnavailableException, AccessDeniedException.
// The SDK's own retries do not run: a throttled call reaches the adapter as the SDK would surface it after them.

export type ComputeOptimizerOperation =
  | 'GetEnrollmentStatus'
  | 'GetEC2InstanceRecommendations'
  | 'GetAutoScalingGroupRecommendations'
  | 'GetRDSDatabaseRecommendations';

export type EnrollmentStatus = 'Active' | 'Inactive' | 'Pending' | 'Failed';

export interface ComputeOptimizerFault {
  operation: ComputeOptimizerOperation;
  name:
    | 'ThrottlingException'
    | 'InternalServerException'
    | 'ServiceUnavailableException'
    | 'AccessDeniedException';
  /** Faulty answers left; Infinity for always. @default 1 */
  times?: number;
}

/** Compute Optimizer's words for a resource's size. */
export type CoFinding = 'Overprovisioned' | 'Underprovisioned' | 'Optimized' | 'NotOptimized';

/** What a scenario says of one resource; the simulation writes the API's full record from it. */
export interface CoRecommendationSpec {
  /** EC2: the instance id; ASG: the group name; RDS: the DB instance identifier. */
  id: string;
  /** EC2: its Name tag. */
  name?: string;
  current: string;
  finding: CoFinding;
  /** The rank-1 option's type (the current one when omitted: nothing to change). */
  recommended?: string;
  /** Other options after the first, ranked 2, 3… */
  alternatives?: string[];
  /** Compute Optimizer's reason codes, e.g. `CPUOverprovisioned`, `MemoryUnderprovisioned`. */
  reasons?: string[];
  /** Measured CPU maximum, percent. */
  cpuMaxPercent: number;
  /** The rank-1 option's projected CPU maximum, percent. */
  projectedCpuMaxPercent?: number;
  /** Its estimated monthly savings in USD (Compute Optimizer's own figure; the report prices lines itself). */
  estimatedMonthlySavingsUsd?: number;
  /** ASG: desired capacity (and min/max). @default 3 */
  desiredCapacity?: number;
  /** RDS: its engine. @default 'postgres' */
  engine?: string;
}

const MAX_RESULTS = 1000;

const FAULTS = {
  ThrottlingException,
  InternalServerException,
  ServiceUnavailableException,
  AccessDeniedException,
} as const;

const metadata = (status: number) => ({ $metadata: { httpStatusCode: status } });

export const ec2InstanceArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${id}`;
export const autoScalingGroupArn = (name: string) =>
  `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901:autoScalingGroupName/${name}`;
export const rdsInstanceArn = (id: string) => `arn:aws:rds:${REGION}:${ACCOUNT}:db:${id}`;

/** A CPU utilisation metric: `Cpu` for EC2 and groups, `CPU` for RDS (the API's two enums spell it so). */
const cpu = (value: number, name: 'Cpu' | 'CPU' = 'Cpu') => [{ name, statistic: 'Maximum', value }];

export class SimulatedComputeOptimizer {
  enrollment: EnrollmentStatus = 'Active';
  readonly ec2: CoRecommendationSpec[] = [];
  readonly autoScalingGroups: CoRecommendationSpec[] = [];
  readonly rds: CoRecommendationSpec[] = [];
  /** Recommendations per page at most, whatever `maxResults` asks. @default 1000 */
  pageSize = MAX_RESULTS;
  readonly faults: Array<ComputeOptimizerFault & { times: number }> = [];
  /** Every call, in order. */
  readonly calls: Array<{
    operation: ComputeOptimizerOperation;
    input: Record<string, unknown>;
    /** `timelineNow()` when it arrived. */
    at: number;
    /** The error it was answered with. */
    error?: string;
  }> = [];
  private readonly mock = mockClient(ComputeOptimizerClient);

  constructor() {
    this.install();
  }

  restore(): void {
    this.mock.restore();
  }

  reset(): void {
    this.enrollment = 'Active';
    this.ec2.length = 0;
    this.autoScalingGroups.length = 0;
    this.rds.length = 0;
    this.pageSize = MAX_RESULTS;
    this.faults.length = 0;
    this.calls.length = 0;
  }

  injectFault(fault: ComputeOptimizerFault): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  callsTo(operation: ComputeOptimizerOperation): number {
    return this.calls.filter((call) => call.operation === operation).length;
  }

  private begin(operation: ComputeOptimizerOperation, input: object): void {
    const call = { operation, input: { ...input } as Record<string, unknown>, at: timelineNow() };
    this.calls.push(call);
    const fault = this.faults.find((candidate) => candidate.operation === operation && candidate.times > 0);
    if (fault) {
      fault.times -= 1;
      Object.assign(call, { error: fault.name });
      const status =
        fault.name === 'ThrottlingException' ? 400 : fault.name === 'AccessDeniedException' ? 403 : 500;
      throw new FAULTS[fault.name]({
        message: `${fault.name} (simulated ${operation})`,
        ...metadata(status),
      });
    }
    if (operation !== 'GetEnrollmentStatus' && this.enrollment !== 'Active') {
      Object.assign(call, { error: 'OptInRequiredException' });
      throw new OptInRequiredException({
        message: 'The account is not opted in to AWS Compute Optimizer.',
        ...metadata(403),
      });
    }
  }

  private page<T>(
    operation: ComputeOptimizerOperation,
    items: T[],
    input: { maxResults?: number; nextToken?: string },
  ) {
    const asked = input.maxResults ?? MAX_RESULTS;
    if (!Number.isInteger(asked) || asked < 1 || asked > MAX_RESULTS)
      throw new InvalidParameterValueException({
        message: `maxResults must be between 1 and ${MAX_RESULTS}.`,
        ...metadata(400),
      });
    let offset = 0;
    if (input.nextToken !== undefined) {
      const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(input.nextToken, 'base64url').toString('utf8'));
      if (!decoded || decoded[1] !== operation)
        throw new InvalidParameterValueException({
          message: 'The nextToken is not valid.',
          ...metadata(400),
        });
      offset = Number(decoded[2]);
    }
    const end = offset + Math.min(asked, this.pageSize);
    return {
      items: items.slice(offset, end),
      ...(end < items.length && { nextToken: Buffer.from(`${operation}:${end}`).toString('base64url') }),
    };
  }

  private install(): void {
    const refreshed = () => new Date(Date.now() - 6 * 3_600_000);
    const options = (spec: CoRecommendationSpec, metric: 'Cpu' | 'CPU' = 'Cpu') =>
      [spec.recommended ?? spec.current, ...(spec.alternatives ?? [])].map((type, index) => ({
        type,
        rank: index + 1,
        projectedUtilizationMetrics: cpu(
          index === 0 ? (spec.projectedCpuMaxPercent ?? spec.cpuMaxPercent) : spec.cpuMaxPercent * 0.8,
          metric,
        ),
        performanceRisk: index === 0 ? 1 : 2,
        savingsOpportunity: {
          savingsOpportunityPercentage: index === 0 && spec.estimatedMonthlySavingsUsd ? 40 : 0,
          estimatedMonthlySavings: {
            currency: 'USD',
            value: index === 0 ? (spec.estimatedMonthlySavingsUsd ?? 0) : 0,
          },
        },
      }));

    this.mock.on(GetEnrollmentStatusCommand).callsFake(async (input) => {
      this.begin('GetEnrollmentStatus', input);
      return {
        status: this.enrollment,
        ...(this.enrollment === 'Inactive' && { statusReason: 'The account has not opted in.' }),
        memberAccountsEnrolled: false,
        ...(this.enrollment === 'Active' && { lastUpdatedTimestamp: new Date(Date.now() - 40 * 86_400_000) }),
      };
    });

    this.mock.on(GetEC2InstanceRecommendationsCommand).callsFake(async (input) => {
      this.begin('GetEC2InstanceRecommendations', input);
      const { items, nextToken } = this.page('GetEC2InstanceRecommendations', this.ec2, input);
      return {
        instanceRecommendations: items.map((spec) => ({
          instanceArn: ec2InstanceArn(spec.id),
          accountId: ACCOUNT,
          ...(spec.name !== undefined && { instanceName: spec.name }),
          currentInstanceType: spec.current,
          finding: spec.finding,
          findingReasonCodes: spec.reasons ?? [],
          utilizationMetrics: cpu(spec.cpuMaxPercent),
          lookBackPeriodInDays: 14,
          recommendationOptions: options(spec).map(({ type, ...option }) => ({
            instanceType: type,
            ...option,
            migrationEffort: 'VeryLow',
          })),
          recommendationSources: [
            { recommendationSourceArn: ec2InstanceArn(spec.id), recommendationSourceType: 'Ec2Instance' },
          ],
          lastRefreshTimestamp: refreshed(),
          currentPerformanceRisk: spec.finding === 'Underprovisioned' ? 'High' : 'VeryLow',
          instanceState: 'running',
        })),
        ...(nextToken && { nextToken }),
        errors: [],
      };
    });

    this.mock.on(GetAutoScalingGroupRecommendationsCommand).callsFake(async (input) => {
      this.begin('GetAutoScalingGroupRecommendations', input);
      const { items, nextToken } = this.page(
        'GetAutoScalingGroupRecommendations',
        this.autoScalingGroups,
        input,
      );
      return {
        autoScalingGroupRecommendations: items.map((spec) => {
          const capacity = spec.desiredCapacity ?? 3;
          const configuration = (instanceType: string) => ({
            desiredCapacity: capacity,
            minSize: Math.max(1, capacity - 1),
            maxSize: capacity + 3,
            instanceType,
          });
          return {
            accountId: ACCOUNT,
            autoScalingGroupArn: autoScalingGroupArn(spec.id),
            autoScalingGroupName: spec.id,
            finding: spec.finding,
            utilizationMetrics: cpu(spec.cpuMaxPercent),
            lookBackPeriodInDays: 14,
            currentConfiguration: configuration(spec.current),
            recommendationOptions: options(spec).map(({ type, ...option }) => ({
              configuration: configuration(type),
              ...option,
              migrationEffort: 'Low',
            })),
            lastRefreshTimestamp: refreshed(),
            currentPerformanceRisk: 'Low',
          };
        }),
        ...(nextToken && { nextToken }),
        errors: [],
      };
    });

    this.mock.on(GetRDSDatabaseRecommendationsCommand).callsFake(async (input) => {
      this.begin('GetRDSDatabaseRecommendations', input);
      const { items, nextToken } = this.page('GetRDSDatabaseRecommendations', this.rds, input);
      return {
        rdsDBRecommendations: items.map((spec) => ({
          resourceArn: rdsInstanceArn(spec.id),
          accountId: ACCOUNT,
          engine: spec.engine ?? 'postgres',
          engineVersion: '16.8',
          currentDBInstanceClass: spec.current,
          idle: 'False',
          instanceFinding: spec.finding,
          instanceFindingReasonCodes: spec.reasons ?? [],
          storageFinding: 'Optimized',
          utilizationMetrics: cpu(spec.cpuMaxPercent, 'CPU'),
          instanceRecommendationOptions: options(spec, 'CPU').map(({ type, ...option }) => ({
            dbInstanceClass: type,
            ...option,
          })),
          lookbackPeriodInDays: 14,
          lastRefreshTimestamp: refreshed(),
        })),
        ...(nextToken && { nextToken }),
        errors: [],
      };
    });
  }
}
