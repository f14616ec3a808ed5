// Starts bench/delay-relay-main.js as a child process: one delay relay per target port, all with
// the same round trip. Its own process, so the relays' CPU can be read and their timers are not
// held up by the bench's own work.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, trackChild } from '../test/harness/index.js';
import { procCpuTicks } from './stack.js';

const MAIN = fileURLToPath(new URL('./delay-relay-main.js', import.meta.url));

export interface DelayRelays {
  rttMs: number;
  /** Listening port of the relay for each target, in order. */
  ports: number[];
  pid: number;
  /** CPU clock ticks the relay process has used so far. */
  cpuTicks(): number;
  stop(): Promise<void>;
}

export async function startDelayRelays(rttMs: number, targetPorts: number[]): Promise<DelayRelays> {
  const child = spawn(process.execPath, [MAIN, String(rttMs), ...targetPorts.map(String)], { stdio: ['pipe', 'pipe', 'pipe'] });
  trackChild(child, `delay-relay:${rttMs}ms`);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const ports = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`delay relay did not start in 10 s: ${err}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        try {
          resolve((JSON.parse(line) as { ports: number[] }).ports);
        } catch {
          reject(new Error(`delay relay said: ${line}`));
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`delay relay exited (${code}): ${err}`));
    });
  });
  return {
    rttMs,
    ports,
    pid: child.pid!,
    cpuTicks: () => procCpuTicks(child.pid!).self,
    stop: async () => {
      child.stdin!.end();
      await stopChild(child, { graceMs: 3000 });
    },
  };
}
