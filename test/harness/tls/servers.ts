import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureVersion } from 'node:tls';
import type { KeyAndCertificate } from './certificates';

// Peers for the TLS probe tests, all on 127.0.0.1: real TLS servers, and the ways an endpoint fails to be
// one (hangs, resets, refuses).

export interface TestServer {
  port: number;
  /** Connections open right now, and the most ever open at once, as the server counts them. */
  readonly open: number;
  readonly maxOpen: number;
  close(): Promise<void>;
}

export interface TlsServerOptions {
  /** The certificate and key, and the chain sent after the certificate (intermediates, PEM). */
  identity: KeyAndCertificate & { chain?: string[] };
  /**
   * Present `identity` only to a client sending this SNI name; fail the handshake for any other name or
   * none, as a server hosting several names without a default does.
   */
  requireSni?: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
}

/** Counts open connections on the server side, and destroys them on close so close never waits. */
function track(server: Server, port: number): TestServer {
  const sockets = new Set<Socket>();
  let maxOpen = 0;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    // A probe's FIN and the next probe's SYN reach the server in the same poll round, in either order:
    // counting after the round, and a connection as gone at its FIN, sees what the client had open.
    setImmediate(() => (maxOpen = Math.max(maxOpen, sockets.size)));
    const gone = () => sockets.delete(socket);
    socket.once('end', gone);
    socket.once('close', gone);
    // A probe that gives up destroys its socket; the peer then sees a reset, which is not a test failure.
    socket.on('error', () => undefined);
  });
  return {
    port,
    get open() {
      return sockets.size;
    },
    get maxOpen() {
      return maxOpen;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function listen(server: Server): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return track(server, (server.address() as AddressInfo).port);
}

export function startTlsServer(options: TlsServerOptions): Promise<TestServer> {
  const { identity } = options;
  const secure = {
    key: identity.key,
    cert: [identity.cert, ...(identity.chain ?? [])].join('\n'),
    // Security level 0 lets OpenSSL load the weak test certificates (SHA-1, small keys) and speak TLS 1.0.
    ciphers: 'DEFAULT@SECLEVEL=0',
    ...(options.minVersion && { minVersion: options.minVersion }),
    ...(options.maxVersion && { maxVersion: options.maxVersion }),
  };
  const sniContext = options.requireSni ? createSecureContext(secure) : undefined;
  // A context without a certificate fails the handshake with an alert, as a server hosting several names
  // and no default one does; also what a client sending no SNI gets.
  const noCertificate = createSecureContext({ ciphers: secure.ciphers });
  const server = createTlsServer(
    sniContext
      ? {
          ciphers: secure.ciphers,
          SNICallback: (name, callback) =>
            callback(null, name === options.requireSni ? sniContext : noCertificate),
        }
      : secure,
  );
  // A failed handshake is what some tests ask for.
  server.on('tlsClientError', () => undefined);
  return listen(server);
}

/** Accepts TCP and never says a word: the probe must time out. */
export function startHangingServer(): Promise<TestServer> {
  // Reading (and dropping) what arrives is what lets the server see the probe close its end.
  return listen(createNetServer((socket) => socket.resume()));
}

/** Accepts TCP and destroys the connection on the first bytes (the ClientHello). */
export function startResettingServer(): Promise<TestServer> {
  return listen(createNetServer((socket) => socket.once('data', () => socket.resetAndDestroy())));
}

/** A loopback port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = await listen(createNetServer());
  await server.close();
  return server.port;
}
