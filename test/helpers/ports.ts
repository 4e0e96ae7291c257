import { createServer } from 'node:net';

const LOOPBACK = '127.0.0.1';
const CLUSTER_BUS_OFFSET = 10000;
const MAX_TCP_PORT = 65535;
const MAX_ATTEMPTS = 50;

// The OS may hand the same ephemeral port to two freePort() calls once the
// first probe socket is closed, so every port given out (and its bus port)
// stays reserved for the life of this process.
const reserved = new Set<number>();

export interface FreePortOptions {
  /** Also require port+10000 (the Redis Cluster bus port) to be free. */
  clusterBus?: boolean;
}

/** A loopback TCP port nobody listens on right now and this process never handed out before. */
export async function freePort(opts: FreePortOptions = {}): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const port = await probeEphemeralPort();
    if (reserved.has(port)) continue;
    if (opts.clusterBus) {
      const bus = port + CLUSTER_BUS_OFFSET;
      if (bus > MAX_TCP_PORT || reserved.has(bus) || !(await isPortFree(bus)))
        continue;
      reserved.add(bus);
    }
    reserved.add(port);
    return port;
  }
  throw new Error(`freePort: no usable port after ${MAX_ATTEMPTS} attempts`);
}

/** True when 127.0.0.1:port can be bound right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

function probeEphemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: listener has no TCP address'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
