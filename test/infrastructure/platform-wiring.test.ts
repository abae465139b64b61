import { describe, expect, it } from 'vitest';
import { ROLLBACK_TARGET_TAG } from '../../lib/config/platform';
import { PLATFORM_ENVIRONMENTS, synthPlatform } from './platform-synth';

type PatternValue = string | { prefix: string };

/** EventBridge's matching for the values the rollback rule uses: exact strings and `prefix`. */
const matches = (values: PatternValue[], value: string) =>
  values.some((candidate) =>
    typeof candidate === 'string' ? candidate === value : value.startsWith(candidate.prefix),
  );

describe.each(PLATFORM_ENVIRONMENTS)('the %s platform and the runbooks', (environment) => {
  const synthesized = () => synthPlatform(environment);

  it("starts the rollback runbook from every workload alarm: the rule's pattern matches its name, its tag names the Deployment", () => {
    const { template, runbooksTemplate, config } = synthesized();
    const rules = Object.values(runbooksTemplate.findResources('AWS::Events::Rule')).filter(
      (rule) => rule.Properties.EventPattern?.['detail-type']?.[0] === 'CloudWatch Alarm State Change',
    );
    expect(rules).toHaveLength(1);
    const pattern = rules[0]?.Properties.EventPattern as {
      detail: { alarmName: PatternValue[]; state: { value: string[] } };
    };
    expect(pattern.detail.state.value).toEqual(['ALARM']);

    const workloadAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((alarm) =>
      (alarm.Properties.Tags as { Key: string }[] | undefined)?.some(
        (tag) => tag.Key === ROLLBACK_TARGET_TAG,
      ),
    );
    const workloads = config.platform?.workloads ?? [];
    const withAlb = workloads.filter((workload) => workload.loadBalancer !== undefined).length;
    expect(workloadAlarms).toHaveLength(workloads.length + 2 * withAlb);
    const cluster = config.eksClusters.find(
      (candidate) => candidate.name === config.platform?.eks.clusterName,
    );
    for (const alarm of workloadAlarms) {
      const name = alarm.Properties.AlarmName as string;
      expect(matches(pattern.detail.alarmName, name), `${name} matches the rollback rule`).toBe(true);
      const tag = (alarm.Properties.Tags as { Key: string; Value: string }[]).find(
        (t) => t.Key === ROLLBACK_TARGET_TAG,
      );
      const [clusterName, namespace, deployment] = (tag?.Value ?? '').split('/');
      expect(clusterName).toBe(cluster?.name);
      expect(cluster?.namespaces).toContain(namespace);
      expect(
        workloads.some((workload) => workload.namespace === namespace && workload.deployment === deployment),
      ).toBe(true);
    }
  });

  it('keeps the infrastructure alarms (database) out of the rollback: no tag, no matching name', () => {
    const { template, runbooksTemplate } = synthesized();
    const pattern = Object.values(runbooksTemplate.findResources('AWS::Events::Rule')).find(
      (rule) => rule.Properties.EventPattern?.['detail-type']?.[0] === 'CloudWatch Alarm State Change',
    )?.Properties.EventPattern as { detail: { alarmName: PatternValue[] } };
    for (const suffix of ['database-cpu', 'database-free-storage', 'database-connections']) {
      const name = `platform-${environment}-${suffix}`;
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: name });
      expect(matches(pattern.detail.alarmName, name)).toBe(false);
    }
  });

  it('pages through the platform topic on ALARM and OK', () => {
    const { template } = synthesized();
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toHaveLength(1);
      expect(alarm.Properties.OKActions).toHaveLength(1);
    }
  });

  it('synthesizes the runbooks stack with names and ids only: no import, no reference, no dependency on the platform', () => {
    const { runbooks, platform, app } = synthesized();
    const assembly = app.synth();
    const artifact = assembly.getStackByName(runbooks.stackName);
    const text = JSON.stringify(artifact.template);
    expect(text).not.toContain('Fn::ImportValue');
    expect(text).not.toContain(platform.stackName);
    expect(artifact.dependencies.map((dependency) => dependency.id)).not.toContain(platform.artifactId);
    expect(runbooks.dependencies).toEqual([]);
    expect(platform.dependencies).toEqual([]);
    // And the platform exports nothing the runbooks could import.
    expect(
      Object.values(assembly.getStackByName(platform.stackName).template.Outputs ?? {}).some(
        (output) => (output as { Export?: unknown }).Export,
      ),
    ).toBe(false);
  });

  it("points the runbooks at the platform's cluster by its name", () => {
    const { runbooksTemplate, config } = synthesized();
    runbooksTemplate.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: config.platform?.eks.clusterName,
    });
  });
});
