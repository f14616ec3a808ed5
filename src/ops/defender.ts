// The brute-force defender, scored as SFTPGo does: on a connection that never logs in, each
// attempt for an unknown user or key scores 2, a refused key or bad signature 1, and the
// connection itself 1. (Attempts on a connection that then logs in score nothing: an agent
// offering its other keys first is no attack.) An address whose score within --defender-window
// reaches --defender-threshold is banned for --defender-ban-time: its connections are closed at
// accept, before any SSH work, with one log line per ban.
//
// Scores are counted by rate-limiter-flexible (its Redis, cluster-IPC and memory limiters do the
// windowed, atomic counting for each of our three kinds of shared state); bans are our own
// records (shared-state.ts), so they can be listed and lifted (`pysftpproxy bans`). IPv6 clients
// are scored and banned by their /64: one host controls a whole /64.
import type { Logger } from 'pino';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { AddressList } from '../net/address-list.js';
import { banKey } from './ban-key.js';
import type { Metrics } from './metrics.js';
import type { BanRecord, BanStore } from './shared-state.js';

export interface DefenderSettings {
  enabled: boolean;
  windowSeconds: number;
  threshold: number;
  banSeconds: number;
  allow: AddressList;
}

/** Builds the score counter for some settings (the kind of limiter depends on the shared state in use). */
export type ScoreLimiterFactory = (keyPrefix: string, points: number, durationSeconds: number) => RateLimiterAbstract;

/** What a connection that never logged in did, for its score. */
export interface FailedConnection {
  unknown: number;
  refused: number;
}

export class Defender {
  private limiter: RateLimiterAbstract | undefined;
  private scoringDown = false;

  constructor(private settings: DefenderSettings, private readonly makeLimiter: ScoreLimiterFactory,
      readonly bans: BanStore, private readonly log: Logger, private readonly metrics: Metrics) {
    this.limiter = this.build(settings);
  }

  setSettings(s: DefenderSettings): void {
    const rebuild = s.threshold !== this.settings.threshold || s.windowSeconds !== this.settings.windowSeconds || s.enabled !== this.settings.enabled;
    this.settings = s;
    if (rebuild) this.limiter = this.build(s);
  }

  private build(s: DefenderSettings): RateLimiterAbstract | undefined {
    // The settings are in the prefix: the cluster limiter is created once per prefix in the primary.
    return s.enabled ? this.makeLimiter(`pysftpproxy:defender:${s.threshold}:${s.windowSeconds}`, s.threshold - 1, s.windowSeconds) : undefined;
  }

  /** The key an address is scored and banned under (see ban-key.ts). */
  static keyOf(ip: string): string {
    return banKey(ip);
  }

  private exempt(ip: string): boolean {
    return !this.settings.enabled || this.settings.allow.has(ip);
  }

  /** The ban that closes this address's connections at accept, if any. */
  async banFor(ip: string): Promise<BanRecord | undefined> {
    if (this.exempt(ip)) return undefined;
    return this.bans.banned(Defender.keyOf(ip));
  }

  /** Score a connection from `ip` that closed without logging in. Never throws. */
  async failed(ip: string, what: FailedConnection): Promise<void> {
    const limiter = this.limiter;
    if (!limiter || this.exempt(ip)) return;
    const key = Defender.keyOf(ip);
    const points = 1 + 2 * what.unknown + what.refused;
    let score: number;
    try {
      const res = await limiter.consume(key, points);
      score = res.consumedPoints;
      this.scoringDown = false;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) {
        if (!this.scoringDown) this.log.warn({ err: (err as Error).message }, 'brute-force defender: scores cannot be counted (store unavailable)');
        this.scoringDown = true;
        return;
      }
      score = err.consumedPoints;
    }
    if (score < this.settings.threshold) return;
    const now = Date.now();
    const record: BanRecord = { ip: key, since: now, until: now + this.settings.banSeconds * 1000, score };
    try {
      if (await this.bans.ban(record)) {
        this.metrics.banned();
        this.log.warn({ ip: key, score, threshold: this.settings.threshold, windowSeconds: this.settings.windowSeconds,
          banSeconds: this.settings.banSeconds }, 'address banned: too many failed logins');
      }
      await limiter.delete(key); // the ban starts a new count
    } catch (err) {
      this.log.warn({ ip: key, err: (err as Error).message }, 'brute-force defender: cannot record a ban');
    }
  }
}
