// Everything decided about a TCP connection before the SSH server sees a byte of it, in order:
// 1. who the client is: a connection from a --proxy-protocol-from balancer must start with a PROXY
//    header naming the real client (within a few seconds); from anywhere else it is direct;
// 2. whether that address is banned by the brute-force defender;
// 3. the limits: --max-startups (this process), --max-connections-per-ip and --max-connections
//    (the whole server: shared state across workers and instances).
// A refusal closes the socket at once; refusals are logged throttled (a flood is one line per
// interval) and counted by reason.
import type net from 'node:net';
import type { Logger } from 'pino';
import { ThrottledLog } from '../log/throttled-log.js';
import { AddressList, normalizeIp } from '../net/address-list.js';
import { readProxyHeader, type PeerAddress } from '../net/proxy-header.js';
import type { Defender } from '../ops/defender.js';
import type { AcceptRefusal, Metrics } from '../ops/metrics.js';
import type { CounterStore, Lease } from '../ops/shared-state.js';
import { Admission, type Ticket } from './admission.js';

export interface GateLimits {
  maxStartups: number;
  maxConnectionsPerIp: number;
  maxConnections: number;
  proxyProtocolFrom: AddressList;
}

/** The client as every later step sees it: logs, limits, the defender, audit. */
export interface ClientAddress {
  ip: string;
  port: number;
  /** `ip:port` of the balancer the connection came through, when it came through one. */
  via?: string;
}

export function formatRemote(c: ClientAddress): string {
  return c.ip.includes(':') ? `[${c.ip}]:${c.port}` : `${c.ip}:${c.port}`;
}

/** A connection let in: its client, and what it holds until it closes. */
export interface Admitted {
  client: ClientAddress;
  ticket: Ticket;
  release(): void;
}

/** PROXY headers come from our own balancers at once; a few seconds is generous. */
const PROXY_HEADER_TIMEOUT_MS = 5000;

export class AcceptGate {
  private readonly admission: Admission;
  private readonly throttled: ThrottledLog;
  private draining = false;

  constructor(private limits: GateLimits, private readonly counters: CounterStore, private readonly defender: Defender | undefined,
      private readonly metrics: Metrics, log: Logger) {
    this.admission = new Admission(limits);
    this.throttled = new ThrottledLog(log);
  }

  setLimits(limits: GateLimits): void {
    this.limits = limits;
    this.admission.setLimits(limits);
  }

  /** From now on every connection is refused (the server is draining). */
  drain(): void {
    this.draining = true;
  }

  get startups(): number {
    return this.admission.startupCount;
  }

  /** Resolves with the admitted connection, or undefined when it was refused (and closed). */
  async admit(socket: net.Socket): Promise<Admitted | undefined> {
    const peer: PeerAddress = { ip: normalizeIp(socket.remoteAddress ?? 'unknown'), port: socket.remotePort ?? 0 };
    const refuse = (reason: AcceptRefusal, fields: object, msg: string, key = `${reason}:${peer.ip}`): undefined => {
      this.metrics.refusedAtAccept(reason);
      this.throttled.info(key, fields, msg);
      socket.destroy();
      return undefined;
    };
    if (this.draining) return refuse('draining', { remote: `${peer.ip}:${peer.port}` }, 'connection refused: the server is draining', 'draining');

    let client: ClientAddress = peer;
    if (this.limits.proxyProtocolFrom.has(peer.ip)) {
      const header = await readProxyHeader(socket, PROXY_HEADER_TIMEOUT_MS);
      const via = `${peer.ip}:${peer.port}`;
      if (header.kind === 'error') {
        // Throttled per kind of fault: a balancer sending garbage is one line per interval, but a
        // timeout does not hide a malformed header from the operator.
        return refuse('proxy-header', { via, problem: header.problem }, 'connection closed: bad or missing PROXY header from a --proxy-protocol-from address',
          `proxy-header:${peer.ip}:${header.fault}`);
      }
      if (header.kind === 'proxied') client = { ...header.client, via };
      else client = { ...peer, via };
    }
    if (socket.destroyed) return undefined;

    const ban = await this.defender?.banFor(client.ip);
    if (ban) {
      this.metrics.refusedAtAccept('banned');
      socket.destroy(); // the ban itself was logged once, when it began
      return undefined;
    }

    const startup = this.admission.admit(client.ip, () => socket.destroy());
    if (!startup.ok) {
      return refuse(startup.reason, { remote: formatRemote(client), limit: startup.limit, reason: startup.reason },
        `connection refused: ${startup.reason} reached`, `${startup.reason}:${client.ip}`);
    }
    if (startup.evicted) {
      this.metrics.closedBy('evicted');
      this.throttled.info(`evicted:${startup.evicted.ip}`, { ip: startup.evicted.ip, limit: this.limits.maxStartups, reason: 'max-startups' },
        'connection closed before login to make room: its address holds the most unauthenticated connections');
      startup.evicted.close();
    }
    const leases: Lease[] = [];
    const releaseAll = (): void => {
      startup.ticket.release();
      for (const l of leases.splice(0)) l.release();
    };
    for (const [key, limit, reason] of [[`ip:${client.ip}`, this.limits.maxConnectionsPerIp, 'max-connections-per-ip'],
      ['all', this.limits.maxConnections, 'max-connections']] as const) {
      const lease = await this.counters.acquire(key, limit);
      if (!lease) {
        releaseAll();
        return refuse(reason, { remote: formatRemote(client), limit, reason }, `connection refused: ${reason} reached`, `${reason}:${client.ip}`);
      }
      leases.push(lease);
    }
    if (socket.destroyed) { // closed (or evicted) while the shared counters answered
      releaseAll();
      return undefined;
    }
    return { client, ticket: startup.ticket, release: releaseAll };
  }

  close(): void {
    this.throttled.close();
  }
}
