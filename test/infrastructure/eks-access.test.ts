import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EksRunbookAccess } from '../../lib/eks-runbook-access';
import { arnOf, idOf, present } from './helpers';
import { exampleConfig, synth, type Synthesized } from './synth';

const accessPolicy = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:eks::aws:cluster-access-policy/${name}`]],
});

interface AccessEntry {
  Properties: {
    ClusterName: string;
    PrincipalArn: unknown;
    Type: string;
    AccessPolicies: unknown;
    KubernetesGroups?: unknown;
  };
  DependsOn?: string[];
}

describe('the Kubernetes access of the rollback steps', () => {
  let synthesized: Synthesized;
  let entries: AccessEntry[];
  beforeAll(() => {
    const raw = exampleConfig();
    raw.eksClusters = [
      { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
      { name: 'prod_eks_2', namespaces: ['search'] },
    ];
    // The canary's steps have entries of their own, scoped to their services' namespaces (canary.test.ts).
    delete raw.canary;
    synthesized = synth(raw);
    entries = Object.values(synthesized.template.findResources('AWS::EKS::AccessEntry')) as AccessEntry[];
  });

  /** prepare and rollout status read; only undo writes. */
  const steps = () => {
    const { rollback } = synthesized;
    return [
      {
        name: 'prepare',
        access: rollback.prepareAccess,
        fn: rollback.prepareFunction,
        policy: 'AmazonEKSViewPolicy',
      },
      { name: 'undo', access: rollback.undoAccess, fn: rollback.undoFunction, policy: 'AmazonEKSEditPolicy' },
      {
        name: 'rollout status',
        access: rollback.rolloutStatusAccess,
        fn: rollback.rolloutStatusFunction,
        policy: 'AmazonEKSViewPolicy',
      },
    ];
  };

  it('gives each Kubernetes step its own role, and no other function one of them', () => {
    const roles = steps().map((step) => idOf(synthesized, step.access.role));
    expect(new Set(roles).size).toBe(3);
    for (const step of steps()) {
      synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: step.fn.definition.serviceName }),
        },
        Role: arnOf(idOf(synthesized, step.access.role)),
      });
    }
    const users = Object.values(synthesized.template.findResources('AWS::Lambda::Function')).filter((fn) =>
      roles.includes((fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]),
    );
    expect(users).toHaveLength(3);
  });

  it("creates one STANDARD access entry per step and cluster: the rollback steps' and the right-sizing workloads collector's in no Kubernetes group, the cert-manager collector's in platform-runbooks:certificate-readers only", () => {
    const certManager = present(synthesized.stack.certificates, 'the certificate check').certManagerAccess;
    const workloads = present(synthesized.stack.rightsizing, 'the right-sizing report').workloadsAccess;
    const principals = [...steps().map((step) => step.access), certManager, workloads].map((access) =>
      JSON.stringify(arnOf(idOf(synthesized, access.role))),
    );
    // Three rollback steps and the cert-manager collector (every cluster by default), two clusters each,
    // and the right-sizing workloads collector in the one cluster its section sizes (`clusters: [prod-eks]`);
    // no other role has an entry.
    expect(entries).toHaveLength(9);
    expect(entries.every((entry) => principals.includes(JSON.stringify(entry.Properties.PrincipalArn)))).toBe(
      true,
    );
    const entriesOf = (access: EksRunbookAccess) =>
      entries.filter(
        (entry) =>
          JSON.stringify(entry.Properties.PrincipalArn) ===
          JSON.stringify(arnOf(idOf(synthesized, access.role))),
      );
    for (const step of steps()) {
      const own = entriesOf(step.access);
      expect(own.map((entry) => entry.Properties.ClusterName).sort(), step.name).toEqual([
        'prod-eks',
        'prod_eks_2',
      ]);
      for (const entry of own) {
        expect(entry.Properties.Type).toBe('STANDARD');
        // The EKS access policies cover what the rollback steps touch (Deployments, ReplicaSets).
        expect(entry.Properties.KubernetesGroups, step.name).toBeUndefined();
      }
    }
    const collector = entriesOf(certManager);
    expect(collector.map((entry) => entry.Properties.ClusterName).sort()).toEqual(['prod-eks', 'prod_eks_2']);
    for (const entry of collector) {
      expect(entry.Properties.Type).toBe('STANDARD');
      // No access policy covers custom resources such as cert-manager Certificates: the cluster binds this
      // group to the view ClusterRole in each granted namespace (docs/runbooks/certificate-check.md).
      expect(entry.Properties.KubernetesGroups).toEqual(['platform-runbooks:certificate-readers']);
    }
    const sizer = entriesOf(workloads);
    expect(sizer.map((entry) => entry.Properties.ClusterName)).toEqual(['prod-eks']);
    for (const entry of sizer) {
      expect(entry.Properties.Type).toBe('STANDARD');
      // The view access policy covers what it reads (Deployments, StatefulSets, DaemonSets, HPAs).
      expect(entry.Properties.KubernetesGroups).toBeUndefined();
    }
  });

  it('associates view for prepare and rollout status, edit for undo, scoped to the namespaces of each cluster', () => {
    for (const step of steps()) {
      const principal = arnOf(idOf(synthesized, step.access.role));
      synthesized.template.hasResourceProperties('AWS::EKS::AccessEntry', {
        ClusterName: 'prod-eks',
        PrincipalArn: principal,
        AccessPolicies: [
          {
            PolicyArn: accessPolicy(step.policy),
            AccessScope: { Type: 'namespace', Namespaces: ['checkout', 'payments'] },
          },
        ],
      });
      synthesized.template.hasResourceProperties('AWS::EKS::AccessEntry', {
        ClusterName: 'prod_eks_2',
        PrincipalArn: principal,
        AccessPolicies: [
          {
            PolicyArn: accessPolicy(step.policy),
            AccessScope: { Type: 'namespace', Namespaces: ['search'] },
          },
        ],
      });
    }
    const edits = entries.filter((entry) =>
      JSON.stringify(entry.Properties.AccessPolicies).includes('AmazonEKSEditPolicy'),
    );
    expect(edits).toHaveLength(2);
  });

  it('creates each access entry only after the function that proves its role has propagated', () => {
    for (const step of steps()) {
      const principal = JSON.stringify(arnOf(idOf(synthesized, step.access.role)));
      const own = entries.filter((entry) => JSON.stringify(entry.Properties.PrincipalArn) === principal);
      expect(own).toHaveLength(2);
      for (const entry of own) expect(entry.DependsOn, step.name).toContain(idOf(synthesized, step.fn));
    }
  });

  it('gives roles assumed by Lambda only', () => {
    const roles = synthesized.template.findResources('AWS::IAM::Role');
    for (const step of steps()) {
      expect(roles[idOf(synthesized, step.access.role)]?.Properties.AssumeRolePolicyDocument).toEqual({
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
        Version: '2012-10-17',
      });
    }
  });

  it('tells the prepare function which clusters and namespaces it may act in', () => {
    synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'rollback-prepare',
          EKS_CLUSTERS: Match.serializedJson([
            { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
            { name: 'prod_eks_2', namespaces: ['search'] },
          ]),
        }),
      },
    });
  });
});

describe('an EksRunbookAccess', () => {
  it('fails synth when nothing orders its access entries after the function that uses its role', () => {
    const app = new App();
    const stack = new Stack(app, 'Unordered');
    new EksRunbookAccess(stack, 'Access', {
      accessLevel: 'view',
      description: 'a step that forgot createEntriesAfter',
      clusters: [{ name: 'prod-eks', namespaces: ['checkout'] }],
    });
    expect(() => app.synth()).toThrow(/call createEntriesAfter\(fn\)/);
  });
});
