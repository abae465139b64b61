// The objects the ALB router's handlers read beside the Ingress, through the thin client against the simulated API
// server: the Services its action forwards to, and the TargetGroupBindings that name each Service's target group,
// the AWS Load Balancer Controller's and EKS Auto Mode's; with the failures a handler meets (missing, forbidden,
// not served, malformed).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KubernetesClient } from '../../lambdas/kubernetes/client';
import {
  KubernetesForbidden,
  KubernetesInvalidResponse,
  KubernetesNotFound,
  KubernetesUnavailable,
} from '../../lambdas/kubernetes/errors';
import { clientForSimulatedApi } from '../harness/kubernetes-test-client';
import { startKubernetesApiServer, type SimulatedKubernetesApi } from '../harness/kubernetes/server';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDCANARYEXTRA', secretAccessKey: 'canary-extra-secret' };
const USER = 'arn:aws:sts::111122223333:assumed-role/platform-runbooks-kubernetes/runbook';
const TG_ARN = (name: string) =>
  `arn:aws:elasticloadbalancing:${REGION}:111122223333:targetgroup/${name}/0123456789abcdef`;
const BINDINGS_PATH = '/apis/elbv2.k8s.aws/v1beta1/namespaces/shop/targetgroupbindings?limit=500';
const AUTO_MODE_BINDINGS_PATH = '/apis/eks.amazonaws.com/v1/namespaces/shop/targetgroupbindings?limit=500';

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail');
  return outcome;
}

describe("the ALB router's lookups through the Kubernetes client, against the simulated API server", () => {
  let sim: SimulatedKubernetesApi;
  let client: KubernetesClient;

  beforeAll(async () => {
    sim = await startKubernetesApiServer({
      clusterName: 'prod-eks',
      region: REGION,
      credentials: CREDENTIALS,
    });
    client = clientForSimulatedApi(sim, CREDENTIALS, { region: REGION });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  describe('getService', () => {
    it('reads the selector and the ports, by number and by name, with what the server defaults', async () => {
      sim.addService({
        namespace: 'shop',
        name: 'web-stable',
        selector: { app: 'web', track: 'stable' },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }, { port: 9090 }],
      });
      const service = await client.getService('shop', 'web-stable');
      expect(service.metadata).toMatchObject({ name: 'web-stable', namespace: 'shop' });
      expect(service.metadata.resourceVersion).toMatch(/^\d+$/);
      expect(service.spec).toEqual({
        type: 'ClusterIP',
        selector: { app: 'web', track: 'stable' },
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
          { protocol: 'TCP', port: 9090, targetPort: 9090 },
        ],
      });
      expect(sim.requests.map((request) => `${request.method} ${request.path} ${request.status}`)).toEqual([
        'GET /api/v1/namespaces/shop/services/web-stable 200',
      ]);
    });

    it('a missing Service is KubernetesNotFound, named as the core group names it', async () => {
      const error = await failureOf(client.getService('shop', 'web-canary'));
      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toBe(
        'GET /api/v1/namespaces/shop/services/web-canary: 404 services "web-canary" not found',
      );
    });

    it('a read the access policy does not allow is KubernetesForbidden naming AmazonEKSViewPolicy', async () => {
      sim.addService({ namespace: 'shop', name: 'web-stable' });
      sim.denyAccess({ resources: ['services'], namespace: 'shop' });
      const error = await failureOf(client.getService('shop', 'web-stable'));
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toBe(
        `GET /api/v1/namespaces/shop/services/web-stable: 403 services "web-stable" is forbidden: User "${USER}" ` +
          'cannot get resource "services" in API group "" in the namespace "shop". The role ' +
          `(${USER}) lacks an EKS access entry or access policy that allows get on services in namespace shop of ` +
          `the cluster at ${sim.endpoint}: its access entry needs AmazonEKSViewPolicy to read (AmazonEKSEditPolicy, ` +
          'which the undo needs, includes it), associated with a namespace scope that includes shop (aws eks ' +
          'list-associated-access-policies --cluster-name <cluster> --principal-arn <role ARN>).',
      );
    });

    it('a malformed answer is KubernetesInvalidResponse naming the field', async () => {
      sim.injectFault({
        pathIncludes: '/services/web-stable',
        body: {
          kind: 'Service',
          metadata: { name: 'web-stable', namespace: 'shop', uid: 'u', resourceVersion: '1' },
          spec: { ports: [{ name: 'http' }] },
        },
      });
      const error = await failureOf(client.getService('shop', 'web-stable'));
      expect(error).toBeInstanceOf(KubernetesInvalidResponse);
      expect(error.message).toMatch(
        /^GET .*services\/web-stable answer is malformed: .*spec\.ports\.0\.port/,
      );
    });
  });

  describe('listTargetGroupBindings', () => {
    it("lists the namespace's bindings with their target group and Service port, by number or name", async () => {
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'k8s-shop-webstabl-0a1b2c3d4e',
        targetGroupArn: TG_ARN('k8s-shop-webstabl-0a1b2c3d4e'),
        service: { name: 'web-stable', port: 80 },
        ingress: 'web',
      });
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'web-canary-by-hand',
        targetGroupArn: TG_ARN('web-canary'),
        service: { name: 'web-canary', port: 'http' },
        targetType: 'instance',
      });
      sim.addTargetGroupBinding({
        namespace: 'payments',
        name: 'k8s-payments-api-5e6f7a8b9c',
        targetGroupArn: TG_ARN('k8s-payments-api-5e6f7a8b9c'),
        service: { name: 'api', port: 80 },
      });
      const bindings = await client.listTargetGroupBindings('shop');
      expect(
        bindings.map(({ metadata, spec }) => [metadata.name, spec.targetGroupARN, spec.serviceRef]),
      ).toEqual([
        [
          'k8s-shop-webstabl-0a1b2c3d4e',
          TG_ARN('k8s-shop-webstabl-0a1b2c3d4e'),
          { name: 'web-stable', port: 80 },
        ],
        ['web-canary-by-hand', TG_ARN('web-canary'), { name: 'web-canary', port: 'http' }],
      ]);
      expect(bindings[0]?.metadata.labels).toEqual({
        'ingress.k8s.aws/stack-namespace': 'shop',
        'ingress.k8s.aws/stack-name': 'web',
      });
      expect(bindings[1]?.spec.targetType).toBe('instance');
      // Loose: fields the controller adds are kept, not refused.
      expect(bindings[0]?.spec).toMatchObject({ ipAddressType: 'ipv4' });
      // Auto Mode's group is asked too: the cluster does not serve it, which adds nothing.
      expect(sim.requests.map((request) => `${request.path} ${request.status}`)).toEqual([
        `${BINDINGS_PATH} 200`,
        `${AUTO_MODE_BINDINGS_PATH} 404`,
      ]);
    });

    it('follows continue tokens across pages of 500', async () => {
      for (let index = 0; index < 501; index += 1) {
        const name = `tgb-${String(index).padStart(3, '0')}`;
        sim.addTargetGroupBinding({
          namespace: 'shop',
          name,
          targetGroupArn: TG_ARN(name),
          service: { name: `svc-${index}`, port: 80 },
        });
      }
      const bindings = await client.listTargetGroupBindings('shop');
      expect(bindings).toHaveLength(501);
      expect(new Set(bindings.map((binding) => binding.spec.targetGroupARN)).size).toBe(501);
      const pages = sim.requests.map((request) => request.path);
      expect(pages).toHaveLength(3);
      expect(pages[1]).toMatch(/^\/apis\/elbv2\.k8s\.aws\/.*\/targetgroupbindings\?limit=500&continue=/);
    });

    it('an empty namespace is an empty list', async () => {
      expect(await client.listTargetGroupBindings('shop')).toEqual([]);
    });

    it('on EKS Auto Mode, lists its bindings, in its group, with the same pagination', async () => {
      sim.setLoadBalancerControllerInstalled(false);
      sim.setAutoModeLoadBalancing(true);
      for (let index = 0; index < 501; index += 1) {
        const name = `tgb-${String(index).padStart(3, '0')}`;
        sim.addTargetGroupBinding({
          namespace: 'shop',
          name,
          targetGroupArn: TG_ARN(name),
          service: { name: `svc-${index}`, port: index === 0 ? 'http' : 80 },
          ingress: 'web',
        });
      }
      const bindings = await client.listTargetGroupBindings('shop');
      expect(bindings).toHaveLength(501);
      expect(bindings[0]).toMatchObject({
        apiVersion: 'eks.amazonaws.com/v1',
        metadata: { name: 'tgb-000', namespace: 'shop' },
        spec: {
          targetGroupARN: TG_ARN('tgb-000'),
          targetType: 'ip',
          serviceRef: { name: 'svc-0', port: 'http' },
        },
      });
      const asked = sim.requests.map((request) => `${request.path} ${request.status}`);
      expect(asked).toHaveLength(3);
      expect(asked[0]).toBe(`${BINDINGS_PATH} 404`);
      expect(asked[1]).toBe(`${AUTO_MODE_BINDINGS_PATH} 200`);
      expect(asked[2]).toMatch(/^\/apis\/eks\.amazonaws\.com\/v1\/.*\?limit=500&continue=\S+ 200$/);
    });

    it("with both served (the controller installed on an Auto Mode cluster), lists both, the controller's first", async () => {
      sim.setAutoModeLoadBalancing(true);
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'auto-web-stable',
        targetGroupArn: TG_ARN('auto-web-stable'),
        service: { name: 'web-stable', port: 80 },
        apiGroup: 'eks.amazonaws.com',
      });
      // The same name in the other group is another object.
      sim.addTargetGroupBinding({
        namespace: 'shop',
        name: 'auto-web-stable',
        targetGroupArn: TG_ARN('lbc-api'),
        service: { name: 'api', port: 80 },
        apiGroup: 'elbv2.k8s.aws',
      });
      const bindings = await client.listTargetGroupBindings('shop');
      expect(bindings.map(({ metadata, spec }) => [metadata.name, spec.targetGroupARN])).toEqual([
        ['auto-web-stable', TG_ARN('lbc-api')],
        ['auto-web-stable', TG_ARN('auto-web-stable')],
      ]);
      expect(sim.requests.map((request) => request.status)).toEqual([200, 200]);
    });

    it('a cluster serving neither group is KubernetesNotFound naming both', async () => {
      sim.setLoadBalancerControllerInstalled(false);
      const error = await failureOf(client.listTargetGroupBindings('shop'));
      expect(error).toBeInstanceOf(KubernetesNotFound);
      expect(error.message).toBe(
        `GET ${BINDINGS_PATH}: 404; GET ${AUTO_MODE_BINDINGS_PATH}: 404: the cluster at ${sim.endpoint} serves ` +
          "TargetGroupBindings in neither API group: it does not serve the AWS Load Balancer Controller's " +
          "(targetgroupbindings.elbv2.k8s.aws, version v1beta1), nor EKS Auto Mode's " +
          '(targetgroupbindings.eks.amazonaws.com, version v1): the AWS Load Balancer Controller (or its CRDs) is ' +
          "not installed there, and EKS Auto Mode's load balancing is not enabled, so nothing makes target groups " +
          'for an ALB Ingress. Check with kubectl api-resources --api-group=elbv2.k8s.aws and kubectl ' +
          `api-resources --api-group=eks.amazonaws.com against the cluster at ${sim.endpoint}.`,
      );
    });

    it("a failure other than the group unserved is not skipped: the controller's group answering 503", async () => {
      sim.setAutoModeLoadBalancing(true);
      sim.injectFault({ pathIncludes: '/apis/elbv2.k8s.aws/', status: 503 });
      const error = await failureOf(client.listTargetGroupBindings('shop'));
      expect(error).toBeInstanceOf(KubernetesUnavailable);
      expect(sim.requests.map((request) => request.path)).toEqual([BINDINGS_PATH]);
    });

    it('a list RBAC does not allow is KubernetesForbidden saying no EKS access policy grants it', async () => {
      sim.denyAccess({ verbs: ['list'], resources: ['targetgroupbindings'] });
      const error = await failureOf(client.listTargetGroupBindings('shop'));
      expect(error).toBeInstanceOf(KubernetesForbidden);
      expect(error.message).toBe(
        `GET ${BINDINGS_PATH}: 403 targetgroupbindings.elbv2.k8s.aws is forbidden: User "${USER}" cannot list ` +
          'resource "targetgroupbindings" in API group "elbv2.k8s.aws" in the namespace "shop". The role ' +
          `(${USER}) lacks Kubernetes RBAC that allows list on targetgroupbindings.elbv2.k8s.aws in namespace ` +
          `shop of the cluster at ${sim.endpoint}: EKS access policies, AmazonEKSViewPolicy included, grant ` +
          "nothing in the API groups of TargetGroupBindings (the AWS Load Balancer Controller's and EKS Auto " +
          "Mode's). In that namespace, bind a Kubernetes group of the role's access entry (aws eks " +
          'describe-access-entry --cluster-name <cluster> --principal-arn <role ARN> shows its groups) to a ' +
          'Role with the rule {apiGroups: [elbv2.k8s.aws, eks.amazonaws.com], resources: [targetgroupbindings], ' +
          'verbs: [list]}, both groups, since the runbook reads both: apply the Role as a manifest (kubectl ' +
          'create role refuses a resource the cluster does not serve), then kubectl create rolebinding <name> ' +
          '-n shop --role=<name> --group=<group>.',
      );
    });

    it("a Role granting the controller's group only is KubernetesForbidden in Auto Mode's, served or not", async () => {
      sim.denyAccess({
        verbs: ['list'],
        resources: ['targetgroupbindings'],
        apiGroups: ['eks.amazonaws.com'],
      });
      for (const autoMode of [false, true]) {
        sim.setAutoModeLoadBalancing(autoMode);
        const error = await failureOf(client.listTargetGroupBindings('shop'));
        expect(error).toBeInstanceOf(KubernetesForbidden);
        // RBAC answers before the API server looks for the group.
        expect(error.message).toContain(
          `GET ${AUTO_MODE_BINDINGS_PATH}: 403 targetgroupbindings.eks.amazonaws.com is forbidden: User ` +
            `"${USER}" cannot list resource "targetgroupbindings" in API group "eks.amazonaws.com" in the ` +
            'namespace "shop". The role',
        );
        expect(error.message).toContain(
          'lacks Kubernetes RBAC that allows list on targetgroupbindings.eks.amazonaws.com in namespace shop',
        );
      }
    });

    it('a binding without a target group ARN is KubernetesInvalidResponse naming the field', async () => {
      sim.injectFault({
        pathIncludes: '/targetgroupbindings',
        body: {
          kind: 'TargetGroupBindingList',
          metadata: {},
          items: [
            { metadata: { name: 'x', namespace: 'shop' }, spec: { serviceRef: { name: 'web', port: 80 } } },
          ],
        },
      });
      const error = await failureOf(client.listTargetGroupBindings('shop'));
      expect(error).toBeInstanceOf(KubernetesInvalidResponse);
      expect(error.message).toMatch(/answer is malformed: .*items\.0\.spec\.targetGroupARN/);
    });
  });
});
