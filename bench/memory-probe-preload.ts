// Preloaded into the idle case's proxy (NODE_OPTIONS=--import=…): on SIGUSR2 it runs a full
// garbage collection (through the inspector, since --expose-gc is not allowed in NODE_OPTIONS on
// node 20) and writes process.memoryUsage() to $BENCH_MEMORY_PROBE as JSON (atomically). The heap
// still in use after a full GC is what sessions really keep; RSS alone also counts free heap.
import { Session } from 'node:inspector';
import { renameSync, writeFileSync } from 'node:fs';

const out = process.env['BENCH_MEMORY_PROBE'];
if (out) {
  const session = new Session();
  session.connect();
  let seq = 0;
  // Never call session.post from inside another post's callback: that deadlocks the thread.
  const gc = (): Promise<void> => new Promise((resolve) => session.post('HeapProfiler.collectGarbage', () => setImmediate(resolve)));
  process.on('SIGUSR2', () => {
    // twice: the first pass can leave objects that only die once their finalizers ran
    void gc().then(gc).then(() => {
      seq++;
      writeFileSync(`${out}.tmp`, JSON.stringify({ seq, ...process.memoryUsage() }));
      renameSync(`${out}.tmp`, out);
    });
  });
}
