import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { ACCOUNT, REGION } from '../simulated-account';
import { timelineNow } from '../virtual-clock';

// EC2's DescribeInstances as the right-sizing report calls it, in-process (aws-sdk-client-mock answers every
// EC2Client's `send`). What it keeps faithful:
// - instances grouped in reservations, with state, type, placement and tags; the nodes of an EKS managed
//   node group tagged as EKS tags them (`eks:cluster-name`, `eks:nodegroup-name`,
//   `kubernetes.io/cluster/<name>`, `aws:autoscaling:groupName`);
// - filters (`instance-state-name`, `instance-type`, `instance-id`, `tag:<key>`, `tag-key`; another name is
//   InvalidParameterValue); MaxResults 5–1000 and not with InstanceIds (InvalidParameterCombination);
//   NextToken; an unknown id is `InvalidInstanceID.NotFound`;
// - faults by EC2's codes: `RequestLimitExceeded` (its throttling), `InternalError`, `UnauthorizedOperation`.
// (Auto Scaling groups come from Compute Optimizer only: the report reads no Auto Scaling API.)

export interface Ec2InstanceSpec {
  id: string;
  type: string;
  name?: string;
  state?: 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
  tags?: Record<string, string>;
  /** The Auto Scaling group it belongs to (set by `addNodeGroup`). */
  group?: string;
  launchedAt?: Date;
}

export interface NodeGroupSpec {
  name: string;
  type: string;
  desiredCapacity: number;
  /** The EKS cluster and node group it runs, as EKS managed node groups tag theirs. */
  cluster?: string;
  nodegroup?: string;
  tags?: Record<string, string>;
}

export interface Ec2Fault {
  operation: 'DescribeInstances';
  name: 'RequestLimitExceeded' | 'InternalError' | 'UnauthorizedOperation';
  times?: number;
}

const STATE_CODES = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
} as const;

const token = (operation: string, offset: number) =>
  Buffer.from(`${operation}:${offset}`).toString('base64url');
function offsetOf(operation: string, value: string | undefined, invalid: () => Error): number {
  if (value === undefined) return 0;
  const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(value, 'base64url').toString('utf8'));
  if (!decoded || decoded[1] !== operation) throw invalid();
  return Number(decoded[2]);
}

export class SimulatedEc2 {
  readonly instances: Array<Required<Pick<Ec2InstanceSpec, 'id' | 'type' | 'state'>> & Ec2InstanceSpec> = [];
  readonly faults: Array<Ec2Fault & { times: number }> = [];
  readonly calls: Array<{ operation: Ec2Fault['operation']; at: number; error?: string }> = [];
  private readonly ec2 = mockClient(EC2Client);
  /** Instances per page at most, whatever MaxResults asks (EC2 may answer fewer). @default 1000 */
  pageSize = 1000;
  private serial = 0;

  constructor() {
    this.install();
  }

  restore(): void {
    this.ec2.restore();
  }

  reset(): void {
    this.instances.length = 0;
    this.faults.length = 0;
    this.calls.length = 0;
    this.serial = 0;
    this.pageSize = 1000;
  }

  injectFault(fault: Ec2Fault): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  addInstance(spec: Ec2InstanceSpec): void {
    this.instances.push({ state: 'running', ...spec });
  }

  /** A node group's `desiredCapacity` running instances (ids derived from its name), tagged as EKS tags them. */
  addNodeGroup(spec: NodeGroupSpec): string[] {
    const ids: string[] = [];
    for (let index = 0; index < spec.desiredCapacity; index += 1) {
      this.serial += 1;
      this.addInstance({
        id: `i-0${(0x5eed0000 + this.serial).toString(16)}${spec.name.length.toString(16).padStart(8, '0')}`,
        type: spec.type,
        group: spec.name,
        tags: {
          'aws:autoscaling:groupName': spec.name,
          ...(spec.cluster !== undefined && {
            'eks:cluster-name': spec.cluster,
            [`kubernetes.io/cluster/${spec.cluster}`]: 'owned',
          }),
          ...(spec.nodegroup !== undefined && { 'eks:nodegroup-name': spec.nodegroup }),
        },
      });
      ids.push(this.instances.at(-1)?.id ?? '');
    }
    return ids;
  }

  private begin(operation: Ec2Fault['operation']): { error?: string } {
    const call: { operation: Ec2Fault['operation']; at: number; error?: string } = {
      operation,
      at: timelineNow(),
    };
    this.calls.push(call);
    const fault = this.faults.find((candidate) => candidate.operation === operation && candidate.times > 0);
    if (fault) {
      fault.times -= 1;
      call.error = fault.name;
      const server = /Internal|Unavailable/.test(fault.name);
      const options = {
        name: fault.name,
        $fault: (server ? 'server' : 'client') as 'server' | 'client',
        message:
          fault.name === 'RequestLimitExceeded'
            ? 'Request limit exceeded.'
            : `${fault.name} (simulated ${operation})`,
        $metadata: { httpStatusCode: server ? 500 : fault.name === 'UnauthorizedOperation' ? 403 : 400 },
      };
      throw new EC2ServiceException(options);
    }
    return call;
  }

  private ec2Error(name: string, message: string): Error {
    return new EC2ServiceException({ name, $fault: 'client', message, $metadata: { httpStatusCode: 400 } });
  }

  private describeInstances(input: DescribeInstancesCommandInput) {
    this.begin('DescribeInstances');
    if (input.MaxResults !== undefined && input.InstanceIds?.length)
      throw this.ec2Error(
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      );
    if (input.MaxResults !== undefined && (input.MaxResults < 5 || input.MaxResults > 1000))
      throw this.ec2Error(
        'InvalidParameterValue',
        `Value ( ${input.MaxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
      );
    for (const id of input.InstanceIds ?? []) {
      if (!this.instances.some((instance) => instance.id === id))
        throw this.ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    }
    const filters = input.Filters ?? [];
    const matches = (instance: SimulatedEc2['instances'][number]) =>
      (!input.InstanceIds?.length || input.InstanceIds.includes(instance.id)) &&
      filters.every(({ Name = '', Values = [] }) => {
        const tags: Record<string, string> = {
          ...instance.tags,
          ...(instance.name !== undefined && { Name: instance.name }),
        };
        if (Name === 'instance-state-name') return Values.includes(instance.state);
        if (Name === 'instance-type') return Values.includes(instance.type);
        if (Name === 'instance-id') return Values.includes(instance.id);
        if (Name === 'tag-key') return Values.some((key) => key in tags);
        if (Name.startsWith('tag:')) {
          const value = tags[Name.slice(4)];
          return value !== undefined && Values.includes(value);
        }
        throw this.ec2Error('InvalidParameterValue', `The filter '${Name}' is invalid`);
      });
    const listed = this.instances.filter(matches);
    const offset = offsetOf('DescribeInstances', input.NextToken, () =>
      this.ec2Error('InvalidParameterValue', 'The token is not valid'),
    );
    const size = Math.min(input.MaxResults ?? 1000, this.pageSize);
    const page = listed.slice(offset, offset + size);
    return {
      // One reservation per instance, as separate launches leave them.
      Reservations: page.map((instance) => ({
        ReservationId: `r-${instance.id.slice(2)}`,
        OwnerId: ACCOUNT,
        Instances: [
          {
            InstanceId: instance.id,
            InstanceType: instance.type,
            State: { Code: STATE_CODES[instance.state], Name: instance.state },
            LaunchTime: instance.launchedAt ?? new Date(Date.now() - 30 * 86_400_000),
            Placement: { AvailabilityZone: `${REGION}a`, Tenancy: 'default' },
            PlatformDetails: 'Linux/UNIX',
            Architecture: instance.type.includes('g.') ? 'arm64' : 'x86_64',
            Monitoring: { State: 'disabled' },
            Tags: Object.entries({
              ...instance.tags,
              ...(instance.name !== undefined && { Name: instance.name }),
            }).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      })),
      ...(offset + size < listed.length && { NextToken: token('DescribeInstances', offset + size) }),
    };
  }

  private install(): void {
    this.ec2
      .on(DescribeInstancesCommand)
      .callsFake(async (input: DescribeInstancesCommandInput) => this.describeInstances(input));
  }
}
