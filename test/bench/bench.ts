// `npm run bench`: the size and cold import time of each Lambda as `cdk synth` wrote it, the alternatives we did
// not take, and alarm event → PATCH time (warm). A script, not a test: these machines are noisy, so read the
// ratios within one run. `--no-synth` reuses the cloud assembly in cdk.out instead of synthesizing first.
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { esbuildOptions } from '../../lib/lambda-bundling';
import { loadFunctionEntries } from '../conventions/project';

const root = fileURLToPath(new URL('../../', import.meta.url));
const assembly = `${root}cdk.out/`;
const out = `${root}.bench/`;
mkdirSync(out, { recursive: true });
const { values } = parseArgs({ options: { synth: { type: 'boolean', default: true } }, allowNegative: true });

// The handlers' log lines would bury the tables.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const median = (samples: number[]) =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? Number.NaN;
const p95 = (samples: number[]) =>
  [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.ceil(samples.length * 0.95) - 1)] ??
  Number.NaN;
const kb = (bytes: number) => (bytes / 1024).toFixed(0);

if (values.synth) {
  // Only its tables go to stdout; a person at a terminal is told why the first 20 s are quiet.
  if (process.stderr.isTTY) process.stderr.write('Synthesizing the example configuration (cdk synth)…\n');
  try {
    execFileSync('npx', ['cdk', 'synth', '--quiet'], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    process.stderr.write(String((error as { stderr?: string }).stderr ?? error));
    process.exit(1);
  }
}

interface DeployedFunction {
  service: string;
  file: string;
  /** The function's environment as deployed; CloudFormation references become placeholders. */
  environment: Record<string, string>;
}

/** The Lambda functions of the synthesized stack, each with the bundle CDK wrote for it. */
function deployedFunctions(): DeployedFunction[] {
  const manifest = JSON.parse(readFileSync(`${assembly}manifest.json`, 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const templates = Object.values(manifest.artifacts)
    .filter((artifact) => artifact.type === 'aws:cloudformation:stack')
    .map((artifact) => artifact.properties?.templateFile ?? '');
  return templates.flatMap((templateFile) => {
    const template = JSON.parse(readFileSync(`${assembly}${templateFile}`, 'utf8')) as {
      Resources: Record<
        string,
        {
          Type: string;
          Metadata?: Record<string, string>;
          Properties: { Environment?: { Variables?: Record<string, unknown> } };
        }
      >;
    };
    return Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .map((resource) => {
        const asset = resource.Metadata?.['aws:asset:path'];
        if (!asset) throw new Error(`a function of ${templateFile} has no aws:asset:path metadata`);
        const variables = resource.Properties.Environment?.Variables ?? {};
        const environment = Object.fromEntries(
          Object.entries(variables).map(([key, value]) => [
            key,
            typeof value === 'string' ? value : `placeholder-${key.toLowerCase()}`,
          ]),
        );
        return {
          service: environment.POWERTOOLS_SERVICE_NAME ?? asset,
          file: `${assembly}${asset}/index.mjs`,
          environment,
        };
      });
  });
}

/** Cold import: a fresh Node process imports the bundle, as a Lambda init does; median of five. */
function coldImportMs(file: string, environment: Record<string, string> = {}): number {
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTESTTESTTESTTEST',
    AWS_SECRET_ACCESS_KEY: 'test',
    ...environment,
    // Source maps are loaded lazily, on the first stack trace; nothing logs during import.
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const samples = Array.from({ length: 5 }, () =>
    Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' }).trim(),
    ),
  );
  return median(samples);
}

/** An alternative we did not take, bundled with the settings RunbookFunction gives esbuild. */
async function alternative(name: string, source: string, extra: BuildOptions = {}) {
  const file = `${out}${name}.mjs`;
  await build({
    ...esbuildOptions(),
    ...extra,
    stdin: { contents: source, resolveDir: root, loader: 'ts' },
    outfile: file,
  });
  return { file, bytes: statSync(file).size };
}

const deployed = deployedFunctions().sort((a, b) => a.service.localeCompare(b.service));
const sources = new Map(
  (await loadFunctionEntries()).map((entry) => [entry.serviceName, `${root}${entry.handler}`]),
);
const rows: string[][] = [];
for (const fn of deployed) {
  const bytes = statSync(fn.file).size;
  const source = sources.get(fn.service);
  if (!source) throw new Error(`no function table names the deployed function ${fn.service}`);
  // The alternative we did not take: leave the AWS SDK to the runtime's copy (CDK's default for Node 18+).
  const sdkExternal = await alternative(
    `${fn.service}.sdk-external`,
    `export * from ${JSON.stringify(source)};`,
    {
      external: ['@aws-sdk/*'],
    },
  );
  // What deployed before mainFields was set: esbuild resolved `main`, the SDK's CommonJS builds.
  const commonJs = await alternative(`${fn.service}.main-first`, `export * from ${JSON.stringify(source)};`, {
    mainFields: ['main', 'module'],
  });
  rows.push([
    fn.service,
    kb(bytes),
    kb(commonJs.bytes),
    coldImportMs(fn.file, fn.environment).toFixed(0),
    kb(sdkExternal.bytes),
    coldImportMs(sdkExternal.file, fn.environment).toFixed(0),
  ]);
}
// The Kubernetes client we did not take, against the one we wrote, bundled the same way.
const official = await alternative(
  'kubernetes-client-node',
  "import { AppsV1Api, KubeConfig } from '@kubernetes/client-node'; export const api = [AppsV1Api, KubeConfig];",
);
const thin = await alternative(
  'kubernetes-thin-client',
  "import { createClusterAccess } from './lambdas/kubernetes/cluster-access'; export const access = createClusterAccess;",
);

console.log(
  '\nLambda bundles as cdk synth wrote them (cdk.out/asset.*/index.mjs); cold import = median of 5 fresh Node processes',
);
console.log(
  '| function | KB deployed (SDK bundled) | KB before (CommonJS SDK) | cold import ms | KB with the runtime SDK | cold import ms |',
);
console.log('|---|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
// The cost of the deployed NODE_OPTIONS=--enable-source-maps: the same deployed bundles imported without it.
console.log('\nCold import of the deployed bundles with and without the deployed --enable-source-maps');
console.log('| function | ms with (deployed) | ms without |\n|---|---:|---:|');
for (const fn of deployed) {
  const withoutSourceMaps = Object.fromEntries(
    Object.entries(fn.environment).filter(([key]) => key !== 'NODE_OPTIONS'),
  );
  console.log(
    `| ${fn.service} | ${coldImportMs(fn.file, fn.environment).toFixed(0)} | ${coldImportMs(fn.file, withoutSourceMaps).toFixed(0)} |`,
  );
}
console.log('\nKubernetes clients alone, bundled with the same esbuild settings');
console.log('| client | KB | cold import ms |\n|---|---:|---:|');
console.log(
  `| @kubernetes/client-node | ${kb(official.bytes)} | ${coldImportMs(official.file).toFixed(0)} |`,
);
console.log(`| thin client + EKS token (ours) | ${kb(thin.bytes)} | ${coldImportMs(thin.file).toFixed(0)} |`);

// Alarm event → PATCH, warm: the rehearsal's handlers stay loaded between runs, as a warm Lambda does.
const { Rehearsal } = await import('../harness/rehearsal');
const { rehearsedRunbook } = await import('../harness/rollback/rehearsal');
const rehearsal = await Rehearsal.start(rehearsedRunbook);
const toPatch: number[] = [];
const invocationsBefore: number[] = [];
const totals: number[] = [];
try {
  for (let run = 0; run < 21; run += 1) {
    const [result] = await rehearsal.runScenario('healthy');
    const patch = rehearsal
      .cluster()
      .requests.find((request) => request.method === 'PATCH' && request.status === 200);
    if (!result || !patch) throw new Error('the healthy scenario did not PATCH');
    if (run === 0) continue; // cold: modules, TLS session, DescribeCluster cache
    const at = patch.at - result.startedAt;
    toPatch.push(at);
    invocationsBefore.push(result.lambdaInvocations.filter((call) => call.at < at).length);
    totals.push(Math.max(...result.timeline.map((entry) => entry.at)));
  }
} finally {
  await rehearsal.close();
}
console.log('\nRollback rehearsal, healthy scenario, 20 warm runs (Wait states at zero)');
console.log('| measure | median | p95 | target |\n|---|---:|---:|---:|');
console.log(
  `| alarm event → PATCH at the API server (ms) | ${median(toPatch).toFixed(1)} | ${p95(toPatch).toFixed(1)} | < 150 |`,
);
console.log(
  `| Lambda invocations before the PATCH | ${median(invocationsBefore)} | ${Math.max(...invocationsBefore)} | ≤ 2 |`,
);
console.log(
  `| whole run, event → last record (ms) | ${median(totals).toFixed(1)} | ${p95(totals).toFixed(1)} | |`,
);
writeFileSync(`${out}results.json`, JSON.stringify({ rows, toPatch, invocationsBefore }, null, 2));
