import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { present, ref, arnOf, idOf } from './helpers';
import { asArray, exampleConfig, policyStatements, synth, type Synthesized } from './synth';

describe('the certificate check', () => {
  let synthesized: Synthesized;
  const certificates = () => present(synthesized.stack.certificates, 'the certificate check');
  beforeAll(() => {
    synthesized = synth();
  });

  it('runs daily on a Scheduler schedule in its time zone, with the schedule input', () => {
    synthesized.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'platform-runbooks-prod-certificates',
      ScheduleExpression: 'cron(0 6 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      Target: Match.objectLike({
        Arn: ref(idOf(synthesized, certificates().workflow.stateMachine)),
        Input: JSON.stringify({ trigger: 'schedule' }),
        RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 7200 },
      }),
    });
  });

  it("starts on ACM's three expiry and renewal events, with the whole event as input", () => {
    synthesized.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.acm'],
        'detail-type': [
          'ACM Certificate Approaching Expiration',
          'ACM Certificate Expired',
          'ACM Certificate Renewal Action Required',
        ],
      },
      Targets: [
        Match.objectLike({
          Arn: ref(idOf(synthesized, certificates().workflow.stateMachine)),
          Input: Match.absent(),
          DeadLetterConfig: { Arn: arnOf(idOf(synthesized, certificates().workflow.deadLetterQueue)) },
        }),
      ],
    });
  });

  it('has no ACM rule when acmEvents is off', () => {
    const raw = exampleConfig();
    (raw.certificates as Record<string, unknown>).acmEvents = false;
    const withoutEvents = synth(raw);
    const rules = Object.values(withoutEvents.template.findResources('AWS::Events::Rule'));
    expect(rules.some((rule) => JSON.stringify(rule).includes('aws.acm'))).toBe(false);
    expect(withoutEvents.stack.certificates?.workflow.rules).toHaveLength(0);
  });

  it('gives the AWS collector read-only certificate calls, DescribeCertificate scoped to this account', () => {
    const role = idOf(synthesized, certificates().collectAwsRole);
    // The canary's observe step reads load balancer rules of its own (canary.test.ts).
    const canaryObserve = synthesized.stack.canary?.observePolicy;
    const statements = policyStatements(synthesized.template).filter(
      ({ policy, statement }) =>
        (!canaryObserve || policy !== idOf(synthesized, canaryObserve)) &&
        asArray(statement.Action).some((action) => /^(acm|iam|elasticloadbalancing):/.test(action)),
    );
    const actions = statements.flatMap(({ statement }) => asArray(statement.Action)).sort();
    expect(actions).toEqual([
      'acm:DescribeCertificate',
      'acm:ListCertificates',
      'elasticloadbalancing:DescribeListenerCertificates',
      'elasticloadbalancing:DescribeListeners',
      'elasticloadbalancing:DescribeLoadBalancers',
      'iam:ListServerCertificates',
    ]);
    const describe = statements.find(({ statement }) =>
      asArray(statement.Action).includes('acm:DescribeCertificate'),
    );
    expect(JSON.stringify(describe?.statement.Resource)).toContain(':certificate/*');
    synthesized.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [ref(role)],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'acm:DescribeCertificate' })]),
      },
    });
  });

  it('lets the three collectors write only the runs prefix, and only the report step read it and write reports', () => {
    // The bucket is shared: the right-sizing report's steps reach its own prefixes (rightsizing-report.test.ts).
    const rightsizing = present(synthesized.stack.rightsizing, 'the right-sizing report');
    const rightsizingRoles = [
      rightsizing.workloadsAccess.role,
      rightsizing.collectComputeRole,
      rightsizing.reportRole,
    ].map((role) => JSON.stringify(ref(idOf(synthesized, role))));
    const policies = synthesized.template.findResources('AWS::IAM::Policy');
    const ofRightsizing = (policy: string): boolean =>
      (present(policies[policy], policy).Properties.Roles as unknown[]).every((role) =>
        rightsizingRoles.includes(JSON.stringify(role)),
      );
    const s3 = policyStatements(synthesized.template).filter(
      ({ policy, statement }) =>
        asArray(statement.Action).some((action) => action.startsWith('s3:')) && !ofRightsizing(policy),
    );
    const grants = s3.map(
      ({ statement }) => `${asArray(statement.Action).join(',')} ${JSON.stringify(statement.Resource)}`,
    );
    expect(
      grants.filter(
        (grant) => grant.startsWith('s3:PutObject') && grant.includes('certificate-check/runs/*'),
      ),
    ).toHaveLength(3);
    expect(grants.filter((grant) => grant.startsWith('s3:GetObject'))).toEqual([
      expect.stringContaining('certificate-check/runs/*'),
    ]);
    expect(grants.filter((grant) => grant.includes('certificate-check/reports/*'))).toEqual([
      expect.stringMatching(/^s3:PutObject /),
    ]);
    expect(grants.every((grant) => !grant.includes('s3:*') && !grant.includes('s3:Delete'))).toBe(true);
    // Listing, so a missing part is NoSuchKey rather than AccessDenied; only the runs prefix.
    const list = s3.filter(({ statement }) => asArray(statement.Action).includes('s3:ListBucket'));
    expect(list.map(({ statement }) => statement.Condition)).toEqual([
      { StringLike: { 's3:prefix': ['certificate-check/runs/*'] } },
    ]);
  });

  it('keeps reports in a KMS-encrypted, versioned, TLS-only bucket with access logs and per-prefix lifecycle', () => {
    const reports = certificates().reports;
    synthesized.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
          }),
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: { DestinationBucketName: ref(idOf(synthesized, reports.accessLogsBucket)) },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'certificate-check/runs/', ExpirationInDays: 7 }),
          Match.objectLike({
            Prefix: 'certificate-check/reports/',
            ExpirationInDays: 400,
            Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
          }),
        ]),
      },
    });
    synthesized.template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('alarms on the earliest expiry below criticalDays and on no data, paging on-call', () => {
    synthesized.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'platform-runbooks-prod-certificates-earliest-expiry',
      Namespace: 'PlatformRunbooks/CertificateCheck',
      MetricName: 'EarliestDaysToExpiry',
      Dimensions: [{ Name: 'Environment', Value: 'prod' }],
      Statistic: 'Minimum',
      Period: 86_400,
      Threshold: 7,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [ref(idOf(synthesized, synthesized.stack.onCall.topic))],
    });
  });

  it('gives an endpoint with alarm: true its own DaysToExpiry alarm, by the id the probe reports', () => {
    synthesized.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DaysToExpiry',
      Dimensions: [
        { Name: 'Certificate', Value: 'shop.example.com:443 (shop.example.com)' },
        { Name: 'Environment', Value: 'prod' },
        { Name: 'Source', Value: 'endpoint' },
      ],
      TreatMissingData: 'breaching',
    });
    expect([...certificates().endpointAlarms.keys()]).toEqual(['shop.example.com:443 (shop.example.com)']);
  });

  it('substitutes the endpoints into the probe step as a JSON document the handler parses', () => {
    const machine = synthesized.template.findResources('AWS::StepFunctions::StateMachine', {
      Properties: { StateMachineName: 'platform-runbooks-prod-certificates' },
    });
    const [resource] = Object.values(machine);
    const substitutions = (resource as { Properties: { DefinitionSubstitutions: Record<string, unknown> } })
      .Properties.DefinitionSubstitutions;
    const settings = JSON.parse(JSON.parse(`"${String(substitutions.ProbeSettings)}"`) as string) as {
      endpoints: unknown[];
      timeoutMs: number;
    };
    expect(settings.endpoints).toEqual([
      { host: 'shop.example.com', port: 443 },
      { host: 'api.example.com', port: 443 },
      { host: '10.0.12.7', port: 8443, servername: 'payments.internal.example.com' },
    ]);
    expect(settings.timeoutMs).toBe(10_000);
  });

  it('gives the cert-manager collector view access entries only', () => {
    const access = certificates().certManagerAccess;
    expect(access.accessLevel).toBe('view');
    expect(access.clusters.map((cluster) => cluster.name)).toEqual(['prod-eks']);
  });
});
