// A TCP relay on 127.0.0.1 that forwards every connection to `targetPort`, each direction delayed
// by half the round trip (see DelayLine): a client that connects here sees a link of `rttMs`.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DelayLine } from './delay-line.js';

export interface DelayRelay {
  port: number;
  close(): Promise<void>;
}

export function startDelayRelay(targetPort: number, rttMs: number): Promise<DelayRelay> {
  const oneWay = rttMs / 2;
  const open = new Set<Socket>();
  // Half-open allowed: a FIN travels through the delay line like data, the other direction goes on.
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort, noDelay: true, allowHalfOpen: true });
    open.add(client).add(upstream);
    const lines = [new DelayLine(client, upstream, oneWay), new DelayLine(upstream, client, oneWay)];
    // A reset or close on one side is passed on at once (a broken link has no delay worth keeping).
    const teardown = (): void => {
      for (const l of lines) l.close();
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('delay relay: no port'));
      resolve({
        port: addr.port,
        close: () => new Promise<void>((done) => {
          for (const s of open) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}
