import { createServer, type Server } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { createCa, createLeaf, daysFromNow, type KeyAndCertificate } from '../tls/certificates';

// The live endpoints of the certificate rehearsal: real TLS servers on 127.0.0.1, started once per process
// when this module is first imported (so the rehearsal's configuration can name their ports), unref'd so they
// never keep a finished process alive. Each serves one name with a certificate from the rehearsal's own CA,
// which the configuration trusts as a private CA.

export interface RehearsalEndpoint {
  /** What it demonstrates, and the SNI name the configuration sends. */
  kind: 'valid' | 'expiring' | 'wrong-host' | 'refused';
  servername: string;
  port: number;
}

export interface RehearsalEndpoints {
  ca: KeyAndCertificate;
  endpoints: RehearsalEndpoint[];
}

async function listen(identity: KeyAndCertificate): Promise<number> {
  const server: Server = createServer({ key: identity.key, cert: identity.cert });
  // A probe that gives up destroys its socket; the reset is not a failure of the server.
  server.on('connection', (socket: Socket) => socket.on('error', () => undefined));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function start(): Promise<RehearsalEndpoints> {
  const ca = await createCa('Rehearsal Private CA');
  const valid = await createLeaf(['shop.rehearsal.test'], { issuer: ca, notAfter: daysFromNow(200) });
  const expiring = await createLeaf(['pay.rehearsal.test'], { issuer: ca, notAfter: daysFromNow(5) });
  const other = await createLeaf(['other.rehearsal.test'], { issuer: ca, notAfter: daysFromNow(200) });
  return {
    ca,
    endpoints: [
      { kind: 'valid', servername: 'shop.rehearsal.test', port: await listen(valid) },
      { kind: 'expiring', servername: 'pay.rehearsal.test', port: await listen(expiring) },
      { kind: 'wrong-host', servername: 'api.rehearsal.test', port: await listen(other) },
      { kind: 'refused', servername: 'gone.rehearsal.test', port: await closedPort() },
    ],
  };
}

export const rehearsalEndpoints: RehearsalEndpoints = await start();
