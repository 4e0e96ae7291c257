import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsMaterial {
  dir: string;
  caCertPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  /** PEM contents, ready for ioredis `tls: { ca, cert, key }`. */
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

// EC keys are generated in milliseconds; RSA-2048 would cost ~100 ms per key on a busy 2-core box.
const KEY_ARGS = [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
];
const VALID_DAYS = '2';

/**
 * Writes a throwaway CA, a server cert valid for 127.0.0.1/localhost and a client cert
 * (both signed by the CA) into `dir`. The keys never leave the test machine.
 */
export function makeTlsMaterial(dir: string): TlsMaterial {
  mkdirSync(dir, { recursive: true });
  const path = (name: string) => join(dir, name);

  openssl([
    'req',
    '-x509',
    ...KEY_ARGS,
    '-days',
    VALID_DAYS,
    '-subj',
    '/CN=test-helpers-ca',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.crt'),
  ]);
  signedCert(dir, 'server', '127.0.0.1', [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'extendedKeyUsage=serverAuth',
  ]);
  signedCert(dir, 'client', 'test-helpers-client', [
    'extendedKeyUsage=clientAuth',
  ]);

  const read = (name: string) => readFileSync(path(name), 'utf8');
  return {
    dir,
    caCertPath: path('ca.crt'),
    serverCertPath: path('server.crt'),
    serverKeyPath: path('server.key'),
    clientCertPath: path('client.crt'),
    clientKeyPath: path('client.key'),
    ca: read('ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
  };
}

function signedCert(
  dir: string,
  name: string,
  commonName: string,
  extensions: string[],
): void {
  const path = (file: string) => join(dir, file);
  openssl([
    'req',
    ...KEY_ARGS,
    '-subj',
    `/CN=${commonName}`,
    '-keyout',
    path(`${name}.key`),
    '-out',
    path(`${name}.csr`),
  ]);
  writeFileSync(path(`${name}.ext`), `${extensions.join('\n')}\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    path(`${name}.csr`),
    '-CA',
    path('ca.crt'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    VALID_DAYS,
    '-extfile',
    path(`${name}.ext`),
    '-out',
    path(`${name}.crt`),
  ]);
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 15_000,
    });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(
      `openssl ${args[0]} failed: ${stderr.trim() || String(error)}`,
    );
  }
}
