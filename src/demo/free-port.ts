// Ports for the demo: the one asked for if it is free, otherwise one the kernel picks.
import net from 'node:net';

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A currently free loopback port (there is a short race until the caller binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** `wanted` if free, else 0 (our server then takes any free port and reports it). */
export async function portOrAny(wanted: number): Promise<number> {
  return wanted !== 0 && await portIsFree(wanted) ? wanted : 0;
}
