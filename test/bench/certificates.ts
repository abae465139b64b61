// The certificate probes at a thousand live endpoints: the issue's "1,000 endpoints on loopback probed in
// under 20 s, and the ratio to probing them one at a time". The handler runs from a Lambda bundle in a fresh
// Node process per run, as a cold Lambda does (dummy credentials, its S3 the loopback emulator), and each
// run's report is checked line by line against the mix, so a run that probes nothing cannot pass.
//
// `npm run bench` calls benchCertificateProbes with the bundle `cdk synth` wrote (deployedProbeFunction).
// Alone, `npx tsx test/bench/certificates.ts` bundles the handler itself into .bench/, with the settings
// RunbookFunction uses, and says the figures are not the deployed bundle's.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ObservedCertificate } from '../../lambdas/certificates/certificate';
import { certificateFunctions } from '../../lambdas/certificates/functions';
import { collectedPartSchema, type PartSummary } from '../../lambdas/certificates/parts';
import type { RunbookFunctionEntry } from '../../lambdas/shared/function-table';
import { certificatesSectionSchema, probeSettings, type ProbeSettings } from '../../lib/config/certificates';
import { esbuildOptions, lambdaBundling } from '../../lib/lambda-bundling';
import { startS3Server, type S3Server } from '../harness/s3-server';
import {
  ENDPOINT_KINDS,
  startFleet,
  type EndpointKind,
  type Fleet,
  type FleetMix,
} from '../harness/tls/fleet';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE = certificateFunctions.probeEndpoints.serviceName;
const BUCKET = 'bench-reports';

/**
 * Mostly valid chains, then what a real estate of endpoints has: certificates close to expiry, a wrong
 * name, self-signed ones, servers sending no intermediate, and a few ports that accept TCP and never answer,
 * which hold a worker for the whole timeout.
 */
const MIX: FleetMix = {
  valid: 890,
  expiring: 40,
  'wrong-hostname': 25,
  'self-signed': 20,
  'missing-intermediate': 15,
  hanging: 10,
};

/** The configuration's defaults; `warningDays` is where an expiry counts as close. */
const defaults = certificatesSectionSchema.parse({});

/** What bench.ts knows of a synthesized function (its `deployedFunctions()`). */
interface DeployedFunction {
  service: string;
  file: string;
  environment: Record<string, string>;
}

/** The probe function among the synthesized ones; a clear failure while the stack does not deploy it. */
export function deployedProbeFunction(deployed: readonly DeployedFunction[]): DeployedFunction {
  const fn = deployed.find((candidate) => candidate.service === SERVICE);
  if (!fn) {
    throw new Error(
      `cdk.out has no function with POWERTOOLS_SERVICE_NAME=${SERVICE}: the stack does not deploy the certificate ` +
        `check (yet). The probe figures are published only for the bundle cdk synth wrote; ` +
        `\`npx tsx test/bench/certificates.ts\` measures a local bundle meanwhile.`,
    );
  }
  return fn;
}

interface RunResult {
  summary: PartSummary;
  /** The handler's own duration, as Lambda bills it: import (init) excluded. */
  wallMs: number;
  initMs: number;
  /** User + system CPU of the child during the invocation. */
  cpuMs: number;
  /** Peak resident set of the child, import included: what Lambda's memory size must hold. */
  maxRssKb: number;
}

type ChildMessage = { ready: true } | ({ done: true } & RunResult) | { failed: string };

/**
 * One cold invocation: a fresh Node imports the bundle, then gets the event over IPC (init, then invoke, as
 * the Lambda runtime does), and reports its timings. The environment is the function's as deployed with the
 * AWS parts pointed at loopback.
 */
function invoke(
  bundleFile: string,
  environment: Record<string, string>,
  s3: S3Server,
  event: object,
): Promise<RunResult> {
  const env = {
    PATH: process.env.PATH,
    ...environment,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTESTTESTTESTTEST',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_SESSION_TOKEN: 'test',
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    REPORT_BUCKET: BUCKET,
  };
  const script = `
    const started = performance.now();
    const { handler } = await import(${JSON.stringify(pathToFileURL(bundleFile).href)});
    const initMs = performance.now() - started;
    process.once('message', async (event) => {
      const cpu = process.cpuUsage();
      const start = performance.now();
      try {
        const summary = await handler(event);
        const wallMs = performance.now() - start;
        const used = process.cpuUsage(cpu);
        const maxRssKb = process.resourceUsage().maxRSS;
        // The SDK's keep-alive sockets would hold the process open; a Lambda is frozen instead.
        process.send({ done: true, summary, wallMs, initMs, cpuMs: (used.user + used.system) / 1000, maxRssKb }, () => process.exit(0));
      } catch (error) {
        process.send({ failed: String(error?.stack ?? error) }, () => process.exit(1));
      }
    });
    process.send({ ready: true });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env,
    // The handler's log line goes nowhere; stderr is kept for a failure's message.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    // A bound far above any healthy run: a probe that never finishes must not hang the bench.
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the probe handler did not finish within 10 minutes'));
    }, 600_000);
    child.on('message', (message: ChildMessage) => {
      if ('ready' in message) child.send(event);
      else if ('done' in message) resolve(message);
      else reject(new Error(`the probe handler failed: ${message.failed}`));
    });
    child.on('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`the probe process exited (${code}) without a result: ${stderr.trim()}`));
    });
  });
}

const KIND_OF_PROBLEM: Record<string, EndpointKind> = {
  'hostname-mismatch': 'wrong-hostname',
  'self-signed': 'self-signed',
  'missing-intermediate': 'missing-intermediate',
};

/** What a report line says the endpoint is, in the fleet's kinds; anything else is described as it came. */
function kindOf(line: ObservedCertificate): string {
  const codes = line.problems.map((problem) => problem.code).join(',');
  const [first] = line.problems;
  if (codes === 'unreachable')
    return first?.text.startsWith('Unreachable (timeout)') ? 'hanging' : `${first?.text}`;
  const kind = KIND_OF_PROBLEM[codes];
  if (kind) return kind;
  if (codes !== '' || !line.notAfter) return `problems [${codes}], notAfter ${line.notAfter}`;
  const days = (Date.parse(line.notAfter) - Date.now()) / 86_400_000;
  return days < defaults.warningDays ? 'expiring' : 'valid';
}

/**
 * Reads the run's report back from the S3 emulator: one line per endpoint probed, each saying what the
 * fleet made that endpoint. Returns the count of each kind found.
 */
function verify(s3: S3Server, result: RunResult, endpoints: Fleet['endpoints']): Map<string, number> {
  const object = s3.objects(BUCKET).get(result.summary.key);
  if (!object) throw new Error(`the probe wrote no report at ${result.summary.key}`);
  const { certificates } = collectedPartSchema.parse(JSON.parse(object.body.toString('utf8')));
  const expected = new Map(
    endpoints.map((endpoint) => [
      `${endpoint.host}:${endpoint.port} (${endpoint.servername})`,
      endpoint.kind,
    ]),
  );
  const found = new Map<string, number>();
  const wrong: string[] = [];
  for (const line of certificates) {
    const kind = kindOf(line);
    found.set(kind, (found.get(kind) ?? 0) + 1);
    if (expected.get(line.id) !== kind) wrong.push(`${line.id}: ${kind}, expected ${expected.get(line.id)}`);
  }
  const lines = new Set(certificates.map((line) => line.id)).size;
  if (wrong.length > 0 || lines !== endpoints.length || result.summary.certificates !== endpoints.length) {
    throw new Error(
      `the probe report does not match the endpoints: ${lines} distinct lines for ${endpoints.length} ` +
        `endpoints, ${wrong.length} wrong, e.g. ${wrong.slice(0, 5).join('; ')}`,
    );
  }
  return found;
}

/**
 * Probes a fleet of 1,000 loopback TLS endpoints with the handler of `bundleFile`, at the deployed
 * concurrency and one at a time, and returns the Markdown table. `environment` is the function's as
 * deployed (NODE_OPTIONS, POWERTOOLS_*); its AWS variables are replaced by loopback ones.
 */
export async function benchCertificateProbes(
  bundleFile: string,
  environment: Record<string, string> = {},
): Promise<string> {
  if (!existsSync(bundleFile)) throw new Error(`no probe bundle at ${bundleFile}`);
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    throw new Error(
      `the probes run on ${process.execPath} (Node ${process.version}); Lambda's runtime is Node 22: run the bench with ` +
        `npm run bench, which finds the project's Node (node_modules/.bin/node) first`,
    );
  }
  const fleet = await startFleet(MIX);
  const s3 = await startS3Server({ buckets: [BUCKET] });
  try {
    const section = certificatesSectionSchema.parse({
      endpoints: fleet.endpoints.map(({ host, port, servername }) => ({ host, port, servername })),
      trustedCas: [{ name: 'Bench Root', pem: fleet.trustedCa }],
    });
    // The settings as the construct derives them for the state machine: 10 s timeout, 50 at once.
    const deployed = probeSettings(section);
    const responsive = fleet.endpoints.filter((endpoint) => endpoint.kind !== 'hanging');
    const responsivePorts = new Set(responsive.map((endpoint) => endpoint.port));

    const run = async (name: string, settings: ProbeSettings, endpoints: Fleet['endpoints']) => {
      const event = {
        execution: {
          id: `arn:aws:states:eu-west-1:111122223333:execution:certificate-check:${name}`,
          name,
          startTime: new Date().toISOString(),
        },
        settingsJson: JSON.stringify(settings),
      };
      // The bench's own process serves the handshakes and S3: its CPU shows what the harness took of the machine.
      const benchCpu = process.cpuUsage();
      const result = await invoke(bundleFile, environment, s3, event);
      const serving = process.cpuUsage(benchCpu);
      const servingCpuMs = (serving.user + serving.system) / 1000;
      return { ...result, servingCpuMs, counts: verify(s3, result, endpoints), settings };
    };
    const load = loadavg()[0];
    const all = await run('bench-all', deployed, fleet.endpoints);
    const onlyResponsive = {
      ...deployed,
      endpoints: deployed.endpoints.filter((endpoint) => responsivePorts.has(endpoint.port)),
    };
    const concurrent = await run('bench-responsive', onlyResponsive, responsive);
    const serial = await run('bench-serial', { ...onlyResponsive, concurrency: 1 }, responsive);
    const puts = s3.requests.filter((request) => request.operation === 'PutObject' && request.status === 200);
    if (puts.length !== 3) throw new Error(`expected one report written per run, S3 received ${puts.length}`);

    const hanging = MIX.hanging;
    const timeoutS = deployed.timeoutMs / 1000;
    // Serial over all 1,000 is the responsive serial run plus each hanging endpoint's full timeout.
    const serialAllMs = serial.wallMs + hanging * deployed.timeoutMs;
    const s = (ms: number) => (ms / 1000).toFixed(1);
    const row = (label: string, result: typeof all, ratio: string, target: string) =>
      `| ${label} | ${result.settings.endpoints.length} | ${result.settings.concurrency} | ${s(result.wallMs)} | ` +
      `${(result.wallMs / result.settings.endpoints.length).toFixed(2)} | ${ratio} | ${s(result.cpuMs)} | ` +
      `${s(result.servingCpuMs)} | ${(result.maxRssKb / 1024).toFixed(0)} | ${result.initMs.toFixed(0)} | ${target} |`;
    // Lambda allots CPU by memory, one vCPU at 1,769 MB: the handler's CPU time stretches by the inverse.
    // The function table's entry is what the construct deploys (RunbookFunction: 256 MB, 30 s unless it says).
    const entry: RunbookFunctionEntry = certificateFunctions.probeEndpoints;
    const memoryMb = entry.memoryMb ?? 256;
    const functionTimeoutS = entry.timeoutSeconds ?? 30;
    const vcpu = Math.min(1, memoryMb / 1_769);
    return [
      `\nCertificate probes: handler of ${shown(bundleFile)} in a fresh Node ${process.version} process per run ` +
        `(${process.execPath}); per-endpoint timeout ${timeoutS} s (the deployed default), deployed concurrency ` +
        `${deployed.concurrency}; servers and S3 on 127.0.0.1 in the bench's own process; ${cpus().length} CPUs, ` +
        `load average ${load?.toFixed(1)} at the start`,
      `Mix: ${ENDPOINT_KINDS.map((kind) => `${MIX[kind]} ${kind}`).join(', ')} ` +
        `(every report line checked against it: ${ENDPOINT_KINDS.map((kind) => `${kind} ${all.counts.get(kind) ?? 0}`).join(', ')})`,
      `Setup, not timed below: ${fleet.endpoints.length} servers started in ${s(fleet.serversMs)} s, ` +
        `their certificates (5 RSA 2048, shared within a kind) generated in ${s(fleet.certificatesMs)} s`,
      '| run | endpoints | concurrency | wall s | per-endpoint ms | ratio serial/concurrent | child CPU s | servers CPU s | peak RSS MB (child) | init ms | target |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
      row(
        `all, ${hanging} hanging`,
        all,
        `≈ ${(serialAllMs / all.wallMs).toFixed(1)}× (est.)`,
        `< 20 s: ${all.wallMs < 20_000 ? 'met' : 'MISSED'}`,
      ),
      row('responsive only', concurrent, '', ''),
      row('responsive only, serial', serial, `${(serial.wallMs / concurrent.wallMs).toFixed(1)}×`, ''),
      `The hanging endpoints bound the first run at ~${timeoutS} s × ⌈${hanging} / ${deployed.concurrency}⌉ after ` +
        `the last of them starts. Serial, they alone would take ${hanging} × ${timeoutS} s, so the serial run ` +
        `probes the responsive endpoints and the estimate for all is it plus ${hanging * timeoutS} s ` +
        `(${s(serialAllMs)} s). Loopback has no round trip: the measured ratio is CPU overlap alone; real ` +
        `endpoints, tens of ms away, gain more from concurrency.`,
      `Wall times are this machine's, where the probe process is not held to a CPU share. At the deployed ${memoryMb} MB Lambda ` +
        `gives ≈ ${vcpu.toFixed(2)} vCPU: the first run's ${s(all.cpuMs)} s of CPU alone would take ≈ ` +
        `${s(all.cpuMs / vcpu)} s there (an estimate, not measured), against the function's ${functionTimeoutS} s timeout.`,
    ].join('\n');
  } finally {
    await s3.close();
    await fleet.close();
  }
}

/** A file by its path in the repository, or in full when it lies elsewhere. */
const shown = (file: string): string => (file.startsWith(root) ? relative(root, file) : file);

/** Alone: a bundle of the handler built here, with RunbookFunction's esbuild settings and environment. */
async function benchLocalBundle(): Promise<void> {
  const file = `${root}.bench/${SERVICE}.local/index.mjs`;
  await build({
    ...esbuildOptions(),
    sourcemap: lambdaBundling.sourceMap,
    sourcesContent: lambdaBundling.sourcesContent,
    entryPoints: [`${root}${certificateFunctions.probeEndpoints.handler}`],
    outfile: file,
  });
  console.log(
    `NOT THE DEPLOYED BUNDLE: ${shown(file)} was built by this script; npm run bench measures cdk.out's.`,
  );
  console.log(
    await benchCertificateProbes(file, {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: SERVICE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    }),
  );
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url))
  await benchLocalBundle();
