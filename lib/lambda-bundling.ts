/**
 * The esbuild settings every Lambda is bundled with (RunbookFunction). `npm run bench` measures the assets
 * `cdk synth` wrote with them, never a bundle of its own.
 */
export const lambdaBundling = {
  target: 'node22',
  minify: true,
  /** Source maps for `--enable-source-maps`: a stack trace names the TypeScript file and line. */
  sourceMap: true,
  /**
   * Mappings only, no copy of every source file in the map: a stack trace needs file, line and column, and
   * with `--enable-source-maps` Node reads the whole map when it loads the bundle, on every cold start.
   */
  sourcesContent: false,
  /** ESM output still meets CommonJS inside some dependencies; this gives them `require`. */
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  /**
   * Nothing is left to the runtime's copy of the AWS SDK: the bundle carries the exact SDK version the tests
   * ran against, and esbuild keeps only the commands used.
   */
  externalModules: [] as readonly string[],
  /**
   * Without it esbuild on platform node resolves `main` first, i.e. the AWS SDK's CommonJS builds, which
   * tree-shake badly: rollback-prepare deployed 779,239 bytes that way, 487,723 with the ESM builds.
   */
  mainFields: ['module', 'main'] as readonly string[],
} as const;

/**
 * The same settings as esbuild `build` options, for the scripts and tests that bundle alternatives or probes
 * the way RunbookFunction bundles handlers (NodejsFunction adds `bundle`, `platform: node` and `format: esm`).
 */
export function esbuildOptions() {
  return {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: lambdaBundling.target,
    minify: lambdaBundling.minify,
    banner: { js: lambdaBundling.banner },
    external: [...lambdaBundling.externalModules],
    mainFields: [...lambdaBundling.mainFields],
    logLevel: 'silent' as const,
  };
}
