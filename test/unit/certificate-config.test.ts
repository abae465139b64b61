import { beforeAll, describe, expect, it } from 'vitest';
import {
  certificateCheckRuntime,
  endpointId,
  MAX_ENDPOINTS,
  type CertificatesSection,
  type ProbeSettings,
} from '../../lib/config/certificates';
import { configSchema, type RunbooksConfig } from '../../lib/config/schema';
import { regionsSetting } from '../../lambdas/certificates/trigger';
import { createCa } from '../harness/tls/certificates';

const clusters = [
  { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
  { name: 'tools-eks', namespaces: ['ingress'] },
];

/** A configuration with the certificate check alone, its section as given. */
const raw = (certificates: Record<string, unknown> = {}): Record<string, unknown> => ({
  environment: 'prod',
  slack: { webhookSecretName: 'platform-runbooks/slack-webhook' },
  eksClusters: clusters,
  certificates,
});

interface Issue {
  /** The field path as dotted text, e.g. `certificates.endpoints.2`. */
  path: string;
  message: string;
}

/** The issues the whole configuration schema finds, or fails the test when it accepts the configuration. */
function issuesOf(config: unknown): Issue[] {
  const result = configSchema.safeParse(config);
  if (result.success) throw new Error('the configuration was accepted');
  return result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

/** The messages of the issues on `path`. */
const messagesAt = (config: unknown, path: string): string[] =>
  issuesOf(config)
    .filter((issue) => issue.path === path)
    .map((issue) => issue.message);

/** The parsed configuration, or fails the test with the issues. */
function accepted(config: unknown): RunbooksConfig {
  const result = configSchema.safeParse(config);
  if (!result.success) throw new Error(`refused: ${JSON.stringify(result.error.issues)}`);
  return result.data;
}

function section(config: unknown): CertificatesSection {
  const { certificates } = accepted(config);
  if (!certificates) throw new Error('the configuration has no certificates section');
  return certificates;
}

/** `count` distinct endpoints. */
const manyEndpoints = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ host: `host-${index}.example.com` }));

describe('the certificates section', () => {
  it('fills in every default for an empty section', () => {
    expect(section(raw())).toEqual({
      schedule: 'cron(0 6 * * ? *)',
      timeZone: 'UTC',
      regions: [],
      warningDays: 30,
      criticalDays: 7,
      acmEvents: true,
      endpoints: [],
      trustedCas: [],
      probeTimeoutSeconds: 10,
      probeConcurrency: 50,
      reportRetentionDays: 400,
    });
  });

  it('gives an endpoint port 443 and no alarm by default', () => {
    expect(section(raw({ endpoints: [{ host: 'shop.example.com' }] })).endpoints).toEqual([
      { host: 'shop.example.com', port: 443, alarm: false },
    ]);
  });

  it('leaves certManagerClusters unset by default, so every cluster is read', () => {
    expect(section(raw()).certManagerClusters).toBeUndefined();
  });

  it('is enough on its own: the configuration needs no other runbook section', () => {
    expect(accepted(raw()).rollback).toBeUndefined();
  });

  describe('thresholds', () => {
    it.each([
      [30, 30],
      [30, 31],
    ])(
      'refuses warningDays %i with criticalDays %i on certificates.criticalDays',
      (warningDays, criticalDays) => {
        expect(messagesAt(raw({ warningDays, criticalDays }), 'certificates.criticalDays')).toEqual([
          `must be less than warningDays (${warningDays})`,
        ]);
      },
    );

    it('accepts criticalDays one below warningDays', () => {
      expect(section(raw({ warningDays: 30, criticalDays: 29 }))).toMatchObject({
        warningDays: 30,
        criticalDays: 29,
      });
    });

    it('refuses criticalDays at or above the default warningDays when only it is set', () => {
      expect(messagesAt(raw({ criticalDays: 45 }), 'certificates.criticalDays')).toEqual([
        'must be less than warningDays (30)',
      ]);
    });
  });

  describe('certManagerClusters', () => {
    it('refuses a cluster not listed in eksClusters, on its index', () => {
      expect(issuesOf(raw({ certManagerClusters: ['staging-eks', 'prod-eks'] }))).toEqual([
        {
          path: 'certificates.certManagerClusters.0',
          message: 'cluster "staging-eks" is not listed in eksClusters',
        },
      ]);
    });

    it('accepts a listed cluster and an empty list', () => {
      expect(section(raw({ certManagerClusters: ['tools-eks'] })).certManagerClusters).toEqual(['tools-eks']);
      expect(section(raw({ certManagerClusters: [] })).certManagerClusters).toEqual([]);
    });
  });

  describe('endpoints', () => {
    it('refuses an endpoint listed twice, naming the index of the other', () => {
      const endpoints = [
        { host: 'shop.example.com' },
        { host: 'api.example.com' },
        { host: 'shop.example.com', port: 443 },
      ];
      expect(issuesOf(raw({ endpoints }))).toEqual([
        {
          path: 'certificates.endpoints.2',
          message: 'shop.example.com:443 (shop.example.com) is listed twice (also at endpoints[0])',
        },
      ]);
    });

    it('accepts one host on two ports, or reached under two SNI names', () => {
      const endpoints = [
        { host: '10.0.12.7', servername: 'shop.example.com' },
        { host: '10.0.12.7', servername: 'api.example.com' },
        { host: '10.0.12.7', port: 8443, servername: 'shop.example.com' },
      ];
      expect(section(raw({ endpoints })).endpoints).toHaveLength(3);
    });

    it.each([
      ['a space', 'shop example.com'],
      ['a URL', 'https://shop.example.com'],
      ['a leading hyphen', '-shop.example.com'],
      ['an underscore', 'shop_example.com'],
      ['an empty label', 'shop..example.com'],
    ])('refuses a host with %s', (_what, host) => {
      expect(messagesAt(raw({ endpoints: [{ host }] }), 'certificates.endpoints.0.host')).toEqual([
        'must be a host name (IDN allowed) or an IP address',
      ]);
    });

    it('refuses an invalid servername on its own field', () => {
      const endpoints = [{ host: '10.0.12.7', servername: 'shop example.com' }];
      expect(messagesAt(raw({ endpoints }), 'certificates.endpoints.0.servername')).toEqual([
        'must be a host name (IDN allowed) or an IP address',
      ]);
    });

    it('refuses an empty host', () => {
      expect(messagesAt(raw({ endpoints: [{ host: '' }] }), 'certificates.endpoints.0.host')).not.toEqual([]);
    });

    it.each([0, 65_536, 443.5])('refuses port %s', (port) => {
      expect(
        messagesAt(raw({ endpoints: [{ host: 'shop.example.com', port }] }), 'certificates.endpoints.0.port'),
      ).toHaveLength(1);
    });

    it('refuses an unknown key on an endpoint', () => {
      const issues = issuesOf(raw({ endpoints: [{ host: 'shop.example.com', sni: 'shop.example.com' }] }));
      expect(issues).toHaveLength(1);
      expect(issues[0]?.path).toBe('certificates.endpoints.0');
      expect(issues[0]?.message).toContain('sni');
    });

    it.each([
      ['an IDN host', 'bücher.example'],
      ['a trailing-dot host', 'shop.example.com.'],
      ['an IPv4 address', '10.0.12.7'],
      ['an IPv6 address', '2001:db8::1'],
      ['a single label', 'localhost'],
    ])('accepts %s', (_what, host) => {
      expect(section(raw({ endpoints: [{ host }] })).endpoints[0]?.host).toBe(host);
    });

    it(`accepts ${MAX_ENDPOINTS} endpoints`, () => {
      expect(section(raw({ endpoints: manyEndpoints(MAX_ENDPOINTS) })).endpoints).toHaveLength(MAX_ENDPOINTS);
    });

    it(`refuses ${MAX_ENDPOINTS + 1} endpoints on certificates.endpoints`, () => {
      expect(
        messagesAt(raw({ endpoints: manyEndpoints(MAX_ENDPOINTS + 1) }), 'certificates.endpoints'),
      ).toEqual([`must list at most ${MAX_ENDPOINTS} endpoints`]);
    });

    it("refuses endpoints whose list does not fit the probe step's input", () => {
      const label = 'a'.repeat(60);
      const endpoints = Array.from({ length: MAX_ENDPOINTS }, (_, index) => ({
        host: `${label}.${label}.${label}.host-${index}.example.com`,
      }));
      const messages = messagesAt(raw({ endpoints }), 'certificates.endpoints');
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(/^the endpoints and trusted CAs take \d+ bytes; at most 200000 fit/);
    });
  });

  describe('the probe budget', () => {
    it('refuses 2,000 endpoints probed one at a time with a 10 s timeout, on certificates.probeConcurrency', () => {
      const config = raw({ endpoints: manyEndpoints(2_000), probeConcurrency: 1, probeTimeoutSeconds: 10 });
      expect(issuesOf(config)).toEqual([
        {
          path: 'certificates.probeConcurrency',
          message:
            "2000 endpoints at 1 at a time with a 10 s timeout can take 20000 s, beyond the probe step's 840 s: raise probeConcurrency or lower probeTimeoutSeconds",
        },
      ]);
    });

    it('accepts a worst case of exactly 840 s and refuses one round more', () => {
      const settings = { probeConcurrency: 1, probeTimeoutSeconds: 10 };
      expect(section(raw({ ...settings, endpoints: manyEndpoints(84) })).endpoints).toHaveLength(84);
      expect(
        messagesAt(raw({ ...settings, endpoints: manyEndpoints(85) }), 'certificates.probeConcurrency'),
      ).toEqual([expect.stringContaining('can take 850 s')]);
    });

    it('counts a partial round as a whole one', () => {
      const settings = { probeConcurrency: 50, probeTimeoutSeconds: 50 };
      // 800 endpoints: 16 rounds × 50 s = 800 s.
      expect(section(raw({ ...settings, endpoints: manyEndpoints(800) })).endpoints).toHaveLength(800);
      // 801 endpoints: ⌈801 / 50⌉ = 17 rounds × 50 s = 850 s, though 801 / 50 × 50 s is only 801 s.
      expect(
        messagesAt(raw({ ...settings, endpoints: manyEndpoints(801) }), 'certificates.probeConcurrency'),
      ).toEqual([expect.stringContaining('can take 850 s')]);
    });
  });

  describe('trusted CAs', () => {
    let caPem: string;
    beforeAll(async () => {
      caPem = (await createCa('Example Private Root CA')).cert;
    });

    it('accepts a PEM certificate', () => {
      expect(section(raw({ trustedCas: [{ name: 'Example private CA', pem: caPem }] })).trustedCas).toEqual([
        { name: 'Example private CA', pem: caPem },
      ]);
    });

    it('refuses a PEM that is not a certificate, on its field', () => {
      const pem = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
      expect(
        messagesAt(raw({ trustedCas: [{ name: 'Broken', pem }] }), 'certificates.trustedCas.0.pem'),
      ).toEqual(['must be a PEM certificate (-----BEGIN CERTIFICATE-----…)']);
    });

    it('refuses a private key in place of a certificate', () => {
      const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n';
      expect(
        messagesAt(raw({ trustedCas: [{ name: 'Key', pem }] }), 'certificates.trustedCas.0.pem'),
      ).toHaveLength(1);
    });
  });
});

describe('endpointId', () => {
  it('is host:port with the SNI name in parentheses', () => {
    expect(endpointId({ host: 'shop.example.com', port: 443 })).toBe(
      'shop.example.com:443 (shop.example.com)',
    );
  });

  it('names the servername as SNI for an endpoint reached by address', () => {
    expect(endpointId({ host: '10.0.12.7', port: 8443, servername: 'payments.internal.example.com' })).toBe(
      '10.0.12.7:8443 (payments.internal.example.com)',
    );
  });

  it('has no SNI for an IP address with no servername', () => {
    expect(endpointId({ host: '10.0.12.7', port: 443 })).toBe('10.0.12.7:443');
  });

  it('puts an IPv6 address in brackets, so its colons do not run into the port', () => {
    expect(endpointId({ host: '2001:db8::1', port: 443 })).toBe('[2001:db8::1]:443');
  });

  it('has no SNI when the servername is an IP address', () => {
    expect(endpointId({ host: 'lb.example.com', port: 443, servername: '10.0.12.7' })).toBe(
      'lb.example.com:443',
    );
  });

  it('converts an IDN to its A-label in the SNI, keeping the host as written', () => {
    expect(endpointId({ host: 'bücher.example', port: 443 })).toBe(
      'bücher.example:443 (xn--bcher-kva.example)',
    );
  });

  it('drops the trailing root dot from the SNI, keeping the host as written', () => {
    expect(endpointId({ host: 'shop.example.com.', port: 443 })).toBe(
      'shop.example.com.:443 (shop.example.com)',
    );
  });

  it('lowercases the SNI name', () => {
    expect(endpointId({ host: 'Shop.Example.com', port: 443 })).toBe(
      'Shop.Example.com:443 (shop.example.com)',
    );
  });

  it('is the id of the endpoint as the schema parsed it, default port included', () => {
    const [endpoint] = section(raw({ endpoints: [{ host: 'api.example.com' }] })).endpoints;
    if (!endpoint) throw new Error('no endpoint parsed');
    expect(endpointId(endpoint)).toBe('api.example.com:443 (api.example.com)');
  });
});

describe('certificateCheckRuntime', () => {
  let caPem: string;
  beforeAll(async () => {
    caPem = (await createCa('Example Private Root CA')).cert;
  });

  const runtimeOf = (certificates: Record<string, unknown>) => {
    const config = accepted(raw(certificates));
    if (!config.certificates) throw new Error('no certificates section');
    return certificateCheckRuntime({
      environment: config.environment,
      settings: config.certificates,
      clusters: config.eksClusters,
    });
  };

  describe('the ProbeSettings substitution', () => {
    it("is a JSON document as an ASL string's content", () => {
      const runtime = runtimeOf({
        endpoints: [
          { host: 'shop.example.com', alarm: true },
          { host: '10.0.12.7', port: 8443, servername: 'payments.internal.example.com' },
          { host: 'bücher.example' },
        ],
        trustedCas: [{ name: 'Example private CA', pem: caPem }],
        probeTimeoutSeconds: 5,
        probeConcurrency: 20,
      });
      const value = runtime.substitutions.ProbeSettings;
      expect(value).toBeTypeOf('string');
      const settings = JSON.parse(JSON.parse(`"${value}"`) as string) as ProbeSettings;
      expect(settings).toEqual({
        endpoints: [
          { host: 'shop.example.com', port: 443 },
          { host: '10.0.12.7', port: 8443, servername: 'payments.internal.example.com' },
          { host: 'bücher.example', port: 443 },
        ],
        trustedCas: [caPem],
        timeoutMs: 5_000,
        concurrency: 20,
      });
    });

    it('has no unescaped quote or line break that would end the ASL string', () => {
      const value = runtimeOf({ trustedCas: [{ name: 'Example private CA', pem: caPem }] }).substitutions
        .ProbeSettings as string;
      expect(value).not.toMatch(/(^|[^\\])"/);
      expect(value).not.toContain('\n');
    });

    it('carries the defaults for an empty section', () => {
      const value = runtimeOf({}).substitutions.ProbeSettings as string;
      expect(JSON.parse(JSON.parse(`"${value}"`) as string)).toEqual({
        endpoints: [],
        trustedCas: [],
        timeoutMs: 10_000,
        concurrency: 50,
      });
    });

    it('is the only substitution', () => {
      expect(Object.keys(runtimeOf({}).substitutions)).toEqual(['ProbeSettings']);
    });
  });

  describe('cert-manager clusters', () => {
    it('reads every cluster of eksClusters by default, with their namespaces', () => {
      const runtime = runtimeOf({});
      expect(runtime.certManagerClusters).toEqual(clusters);
      expect(JSON.parse(runtime.collectCertManagerEnvironment.CERT_MANAGER_CLUSTERS as string)).toEqual([
        { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
        { name: 'tools-eks', namespaces: ['ingress'] },
      ]);
    });

    it('reads only the listed clusters', () => {
      const runtime = runtimeOf({ certManagerClusters: ['tools-eks'] });
      expect(runtime.certManagerClusters.map((cluster) => cluster.name)).toEqual(['tools-eks']);
      expect(JSON.parse(runtime.collectCertManagerEnvironment.CERT_MANAGER_CLUSTERS as string)).toEqual([
        { name: 'tools-eks', namespaces: ['ingress'] },
      ]);
    });

    it('reads none with []', () => {
      const runtime = runtimeOf({ certManagerClusters: [] });
      expect(runtime.certManagerClusters).toEqual([]);
      expect(runtime.collectCertManagerEnvironment).toEqual({ CERT_MANAGER_CLUSTERS: '[]' });
    });

    it('passes the collector only each cluster’s name and namespaces', () => {
      const settings = section(raw());
      const runtime = certificateCheckRuntime({
        environment: 'prod',
        settings,
        clusters: [{ name: 'prod-eks', namespaces: ['checkout'], securityGroupId: 'sg-0c1a2b3c4d5e6f789' }],
      });
      expect(runtime.certManagerClusters).toEqual([
        { name: 'prod-eks', namespaces: ['checkout'], securityGroupId: 'sg-0c1a2b3c4d5e6f789' },
      ]);
      expect(runtime.collectCertManagerEnvironment).toEqual({
        CERT_MANAGER_CLUSTERS: '[{"name":"prod-eks","namespaces":["checkout"]}]',
      });
    });
  });

  describe('the functions’ environments', () => {
    it('gives the AWS collector and the trigger reader REGIONS as a JSON array of regions', () => {
      const runtime = runtimeOf({ regions: ['eu-central-1', 'us-west-2'] });
      for (const environment of [runtime.collectAwsEnvironment, runtime.readTriggerEnvironment]) {
        expect(environment).toEqual({ REGIONS: '["eu-central-1","us-west-2"]' });
        expect(regionsSetting.parse(JSON.parse(environment.REGIONS as string))).toEqual([
          'eu-central-1',
          'us-west-2',
        ]);
      }
    });

    it('gives REGIONS "[]" with no regions configured', () => {
      expect(runtimeOf({}).readTriggerEnvironment).toEqual({ REGIONS: '[]' });
    });

    it('gives the report step the environment name and the thresholds as whole-number strings', () => {
      expect(runtimeOf({ warningDays: 45, criticalDays: 14 }).reportEnvironment).toEqual({
        ENVIRONMENT_NAME: 'prod',
        WARNING_DAYS: '45',
        CRITICAL_DAYS: '14',
      });
    });

    it('gives the report step the default thresholds', () => {
      const { reportEnvironment } = runtimeOf({});
      expect(reportEnvironment.WARNING_DAYS).toBe('30');
      expect(reportEnvironment.CRITICAL_DAYS).toBe('7');
    });
  });
});
