import type { Session } from './session.ts';
import { everySecond, type TickMember } from './ticker.ts';
import type { DisconnectOptions } from './upstream.ts';

export type CloseMode = 'graceful' | 'abrupt';

/**
 * What bounds and ends a session: the CONNECT timer, the client's keepalive, and the close (links
 * closed so that the will fires or not, the registry record written, the client id released).
 */
export class Lifetime implements TickMember {
  private connectTimer: NodeJS.Timeout | undefined;
  /** The client's keepalive (0: none); checked on the process's 1-second clock (ticker.ts). */
  private keepaliveSeconds = 0;

  constructor(private readonly s: Session) {}

  armConnectTimer(): void {
    this.connectTimer = setTimeout(
      () => this.s.close('abrupt', 'no CONNECT in time'),
      this.s.deps.limits.connectTimeoutMs,
    );
    this.connectTimer.unref();
  }

  stopConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined; // a cleared Timeout kept referenced still costs its bytes
  }

  /** From the CONNACK on, every session ticks: its kept frames move; with a keepalive, it is checked. */
  startKeepalive(keepaliveSeconds: number): void {
    this.keepaliveSeconds = keepaliveSeconds;
    everySecond.add(this);
  }

  /**
   * Each second: kept frames leave old slabs (kept-frames.ts), id tables shrink to what they hold
   * (id-table.ts), and the keepalive check (if any).
   */
  tick(now: number): void {
    const s = this.s;
    s.inbound?.rehomeKept(now);
    s.outbound?.rehomeKept(now);
    s.inbound?.trimIds();
    s.outbound?.trimIds();
    for (const link of s.links.values()) link.ids.trim();
    // [MQTT-3.1.2-24]: nothing from the client for 1.5 × keepalive: the connection is dead.
    if (this.keepaliveSeconds > 0 && now - s.packets.lastActivity > this.keepaliveSeconds * 1500) {
      s.log.info({ keepaliveSeconds: this.keepaliveSeconds }, 'keepalive expired');
      if (s.version === 5) s.sendDown({ cmd: 'disconnect', reasonCode: 0x8d });
      s.close('abrupt', 'keepalive expired');
    }
  }

  close(mode: CloseMode, reason: string, goodbye: DisconnectOptions): void {
    const s = this.s;
    if (s.state === 'closed') return;
    const wasConnected = s.state === 'connected';
    s.state = 'closed';
    this.stopConnectTimer();
    everySecond.delete(this);
    s.uplinks.stopReconnects();
    const recording = wasConnected && !s.takenOver && s.persistent;
    if (recording) {
      const releases = s.outbound?.awaitingRelease() ?? [];
      const subs = s.subs?.active.values() ?? [];
      const entry = s.registrySync?.release(s.links, subs, releases, this.missesBroker());
      // Joining brokers it has no link to yet (issue #13): before the 'closed' below makes them synced.
      const left = s.deps.pool.list().filter((b) => b.state === 'joining' && !s.links.has(b.id));
      if (entry && entry.subscriptions.length > 0 && left.length > 0) s.deps.replayLeft?.(left, entry);
    }
    for (const link of s.links.values()) {
      // Graceful: DISCONNECT, the brokers discard the will. Abrupt: just close, the home broker fires it
      // (after the registry record written just above, when there is one).
      if (mode === 'graceful') link.upstream.disconnect(goodbye);
      else if (recording) link.upstream.dropAfterFlush();
      else link.upstream.drop();
    }
    s.links.clear();
    s.linkGeneration += 1;
    s.down.end();
    if (s.clientId) s.deps.release(s.clientId, s);
    if (wasConnected) s.log.info({ reason, mode }, 'client disconnected');
    s.emit('closed', reason);
  }

  /**
   * Whether a broker this session links to (as at CONNECT) has no live link of it: a record removed
   * now would stay there, so the removal leaves a tombstone instead (registry-sync.ts, review
   * finding 5). A draining broker counts for a persistent session only, as at CONNECT.
   */
  missesBroker(): boolean {
    const s = this.s;
    return s.deps.pool
      .list()
      .some((b) => (b.state !== 'draining' || s.lazy.full) && !s.links.get(b.id)?.upstream.isUp);
  }
}
