import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { RunbookFunctionEntry } from '../lambdas/shared/function-table';
import { lambdaBundling } from './lambda-bundling';

/** The repository root: entries and the lock file are resolved from it, whatever the working directory. */
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** A runbook Lambda's timeout unless its construct passes another (`RunbookFunctionProps.timeout`). */
export const defaultFunctionTimeout = Duration.seconds(30);

export interface RunbookFunctionProps {
  /**
   * The function's entry in its runbook's function table: the handler file, `POWERTOOLS_SERVICE_NAME`
   * (names the function in every log line, metric and trace) and the description.
   */
  readonly definition: RunbookFunctionEntry;
  /**
   * The execution role. The function grants it write access to its own log group (and, through active
   * tracing, X-Ray), so the role needs no managed policy.
   */
  readonly role: IRole;
  /**
   * Variables added to (or overriding) the defaults `POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL` and
   * `NODE_OPTIONS`.
   * @default - the defaults only
   */
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * A runbook Lambda with the team's defaults in one place:
 * - runtime `nodejs22.x` (the Node version the handlers are tested on), `arm64`;
 * - X-Ray tracing `ACTIVE`;
 * - an explicit log group, retention one month by default, `RemovalPolicy.DESTROY`;
 * - timeout 30 s, memory 256 MB;
 * - `POWERTOOLS_SERVICE_NAME` from `serviceName`, `POWERTOOLS_LOG_LEVEL=INFO`,
 *   `NODE_OPTIONS=--enable-source-maps`;
 * - bundled with the local esbuild (never Docker) with the settings of `lambda-bundling.ts`: minified, ESM
 *   (`index.mjs`, with a `require` shim for CommonJS dependencies), source maps, the ESM builds of
 *   dependencies preferred (`module` before `main`), and the AWS SDK bundled at the version in
 *   package-lock.json rather than the runtime's copy.
 */
export class RunbookFunction extends NodejsFunction {
  /** The function table entry it was built from; `RunbookStateMachine` substitutes its ARN by it. */
  public readonly definition: RunbookFunctionEntry;

  constructor(scope: Construct, id: string, props: RunbookFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // Logs of a torn-down stack are noise; the runbooks' record of what they did is the event bus archive.
      removalPolicy: RemovalPolicy.DESTROY,
    });
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
      timeout: props.timeout ?? defaultFunctionTimeout,
      memorySize: props.memorySize ?? 256,
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.definition.serviceName,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      bundling: {
        // The shared esbuild settings (target node22, minify, source maps, the `require` banner, the AWS SDK
        // bundled rather than the runtime's copy), so `npm run bench` measures what deploys.
        target: lambdaBundling.target,
        minify: lambdaBundling.minify,
        sourceMap: lambdaBundling.sourceMap,
        banner: lambdaBundling.banner,
        externalModules: [...lambdaBundling.externalModules],
        mainFields: [...lambdaBundling.mainFields],
        format: OutputFormat.ESM,
        forceDockerBundling: false,
      },
    });
    this.definition = props.definition;
    logGroup.grantWrite(props.role);

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is deliberate: the handlers, their tests and the bundled AWS SDK run on Node 22 (the pinned `node` dev dependency); the runtime moves together with that toolchain.',
    });
  }
}
