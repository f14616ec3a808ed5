// SIGHUP's default action ends the process. One that arrives while the server is still starting
// (logrotate, a reload right after a restart, the --workers primary passing one on to a worker it
// just forked) must not kill it. cli.ts imports this module first, so the signal is held from the
// first milliseconds on; once the process serves (sighupReady) a held one is delivered, and every
// later one goes straight to the subscribers (the reload, the --logfile reopen).

const subscribers = new Set<() => void>();
let ready = false;
let held = false;

function deliver(): void {
  for (const s of subscribers) s();
}

function onSignal(): void {
  if (ready) deliver();
  else held = true;
}

process.on('SIGHUP', onSignal);

/** Run `handler` at each SIGHUP once the process serves. */
export function onSighup(handler: () => void): void {
  subscribers.add(handler);
}

/** The process serves: deliver a SIGHUP held during the start, and every one from now on. */
export function sighupReady(): void {
  ready = true;
  if (!held) return;
  held = false;
  deliver();
}

/** Not a server (an admin command): SIGHUP ends the process again, as by default. */
export function releaseSighup(): void {
  process.off('SIGHUP', onSignal);
}
