import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests never reach AWS: dummy credentials, and endpoints on a closed loopback port.
    env: {
      AWS_ACCESS_KEY_ID: 'AKIDTESTTESTTESTTEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
      AWS_SESSION_TOKEN: 'test-session-token',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      POWERTOOLS_DEV: 'false',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'infrastructure',
          include: ['test/infrastructure/**/*.test.ts'],
          // These files only read synthesized templates: sharing a worker's module graph lets them share
          // aws-cdk-lib's import and the example configuration's synthesis (test/infrastructure/synth.ts).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'runbooks',
          include: ['test/**/*.test.ts'],
          exclude: ['test/infrastructure/**'],
        },
      },
    ],
  },
});
