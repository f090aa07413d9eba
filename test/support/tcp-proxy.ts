import net from "node:net";

/**
 * A TCP proxy in front of a real server (PostgreSQL, in the store fault
 * tests), whose connection a test can cut and restore: cut() closes the
 * listening socket and destroys every open connection, so clients see their
 * connections break and new ones refused, as when the database goes down.
 */
export interface TcpProxy {
  /** The port clients connect to; the same after restore(). */
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) to host:port. */
export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (p: number) => new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(p, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  await listen(0);
  const bound = (server.address() as net.AddressInfo).port;
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    port: bound,
    cut,
    restore: () => listen(bound),
    close: async () => {
      if (server.listening) await cut();
    },
  };
}

/**
 * A PostgreSQL URL that reaches the database through a new TcpProxy (its
 * host and port replaced by the proxy's), for a server the test can cut off
 * while the database stays up for everyone else.
 */
export async function proxiedDatabaseUrl(url: string): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(url);
  const proxy = await startTcpProxy(target.hostname, Number(target.port));
  const viaProxy = new URL(url);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  return { proxy, url: viaProxy.toString() };
}
