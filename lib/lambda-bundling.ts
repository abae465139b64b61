/**
 * The esbuild settings every Lambda is bundled with; RunbookFunction and `npm run bench` both read them,
 * so the sizes the bench prints are the sizes that deploy.
 */
export const lambdaBundling = {
  target: 'node22',
  minify: true,
  sourceMap: true,
  /** ESM output still meets CommonJS inside some dependencies; this gives them `require`. */
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  /**
   * Nothing is left to the runtime's copy of the AWS SDK: the bundle carries the exact SDK version the tests
   * ran against, and esbuild keeps only the commands used.
   */
  externalModules: [] as readonly string[],
} as const;
