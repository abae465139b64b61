import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import type { ISecurityGroup } from 'aws-cdk-lib/aws-ec2';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import type { RunbookFunctionEntry } from '../lambdas/shared/function-table';
import { lambdaBundling } from './lambda-bundling';
import type { RunbookLogs } from './runbook-logs';
import type { RunbookNetwork } from './runbook-network';

/** The repository root: entries and the lock file are resolved from it, whatever the working directory. */
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** A runbook Lambda's timeout unless its construct passes another (`RunbookFunctionProps.timeout`). */
export const defaultFunctionTimeout = Duration.seconds(30);

/** What every runbook Lambda takes from the stack: how its logs are kept and where it runs. */
export interface RunbookFunctionPlatform {
  /** Retention and key of its log group. */
  readonly logs: RunbookLogs;
  /**
   * The VPC placement (`network` in the configuration).
   * @default - the function runs outside any VPC
   */
  readonly network?: RunbookNetwork;
}

export interface RunbookFunctionProps {
  /**
   * The function's entry in its runbook's function table: the handler file, `POWERTOOLS_SERVICE_NAME`
   * (names the function in every log line, metric and trace), the description, and what it reaches (which
   * decides whether it runs in the VPC, and which VPC endpoints it needs).
   */
  readonly definition: RunbookFunctionEntry;
  /** The stack's log settings and network placement (a runbook passes its `shared` resources). */
  readonly platform: RunbookFunctionPlatform;
  /**
   * The execution role. The function grants it write access to its own log group (and, through active
   * tracing, X-Ray), so the role needs no managed policy.
   */
  readonly role: IRole;
  /**
   * Variables added to (or overriding) the defaults `POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL`,
   * `NODE_OPTIONS` and `NETWORK_PLACEMENT`.
   * @default - the defaults only
   */
  readonly environment?: Record<string, string>;
  /** @default - the entry's `timeoutSeconds`, else Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default - the entry's `memoryMb`, else 256 */
  readonly memorySize?: number;
  /**
   * Security groups the function gets besides the network's shared ones (a database client's group, say);
   * its role may then create network interfaces in them too. Only for a function placed in the VPC: one
   * that would run outside it is refused.
   * @default - the network's shared groups only
   */
  readonly securityGroups?: readonly ISecurityGroup[];
}

/**
 * A runbook Lambda with the team's defaults in one place:
 * - runtime `nodejs22.x` (the Node version the handlers are tested on), `arm64`;
 * - X-Ray tracing `ACTIVE`;
 * - an explicit log group with the stack's retention and key (`RunbookLogs`), `RemovalPolicy.DESTROY`;
 * - in the VPC when the configuration has a `network`, unless it needs the internet and the subnets have none
 *   (`NETWORK_PLACEMENT=vpc|outside-vpc` tells the code which, for the checks that depend on it), with the
 *   network's security groups and any `securityGroups` of its own;
 * - timeout 30 s, memory 256 MB, unless the function table entry says otherwise;
 * - `POWERTOOLS_SERVICE_NAME` from `serviceName`, `POWERTOOLS_LOG_LEVEL=INFO`,
 *   `NODE_OPTIONS=--enable-source-maps` (stack traces name the TypeScript line; its cold-start cost is in
 *   docs/development.md, Decisions);
 * - bundled with the local esbuild (never Docker) with the settings of `lambda-bundling.ts`: minified, ESM
 *   (`index.mjs`, with a `require` shim for CommonJS dependencies), source maps of mappings only
 *   (`sourcesContent: false`: a third of the size, read at every cold start), the ESM builds of
 *   dependencies preferred (`module` before `main`), and the AWS SDK bundled at the version in
 *   package-lock.json rather than the runtime's copy.
 */
export class RunbookFunction extends NodejsFunction {
  /** The function table entry it was built from; `RunbookStateMachine` substitutes its ARN by it. */
  public readonly definition: RunbookFunctionEntry;

  constructor(scope: Construct, id: string, props: RunbookFunctionProps) {
    const { logs, network } = props.platform;
    const logGroup = logs.createLogGroup(scope, `${id}LogGroup`);
    const placement = network?.placementFor(props.definition.reaches, props.role);
    const extraGroups = props.securityGroups ?? [];
    if (extraGroups.length > 0) {
      if (!network || !placement) {
        throw new Error(
          `${props.definition.serviceName} is given security groups but runs outside a VPC: it needs a network section and subnets it may run in`,
        );
      }
      for (const group of extraGroups) network.allowSecurityGroup(group);
    }
    super(scope, id, {
      entry: join(projectRoot, props.definition.handler),
      projectRoot,
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      handler: 'handler',
      description: props.definition.description,
      role: props.role,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      timeout:
        props.timeout ??
        (props.definition.timeoutSeconds === undefined
          ? defaultFunctionTimeout
          : Duration.seconds(props.definition.timeoutSeconds)),
      memorySize: props.memorySize ?? props.definition.memoryMb ?? 256,
      logGroup,
      ...(placement && {
        vpc: placement.vpc,
        vpcSubnets: { subnets: placement.subnets },
        securityGroups: [...placement.securityGroups, ...extraGroups],
      }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.definition.serviceName,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NETWORK_PLACEMENT: placement ? 'vpc' : 'outside-vpc',
        ...props.environment,
      },
      bundling: {
        // The shared esbuild settings (target node22, minify, source maps without sources, the `require`
        // banner, the AWS SDK bundled rather than the runtime's copy), so `npm run bench` measures what deploys.
        target: lambdaBundling.target,
        minify: lambdaBundling.minify,
        sourceMap: lambdaBundling.sourceMap,
        sourcesContent: lambdaBundling.sourcesContent,
        banner: lambdaBundling.banner,
        externalModules: [...lambdaBundling.externalModules],
        mainFields: [...lambdaBundling.mainFields],
        format: OutputFormat.ESM,
        forceDockerBundling: false,
      },
    });
    this.definition = props.definition;
    logGroup.grantWrite(props.role);
    if (network && placement) {
      // Lambda refuses a VPC configuration whose role cannot create the network interfaces yet.
      this.node.defaultChild?.node.addDependency(network.networkInterfacePolicy);
    } else {
      Validations.of(this).acknowledge({
        id: 'cdk-validator-cfnguard::lambda_inside_vpc_check',
        reason: network
          ? `It must reach the internet (${props.definition.description}) and the configured subnets have no route to it (network.internetAccess: false), so it runs outside the VPC and reaches no private resource.`
          : 'The configuration has no network section: every runbook Lambda runs outside a VPC and reaches AWS public endpoints and public EKS endpoints only. Set network to place them in a VPC and meet CT.LAMBDA.PR.3.',
      });
    }

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is deliberate: the handlers, their tests and the bundled AWS SDK run on Node 22 (the pinned `node` dev dependency); the runtime moves together with that toolchain.',
    });
  }
}
