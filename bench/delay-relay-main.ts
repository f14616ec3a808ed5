// Child process running the latency case's delay relays, so their event loop and CPU are their
// own (not the bench's, which hashes files between transfers):
//   node dist/bench/delay-relay-main.js RTT_MS TARGET_PORT [TARGET_PORT...]
// prints one line `{"ports":[...]}` (listening ports, in the order of the targets) and runs until
// stdin closes or SIGTERM.
import { startDelayRelay } from './delay-relay.js';

const [rttArg, ...targets] = process.argv.slice(2);
const rtt = Number(rttArg);
if (!Number.isFinite(rtt) || rtt < 0 || targets.length === 0 || targets.some((t) => !/^\d+$/.test(t))) {
  process.stderr.write('usage: delay-relay-main.js RTT_MS TARGET_PORT [TARGET_PORT...]\n');
  process.exit(2);
}
const relays = await Promise.all(targets.map((t) => startDelayRelay(Number(t), rtt)));
process.stdout.write(`${JSON.stringify({ ports: relays.map((r) => r.port) })}\n`);
const stop = (): void => {
  void Promise.all(relays.map((r) => r.close())).then(() => process.exit(0));
};
process.stdin.on('end', stop).on('error', stop).resume();
process.on('SIGTERM', stop);
