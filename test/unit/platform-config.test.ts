import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TARGET_TAG } from '../../lambdas/rollback/target';
import { ConfigError, parseConfig } from '../../lib/config/load';
import {
  type PlatformSectionInput,
  ROLLBACK_TARGET_TAG,
  rollbackTargetTagValue,
} from '../../lib/config/platform';

const example = (environment: string): Record<string, unknown> =>
  parse(
    readFileSync(new URL(`../../lib/config/platform-${environment}.yaml`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>;

/** The example with its platform section changed by `edit`. */
function withPlatform(edit: (platform: PlatformInput, config: Record<string, unknown>) => void) {
  const config = example('production');
  edit(config.platform as PlatformInput, config);
  return config;
}

/** The raw section as a test edits it: the schema's input, with room for a key it does not know. */
type PlatformInput = PlatformSectionInput & { workloads: NonNullable<PlatformSectionInput['workloads']> };

function problems(raw: unknown): string {
  try {
    parseConfig(raw, 'test');
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return '';
}

describe('the platform configuration', () => {
  it.each(['dev', 'staging', 'production'])('accepts the %s example', (environment) => {
    const config = parseConfig(example(environment), environment);
    expect(config.platform?.eks.clusterName).toBe(`platform-${environment}`);
  });

  it('differs between environments only in the values the examples give', () => {
    const [dev, staging, production] = ['dev', 'staging', 'production'].map(
      (environment) => parseConfig(example(environment), environment).platform,
    );
    expect([dev?.vpc.natGateways, staging?.vpc.natGateways, production?.vpc.natGateways]).toEqual([1, 1, 3]);
    expect([dev?.database.multiAz, production?.database.multiAz]).toEqual([false, true]);
    expect([dev?.database.deletionProtection, production?.database.deletionProtection]).toEqual([
      false,
      true,
    ]);
    expect([dev?.eks.deletionProtection, production?.eks.deletionProtection]).toEqual([false, true]);
    expect([dev?.cache.multiAz, production?.cache.multiAz]).toEqual([false, true]);
    expect(production?.database.backupRetentionDays).toBe(30);
  });

  it('fills the defaults: a /16, every runbook endpoint, 7 days of Performance Insights, the seed thresholds', () => {
    const config = parseConfig(
      withPlatform((platform) => {
        delete platform.vpc.cidr;
        delete platform.vpc.interfaceEndpoints;
      }),
      'test',
    );
    expect(config.platform?.vpc.cidr).toBe('10.0.0.0/16');
    expect(config.platform?.vpc.interfaceEndpoints).toContain('eks');
    expect(config.platform?.database.performanceInsightsRetentionDays).toBe(7);
    expect(config.platform?.alarms.databaseCpuPercent).toBe(80);
    expect(config.platform?.alarms.podRestartsPerHour).toBe(3);
  });

  it('refuses a backup retention outside 7-30 days', () => {
    expect(problems(withPlatform((p) => (p.database.backupRetentionDays = 3)))).toContain(
      'platform.database.backupRetentionDays',
    );
    expect(problems(withPlatform((p) => (p.database.backupRetentionDays = 35)))).toContain(
      'platform.database.backupRetentionDays',
    );
  });

  it('needs a region, and zones in it, three and distinct', () => {
    expect(problems(withPlatform((_, config) => delete config.region))).toContain(
      'region: is required with platform',
    );
    expect(
      problems(withPlatform((p) => (p.availabilityZones = ['eu-west-1a', 'eu-west-1b', 'eu-central-1c']))),
    ).toContain('eu-central-1c is not in region eu-west-1');
    expect(problems(withPlatform((p) => (p.availabilityZones = ['eu-west-1a', 'eu-west-1b'])))).toContain(
      'platform.availabilityZones',
    );
    expect(
      problems(withPlatform((p) => (p.availabilityZones = ['eu-west-1a', 'eu-west-1a', 'eu-west-1b']))),
    ).toContain('is listed twice');
  });

  it('needs the cluster among eksClusters, so the runbooks get their access entries in it', () => {
    expect(problems(withPlatform((p) => (p.eks.clusterName = 'other')))).toContain(
      'platform.eks.clusterName: cluster "other" is not listed in eksClusters',
    );
  });

  it('refuses a public endpoint without source ranges', () => {
    expect(problems(withPlatform((p) => (p.eks.endpointPublicAccess = true)))).toContain(
      'platform.eks.publicAccessCidrs: is required with endpointPublicAccess',
    );
  });

  it('needs a workload alarm prefix that the rollback runbook discovers', () => {
    expect(problems(withPlatform((p) => (p.alarms.workloadAlarmPrefix = 'platform-')))).toContain(
      'so the workload alarms would never start the rollback runbook',
    );
  });

  it('needs each workload in a namespace the runbooks may act in, once', () => {
    expect(
      problems(withPlatform((p) => p.workloads.push({ namespace: 'search', deployment: 'api' }))),
    ).toContain('namespace "search" is not in eksClusters["platform-production"].namespaces');
    expect(
      problems(withPlatform((p) => p.workloads.push({ namespace: 'checkout', deployment: 'checkout-api' }))),
    ).toContain('checkout/checkout-api is listed twice');
  });

  it('needs a replica for a multi-AZ cache and storage autoscaling above the allocation', () => {
    expect(problems(withPlatform((p) => (p.cache.replicas = 0)))).toContain('platform.cache.replicas');
    expect(problems(withPlatform((p) => (p.database.maxAllocatedStorageGiB = 50)))).toContain(
      'platform.database.maxAllocatedStorageGiB',
    );
  });

  it('refuses unknown keys and malformed load balancer dimensions', () => {
    expect(problems(withPlatform((p) => ((p.eks as Record<string, unknown>).nodeGroups = [])))).toContain(
      'platform.eks',
    );
    expect(
      problems(
        withPlatform((p) =>
          p.workloads.splice(0, 1, {
            namespace: 'checkout',
            deployment: 'checkout-api',
            loadBalancer: 'k8s-checkout',
          }),
        ),
      ),
    ).toContain('must be app/<name>/<16 hex digits>');
  });

  it('tags workload alarms with the tag the rollback runbook reads', () => {
    expect(ROLLBACK_TARGET_TAG).toBe(TARGET_TAG);
    expect(
      rollbackTargetTagValue('platform-dev', { namespace: 'checkout', deployment: 'checkout-api' }),
    ).toBe('platform-dev/checkout/checkout-api');
  });
});
