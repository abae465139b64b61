import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, it } from 'vitest';
import { arnOf, idOf } from './helpers';
import { exampleConfig, synth, type Synthesized } from './synth';

const editPolicy = {
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, ':eks::aws:cluster-access-policy/AmazonEKSEditPolicy'],
  ],
};

describe('the Kubernetes access', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    const raw = exampleConfig();
    raw.eksClusters = [
      { name: 'prod-eks', namespaces: ['checkout', 'payments'] },
      { name: 'prod_eks_2', namespaces: ['search'] },
    ];
    synthesized = synth(raw);
  });

  it('gives the shared role a STANDARD access entry in each configured cluster', () => {
    const role = arnOf(idOf(synthesized, synthesized.stack.eksAccess.role));
    synthesized.template.resourceCountIs('AWS::EKS::AccessEntry', 2);
    for (const clusterName of ['prod-eks', 'prod_eks_2']) {
      synthesized.template.hasResourceProperties('AWS::EKS::AccessEntry', {
        ClusterName: clusterName,
        PrincipalArn: role,
        Type: 'STANDARD',
        KubernetesGroups: Match.absent(),
      });
    }
  });

  it('associates AmazonEKSEditPolicy scoped to the namespaces configured for that cluster', () => {
    synthesized.template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'prod-eks',
      AccessPolicies: [
        { PolicyArn: editPolicy, AccessScope: { Type: 'namespace', Namespaces: ['checkout', 'payments'] } },
      ],
    });
    synthesized.template.hasResourceProperties('AWS::EKS::AccessEntry', {
      ClusterName: 'prod_eks_2',
      AccessPolicies: [{ PolicyArn: editPolicy, AccessScope: { Type: 'namespace', Namespaces: ['search'] } }],
    });
  });

  it('is the role the Kubernetes-touching functions run as', () => {
    const role = arnOf(idOf(synthesized, synthesized.stack.eksAccess.role));
    for (const service of ['rollback-prepare', 'rollback-undo', 'rollback-rollout-status']) {
      synthesized.template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: service }) },
        Role: role,
      });
    }
  });

  it('is assumed by Lambda only', () => {
    synthesized.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
      },
      Description: Match.stringLikeRegexp('Kubernetes'),
    });
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
