// `npm run bench`: the size and cold import time of each Lambda as `cdk synth` wrote it, the alternatives we did
// not take, and alarm event → PATCH time (warm). A script, not a test: these machines are noisy, so read the
// ratios within one run. `--no-synth` reuses the cloud assembly in cdk.out instead of synthesizing first.
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCanary, runCost, type RunCost } from './canary';
import { parseArgs } from 'node:util';
import { esbuildOptions } from '../../lib/lambda-bundling';
import { loadFunctionEntries } from '../conventions/project';
import { benchCertificateProbes, deployedProbeFunction } from './certificates';
import { benchRightsizing } from './rightsizing';

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

/** Seconds one `npx cdk synth --quiet` takes (policy validators included), with extra arguments. */
function timedSynth(extra: string[] = []): number {
  const started = performance.now();
  try {
    execFileSync('npx', ['cdk', 'synth', '--quiet', ...extra], {
      cwd: root,
      stdio: 'pipe',
      encoding: 'utf8',
    });
  } catch (error) {
    process.stderr.write(String((error as { stderr?: string }).stderr ?? error));
    process.exit(1);
  }
  return (performance.now() - started) / 1000;
}

/** Synth time of the whole app: the default example, and the production platform with its runbooks. */
const synthSeconds: [string, number][] = [];
if (values.synth) {
  // Only its tables go to stdout; a person at a terminal is told why the first 20 s are quiet.
  if (process.stderr.isTTY) process.stderr.write('Synthesizing the example configuration (cdk synth)…\n');
  synthSeconds.push(['lib/config/example.yaml (runbooks stack)', timedSynth()]);
  // Its own output directory: the tables below read the default example's assembly in cdk.out.
  synthSeconds.push([
    'lib/config/platform-production.yaml (platform and runbooks stacks)',
    timedSynth(['-c', 'config=lib/config/platform-production.yaml', '-o', `${out}cdk.out-platform`]),
  ]);
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
  return median(Array.from({ length: 5 }, () => coldImportOnce(file, environment)));
}

/** One cold import, in ms. */
function coldImportOnce(file: string, environment: Record<string, string> = {}): number {
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTESTTESTTESTTEST',
    AWS_SECRET_ACCESS_KEY: 'test',
    ...environment,
    // Nothing logs during import; with --enable-source-maps, Node reads the bundle's map as it loads it.
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  return Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' }).trim(),
  );
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

/**
 * The deployed bundle beside its map with `sourcesContent` filled in, as esbuild writes it by default: the
 * same code and mappings, so the difference is the map alone. Its `sources` are relative to the asset.
 */
function withSourcesInlined(fn: DeployedFunction): { file: string; mapBytes: number } {
  const dir = `${out}sources-inlined/${fn.service}/`;
  mkdirSync(dir, { recursive: true });
  const map = JSON.parse(readFileSync(`${fn.file}.map`, 'utf8')) as { sources: string[] };
  const assetDir = dirname(fn.file);
  const withSources = {
    ...map,
    sourcesContent: map.sources.map((source) => readFileSync(resolve(assetDir, source), 'utf8')),
  };
  copyFileSync(fn.file, `${dir}index.mjs`);
  writeFileSync(`${dir}index.mjs.map`, JSON.stringify(withSources));
  return { file: `${dir}index.mjs`, mapBytes: statSync(`${dir}index.mjs.map`).size };
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

if (synthSeconds.length > 0) {
  console.log(
    '\nSynth time for the whole app (npx cdk synth --quiet, cdk-nag and Control Tower rules included; target < 30 s)',
  );
  console.log('| configuration | s |\n|---|---:|');
  for (const [configuration, seconds] of synthSeconds)
    console.log(`| ${configuration} | ${seconds.toFixed(1)} |`);
}

console.log(
  '\nLambda bundles as cdk synth wrote them (cdk.out/asset.*/index.mjs); cold import = median of 5 fresh Node processes',
);
console.log(
  '| function | KB deployed (SDK bundled) | KB before (CommonJS SDK) | cold import ms | KB with the runtime SDK | cold import ms |',
);
console.log('|---|---:|---:|---:|---:|---:|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);

// The cost of the deployed NODE_OPTIONS=--enable-source-maps and of the map it reads: the same deployed bundles
// imported without the flag, and with the map esbuild writes by default (the sources inlined), which we do
// not ship (lambdaBundling.sourcesContent).
// The variants differ by tens of ms: they are sampled in turn, so a burst of load hits each alike.
const SOURCE_MAP_ROUNDS = 15;
console.log(
  `\nCold import of the deployed bundles (median of ${SOURCE_MAP_ROUNDS}, interleaved): as deployed (--enable-source-maps, map of mappings only), without the flag, and with a map that inlines the sources (not taken)`,
);
console.log(
  '| function | KB map deployed | ms as deployed | ms without the flag | KB map with sources | ms with it |\n|---|---:|---:|---:|---:|---:|',
);
for (const fn of deployed) {
  const withoutFlag = Object.fromEntries(
    Object.entries(fn.environment).filter(([key]) => key !== 'NODE_OPTIONS'),
  );
  const inlined = withSourcesInlined(fn);
  const variants: [string, Record<string, string>][] = [
    [fn.file, fn.environment],
    [fn.file, withoutFlag],
    [inlined.file, fn.environment],
  ];
  const samples = variants.map((): number[] => []);
  for (let round = 0; round < SOURCE_MAP_ROUNDS; round += 1) {
    variants.forEach(([file, environment], index) => samples[index]?.push(coldImportOnce(file, environment)));
  }
  const [deployedMs, withoutFlagMs, inlinedMs] = samples.map((runs) => median(runs).toFixed(0));
  console.log(
    `| ${fn.service} | ${kb(statSync(`${fn.file}.map`).size)} | ${deployedMs} | ${withoutFlagMs} | ${kb(inlined.mapBytes)} | ${inlinedMs} |`,
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
const runbookSeconds: number[] = [];
let rollbackCost: RunCost | undefined;
try {
  for (let run = 0; run < 21; run += 1) {
    const realStart = performance.now();
    const clockStart = Date.now();
    const [result] = await rehearsal.runScenario('healthy');
    const realMs = performance.now() - realStart;
    const clockSeconds = (Date.now() - clockStart) / 1000;
    const patch = rehearsal
      .cluster()
      .requests.find((request) => request.method === 'PATCH' && request.status === 200);
    if (!result || !patch) throw new Error('the healthy scenario did not PATCH');
    if (run === 0) continue; // cold: modules, TLS session, DescribeCluster cache
    rollbackCost ??= runCost(
      'rollback',
      'healthy',
      result,
      rehearsal.account.metrics.calls,
      rehearsal.account.events.at(-1)?.detailType ?? result.status,
      clockSeconds / 60,
    );
    const at = patch.at - result.startedAt;
    toPatch.push(at);
    invocationsBefore.push(result.lambdaInvocations.filter((call) => call.at < at).length);
    totals.push(realMs);
    runbookSeconds.push(clockSeconds);
  }
} finally {
  await rehearsal.close();
}
console.log(
  "\nRollback rehearsal, healthy scenario, 20 warm runs (Waits take no real time; the rehearsal's clock moves on by them)",
);
console.log('| measure | median | p95 | target |\n|---|---:|---:|---:|');
console.log(
  `| alarm event → PATCH at the API server (ms) | ${median(toPatch).toFixed(1)} | ${p95(toPatch).toFixed(1)} | < 150 |`,
);
console.log(
  `| Lambda invocations before the PATCH | ${median(invocationsBefore)} | ${Math.max(...invocationsBefore)} | ≤ 2 |`,
);
console.log(`| whole run, real time (ms) | ${median(totals).toFixed(1)} | ${p95(totals).toFixed(1)} | |`);
console.log(
  `| whole run, the runbook's own time: its Waits included (s) | ${median(runbookSeconds).toFixed(0)} | ${p95(runbookSeconds).toFixed(0)} | |`,
);
// The certificate check's probes, on the bundle cdk synth wrote, against 1,000 live TLS servers on loopback.
const probes = deployedProbeFunction(deployed);
console.log(await benchCertificateProbes(probes.file, probes.environment));

// The right-sizing report at the issue's scale: the collecting steps' domain code (the functions the handlers
// call), in one fresh process, against an in-process GetMetricData that enforces the API's two limits.
console.log(
  '\nRight-sizing at scale: 10,000 workloads, 500 nodes, 200 RDS instances, 14 days of 5-minute data (one process)',
);
console.log('| measure | value | target |\n|---|---:|---:|');
for (const row of await benchRightsizing()) console.log(`| ${row.measure} | ${row.value} | ${row.target} |`);

// One canary of four steps against one rollback: transitions, invocations, metric reads and dollars per run.
console.log(await benchCanary(rollbackCost));

writeFileSync(`${out}results.json`, JSON.stringify({ rows, toPatch, invocationsBefore }, null, 2));
