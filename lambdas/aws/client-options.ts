/** The options {@link awsClientOptions} gives; each AWS SDK v3 client's configuration accepts them as they are. */
export interface AwsClientOptions {
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
  maxAttempts: number;
}

/**
 * What every AWS SDK v3 client in a Lambda is constructed with: `new EKSClient(awsClientOptions())`. Without
 * timeouts, a request to an endpoint that takes the connection and never answers waits out the Lambda's own
 * timeout (30 s), which the state machine sees as a Lambda failure instead of the SDK's error. With these, a call
 * gives up after 3 attempts of at most 5 s each plus the SDK's backoff, well inside it.
 */
export function awsClientOptions({
  connectionTimeoutMs = 2_000,
  requestTimeoutMs = 5_000,
}: { connectionTimeoutMs?: number; requestTimeoutMs?: number } = {}): AwsClientOptions {
  return {
    // The plain-object form: the client builds its NodeHttpHandler from it, so no @smithy import is needed.
    requestHandler: {
      connectionTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // @smithy/node-http-handler 4.x only logs a warning when requestTimeout passes, unless this is set.
      throwOnRequestTimeout: true,
    },
    maxAttempts: 3,
  };
}
