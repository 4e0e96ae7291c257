import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

const LOOPBACK = '127.0.0.1';

export type ProxyMode = 'forward' | 'cut' | 'blackhole';

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** redis://127.0.0.1:<proxy port> */
  readonly url: string;
  readonly mode: ProxyMode;
  /** Connections currently open through the proxy (client side). */
  readonly connectionCount: number;
  /** Network partition: RST every open connection and every new one until restore(). */
  cut(): void;
  /** Dropped link: connections stay open (and new ones are accepted) but no byte passes either way. */
  blackhole(): void;
  /** Forward again; connections held by blackhole() are RST so clients reconnect through a healthy link. */
  restore(): void;
  /** Forward again WITHOUT resetting: held connections stay open and carry bytes from now on (what they swallowed is lost). */
  unhold(): void;
  /** The port connections are forwarded to. */
  readonly targetPort: number;
  /**
   * Forward new connections to another port and RST the open ones (they were to the old server):
   * DNS or a Service moved to a new master, as after a failover.
   */
  retarget(port: number): void;
  /** Stop listening and RST everything. Idempotent. */
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket | undefined;
  blackholed: boolean;
}

/** A loopback TCP proxy to 127.0.0.1:targetPort whose link can be cut or blackholed on demand. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const proxy = new Proxy(targetPort);
  await proxy.listen();
  return proxy;
}

class Proxy implements TcpProxy {
  readonly host = LOOPBACK;
  private listenPort = 0;
  private currentMode: ProxyMode = 'forward';
  private readonly links = new Set<Link>();
  private readonly server: Server;
  private closing: Promise<void> | undefined;

  constructor(private target: number) {
    this.server = createServer((socket) => this.accept(socket));
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `redis://${this.host}:${this.listenPort}`;
  }

  get targetPort(): number {
    return this.target;
  }

  get mode(): ProxyMode {
    return this.currentMode;
  }

  get connectionCount(): number {
    return this.links.size;
  }

  async listen(): Promise<void> {
    // Another process may take the probed port before we bind it, so retry with a fresh one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        await new Promise<void>((resolve, reject) => {
          this.server.once('error', reject);
          this.server.listen({ host: LOOPBACK, port, exclusive: true }, () => {
            this.server.off('error', reject);
            resolve();
          });
        });
        this.listenPort = port;
        this.server.unref();
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
  }

  cut(): void {
    this.currentMode = 'cut';
    for (const link of this.links) this.drop(link);
  }

  blackhole(): void {
    this.currentMode = 'blackhole';
    for (const link of this.links) this.hold(link);
  }

  restore(): void {
    this.currentMode = 'forward';
    for (const link of this.links) if (link.blackholed) this.drop(link);
  }

  unhold(): void {
    this.currentMode = 'forward';
    for (const link of this.links) {
      // One accepted while held never reached Redis: nothing to resume.
      if (!link.upstream) this.drop(link);
      else link.blackholed = false;
    }
  }

  retarget(port: number): void {
    this.target = port;
    for (const link of this.links) this.drop(link);
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      this.currentMode = 'cut';
      for (const link of this.links) this.drop(link);
      this.server.close(() => resolve());
    });
    return this.closing;
  }

  private accept(client: Socket): void {
    const link: Link = { client, upstream: undefined, blackholed: false };
    this.links.add(link);
    client.on('error', () => this.drop(link));
    client.on('close', () => this.drop(link));
    if (this.currentMode === 'cut') return this.drop(link);
    if (this.currentMode === 'blackhole') return this.hold(link);

    const upstream = connect({ host: LOOPBACK, port: this.target });
    link.upstream = upstream;
    upstream.on('error', () => this.drop(link));
    upstream.on('close', () => this.drop(link));
    this.forward(link, client, upstream);
    this.forward(link, upstream, client);
  }

  /** Manual piping (not .pipe()) so a blackholed link can swallow bytes instead of passing them. */
  private forward(link: Link, from: Socket, to: Socket): void {
    from.on('data', (chunk) => {
      if (link.blackholed || to.destroyed) return;
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
  }

  private hold(link: Link): void {
    link.blackholed = true;
    // Keep reading so swallowed bytes never apply backpressure that could look like a signal.
    link.client.resume();
    link.upstream?.resume();
  }

  private drop(link: Link): void {
    if (!this.links.delete(link)) return;
    resetSocket(link.client);
    if (link.upstream) resetSocket(link.upstream);
  }
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    // resetAndDestroy throws when the socket is not connected yet.
    socket.destroy();
  }
}
