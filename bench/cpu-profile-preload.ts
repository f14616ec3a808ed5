// Preloaded into proxy processes (NODE_OPTIONS=--import=…) by `--proxy-cpu-prof DIR`: node 20
// refuses --cpu-prof in NODE_OPTIONS and the harness starts the proxy without node flags, so the
// V8 profiler is driven through the inspector instead. The profile is written when the process
// exits (the in-thread inspector session answers synchronously, so this works inside 'exit').
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env['BENCH_CPU_PROF_DIR'];
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `proxy-${process.pid}-${Date.now()}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
