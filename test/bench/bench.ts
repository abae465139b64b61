// `npm run bench`: bundle size and cold import time of each Lambda, and alarm event → PATCH time (warm).
// A script, not a test: these machines are noisy, so read the ratios within one run.
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RollbackRehearsal } from '../harness/rollback-rehearsal';
import { findScenario, runScenario } from '../harness/rollback-scenarios';
import { lambdaBundling } from '../../lib/lambda-bundling';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}.bench/`;
mkdirSync(out, { recursive: true });

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const p95 = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.95) - 1)] ??
  Number.NaN;

/** The esbuild options RunbookFunction gives NodejsFunction, so the sizes are the deployed ones. */
const options: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: lambdaBundling.target,
  minify: lambdaBundling.minify,
  banner: { js: lambdaBundling.banner },
  external: [...lambdaBundling.externalModules],
  mainFields: ['module', 'main'],
  logLevel: 'silent',
};

async function bundle(
  name: string,
  entry: string | { contents: string },
  extra: BuildOptions = {},
): Promise<{ file: string; bytes: number }> {
  const file = `${out}${name}.mjs`;
  await build({
    ...options,
    ...extra,
    ...(typeof entry === 'string'
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.contents, resolveDir: root, loader: 'ts' } }),
    outfile: file,
  });
  return { file, bytes: statSync(file).size };
}

/** Cold import: a fresh Node process imports the bundle, as a Lambda init does; median of five. */
function coldImportMs(file: string): number {
  const env = {
    ...process.env,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTESTTESTTESTTEST',
    AWS_SECRET_ACCESS_KEY: 'test',
    LOCK_TABLE_NAME: 'locks',
    ENVIRONMENT_NAME: 'bench',
    ROLLBACK_TARGETS: '[]',
    TAG_DISCOVERY_PREFIXES: '[]',
    EKS_CLUSTERS: '[]',
    COOLDOWN_SECONDS: '1800',
    LOCK_TTL_SECONDS: '2100',
    WEBHOOK_SECRET_ID: 'bench',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const samples = Array.from({ length: 5 }, () =>
    Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' }).trim(),
    ),
  );
  return median(samples);
}

const rows: string[][] = [];
const kb = (bytes: number) => (bytes / 1024).toFixed(0);
const entries = readdirSync(`${root}lambdas`).filter((file) => file.endsWith('.ts'));
for (const entry of entries) {
  const name = entry.replace(/\.ts$/, '');
  const deployed = await bundle(name, `${root}lambdas/${entry}`);
  // The alternative we did not take: leave the AWS SDK to the runtime's copy (CDK's default for Node 18+).
  const sdkExternal = await bundle(`${name}.sdk-external`, `${root}lambdas/${entry}`, {
    external: ['@aws-sdk/*'],
  });
  rows.push([
    name,
    kb(deployed.bytes),
    coldImportMs(deployed.file).toFixed(0),
    kb(sdkExternal.bytes),
    coldImportMs(sdkExternal.file).toFixed(0),
  ]);
}
// The Kubernetes client we did not take, against the one we wrote, bundled the same way.
const official = await bundle('kubernetes-client-node', {
  contents:
    "import { AppsV1Api, KubeConfig } from '@kubernetes/client-node'; export const api = [AppsV1Api, KubeConfig];",
});
rows.push([
  '(@kubernetes/client-node alone)',
  kb(official.bytes),
  coldImportMs(official.file).toFixed(0),
  '',
  '',
]);
const thin = await bundle('kubernetes-thin-client', {
  contents:
    "import { createClusterAccess } from './lambdas/kubernetes/cluster-access'; export const access = createClusterAccess;",
});
rows.push(['(thin client + EKS token alone)', kb(thin.bytes), coldImportMs(thin.file).toFixed(0), '', '']);

console.log(
  '\nLambda bundles (minified ESM); cold import = median of 5 fresh Node processes importing the bundle',
);
console.log('| function | KB, SDK bundled (deployed) | cold import ms | KB, runtime SDK | cold import ms |');
console.log('|---|---:|---:|---:|---:|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);

// Alarm event → PATCH, warm: the rehearsal's handlers stay loaded between runs, as a warm Lambda does.
const rehearsal = await RollbackRehearsal.start();
const scenario = findScenario('healthy');
const toPatch: number[] = [];
const invocationsBefore: number[] = [];
const totals: number[] = [];
try {
  for (let run = 0; run < 21; run += 1) {
    const [result] = await runScenario(rehearsal, scenario);
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
