// zod/mini, not zod: the Lambdas import these schemas, and full zod adds ~440 KB to every bundle
// (all its locales) against ~14 KB for mini (measured with esbuild, minified).
import * as z from 'zod/mini';
import '../../lambdas/shared/zod-messages';

// Field types several configuration sections use. Kubernetes object names (RFC 1123 labels / subdomains)
// are checked so a typo fails synth, not a 3 a.m. run.

export const dnsLabel = z
  .string()
  .check(
    z.regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a lowercase RFC 1123 label (a-z, 0-9, "-")'),
  );
export const dnsSubdomain = z
  .string()
  .check(
    z.maxLength(253),
    z.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 subdomain'),
  );
/** EKS cluster names: 1-100 characters, alphanumerics, hyphens and underscores, starting alphanumeric. */
export const clusterName = z
  .string()
  .check(
    z.regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, 'must be an EKS cluster name (letters, digits, "-", "_")'),
  );
/** CloudWatch alarm names: 1-255 characters. */
export const alarmName = z.string().check(z.minLength(1), z.maxLength(255));
export const boundedInt = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));
