import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptions } from '../../lib/lambda-bundling';
import { rollbackFunctions } from '../../lambdas/rollback/functions';
import type { AwsServicePeer, FunctionPeer, RunbookFunctionEntry } from '../../lambdas/shared/function-table';
import { heartbeatFunctions } from '../kit/heartbeat/functions';
import { fromRoot, loadFunctionEntries, repoRoot } from './project';

/**
 * The AWS SDK client package each AWS peer is called through. `satisfies Record` makes a new AwsServicePeer
 * fail to compile here until it is mapped.
 */
const awsClientPeers = {
  eks: 'client-eks',
  monitoring: 'client-cloudwatch',
  dynamodb: 'client-dynamodb',
  secretsmanager: 'client-secrets-manager',
  states: 'client-sfn',
  s3: 'client-s3',
  acm: 'client-acm',
  elasticloadbalancing: 'client-elastic-load-balancing-v2',
  iam: 'client-iam',
  rds: 'client-rds',
  ec2: 'client-ec2',
  autoscaling: 'client-auto-scaling',
  'compute-optimizer': 'client-compute-optimizer',
  pricing: 'client-pricing',
} as const satisfies Record<AwsServicePeer, string>;

/** The modules through which the code reaches each non-AWS peer. */
const modulePeers = {
  // The thin HTTPS client every Kubernetes API call goes through.
  kubernetes: ['lambdas/kubernetes/client.ts'],
  // The only module that connects to a restored database (node-postgres over TLS).
  database: ['lambdas/restore-test/validate.ts'],
  internet: [
    // The modules that POST to Slack: the incoming webhook, and the Web API in Slack-app mode.
    'lambdas/notify/slack-webhook.ts',
    'lambdas/notify/slack-app.ts',
    // A canary's smoke-test webhook.
    'lambdas/canary/smoke-test.ts',
    // The answer to a click on a canary's Approve / Reject button, posted to its response_url.
    'lambdas/canary/slack-response.ts',
    // Live TLS probes of the configured endpoints.
    'lambdas/certificates/probe.ts',
    // ACM and load balancers in other regions (us-east-1 for CloudFront), and IAM, a global service.
    'lambdas/certificates/inventory.ts',
    // The Price List API: endpoints in us-east-1, eu-central-1 and ap-south-1 only.
    'lambdas/aws/pricing.ts',
  ],
} as const satisfies Record<Exclude<FunctionPeer, AwsServicePeer>, readonly string[]>;

const peerOfClient = new Map<string, FunctionPeer>(
  Object.entries(awsClientPeers).map(([peer, client]) => [client, peer as AwsServicePeer]),
);
const peerOfModule = new Map<string, FunctionPeer>(
  Object.entries(modulePeers).flatMap(([peer, modules]) =>
    modules.map((module): [string, FunctionPeer] => [module, peer as FunctionPeer]),
  ),
);
const awsClient = /(?:^|\/)node_modules\/@aws-sdk\/(client-[^/]+)\//;

/**
 * What a handler's deployed bundle reaches, sorted: built as RunbookFunction builds it (esbuildOptions), and
 * read from the metafile's inputs that put code into the output, so a module tree-shaken away reaches nothing.
 * @throws on an AWS SDK client this test does not map
 */
async function bundledPeers(handler: string): Promise<FunctionPeer[]> {
  const { metafile } = await build({
    ...esbuildOptions(),
    entryPoints: [handler],
    absWorkingDir: repoRoot,
    write: false,
    metafile: true,
  });
  const inputs = Object.values(metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path]) => path),
  );
  const peers = new Set<FunctionPeer>();
  for (const input of inputs) {
    const client = awsClient.exec(input)?.[1];
    if (client !== undefined) {
      const peer = peerOfClient.get(client);
      if (peer === undefined)
        throw new Error(
          `${handler} bundles @aws-sdk/${client}: add its VPC endpoint name to AwsServicePeer ` +
            '(lambdas/shared/function-table.ts) and the client to awsClientPeers in test/conventions/function-peers.test.ts',
        );
      peers.add(peer);
    }
    const peer = peerOfModule.get(input);
    if (peer !== undefined) peers.add(peer);
  }
  return [...peers].sort();
}

// loadFunctionEntries reads lambdas/*/functions.ts only; the heartbeat's table lives in test/kit.
const entries: RunbookFunctionEntry[] = [
  ...(await loadFunctionEntries()),
  ...Object.values(heartbeatFunctions),
];

/** Every handler file on disk, relative to the repository root: an entry missing here would go unchecked. */
const handlerFiles = ['lambdas', 'test/kit'].flatMap((dir) =>
  readdirSync(join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .map((file) => fromRoot(join(repoRoot, dir, file)))
    .filter((file) => file.includes('/handlers/') && file.endsWith('.ts')),
);

const list = (peers: readonly string[]): string => `[${peers.join(', ')}]`;

describe("each function's reaches", () => {
  let bundled: Map<string, Promise<FunctionPeer[]>>;
  beforeAll(() => {
    // One build per handler, all at once: esbuild runs them in parallel in its own process.
    bundled = new Map(entries.map((entry) => [entry.handler, bundledPeers(entry.handler)]));
    // Each test awaits its own build; a failed one must not also surface as an unhandled rejection.
    for (const pending of bundled.values()) pending.catch(() => undefined);
  });

  it('covers every handler file under lambdas/ and test/kit/', () => {
    expect(entries.map((entry) => entry.handler).sort()).toEqual(handlerFiles.sort());
  });

  it('lists no peer twice', () => {
    const repeated = entries
      .filter((entry) => new Set(entry.reaches).size !== entry.reaches.length)
      .map((entry) => `${entry.handler}: ${list(entry.reaches)}`);
    expect(repeated).toEqual([]);
  });

  it.each(entries.map((entry) => [entry.handler, entry] as const))(
    '%s: matches the clients its bundle contains',
    async (handler, entry) => {
      const contained = await bundled.get(handler);
      const declared = [...new Set(entry.reaches)].sort();
      expect(
        declared,
        `${handler} declares reaches ${list(declared)}, its bundle contains ${list(contained ?? [])}`,
      ).toEqual(contained);
    },
  );

  it('derives peers from a real bundle (the mapping matches actual package paths)', async () => {
    // Pins the derivation itself, apart from the tables: a derivation that finds nothing cannot pass by
    // emptying every reaches.
    const contained = await bundled.get(rollbackFunctions.alarmStatus.handler);
    expect(contained).toContain('monitoring');
    expect(contained).not.toContain('kubernetes');
  });
});
