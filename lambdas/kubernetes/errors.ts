import { RunbookError } from '../shared/errors';

// Errors the workflow routes on by name. Messages name the request and the server's answer, never the token.

/** 404: the object (or its namespace) does not exist, or the cluster does not serve its type (no cert-manager). */
export class KubernetesNotFound extends RunbookError {
  override name = 'KubernetesNotFound';
}

/** 409, or a 422 from a failed JSON Patch `test` op: the object changed since it was read. */
export class KubernetesConflict extends RunbookError {
  override name = 'KubernetesConflict';
}

/** 401, and again with a newly signed token when the client can renew one: the cluster does not know the role. */
export class KubernetesUnauthorized extends RunbookError {
  override name = 'KubernetesUnauthorized';
}

/** 403: the role is authenticated but its access policy does not allow this verb on this resource there. */
export class KubernetesForbidden extends RunbookError {
  override name = 'KubernetesForbidden';
}

/**
 * The API server's certificate does not verify against the CA DescribeCluster returned (another CA, or another
 * host): a proxy in the way or a wrong endpoint. The handshake failed, so nothing was sent.
 */
export class KubernetesTlsMismatch extends RunbookError {
  override name = 'KubernetesTlsMismatch';
}

/** The region is in a partition whose STS endpoint the EKS token is not built for. */
export class UnsupportedPartition extends RunbookError {
  override name = 'UnsupportedPartition';
}

/** 5xx, or the connection was refused or reset: worth retrying later. */
export class KubernetesUnavailable extends RunbookError {
  override name = 'KubernetesUnavailable';
}

/** No complete answer within the client timeout; a write may still have been applied. */
export class KubernetesTimeout extends RunbookError {
  override name = 'KubernetesTimeout';
}

/** Any other status; `status` lets a caller tell e.g. 422 Invalid from 429 apart. */
export class KubernetesApiError extends RunbookError {
  override name = 'KubernetesApiError';
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A 2xx answer whose body is not the object we asked for. */
export class KubernetesInvalidResponse extends RunbookError {
  override name = 'KubernetesInvalidResponse';
}
