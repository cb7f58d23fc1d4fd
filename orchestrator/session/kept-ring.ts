import type { Buffer } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';
import type { KeptSlab } from '../protocol/kept-frames.ts';

/** What a replay window keeps of a publish: the packet, or its frame alone (replay-window.ts). */
export type KeptItem = IPublishPacket | Buffer | KeptSlab;

/**
 * 4 slots: a session publishing once a second keeps two or three entries per broker in a 2 s window, and
 * the ring stays with the session between messages (8 slots: 472 bytes, 4: 312).
 */
const MIN_CAPACITY = 4;
/** Numbers kept per entry in `nums`: offset, length, time, retained sequence number. */
const FIELDS = 4;

/**
 * One broker's entries of a replay window, oldest first (pure): a ring of preallocated slots, its
 * capacity a power of two that doubles when full and halves (shrink) when mostly empty.
 *
 * Why a ring: the window keeps each QoS 1 publish ~2 s and drops it in arrival order. Kept in arrays
 * that grew at the end and were cut down (`slice`) once 1,024 entries had been dropped from the front,
 * every growth step allocated new backing stores that lived past two young-generation collections;
 * sessions started together at one rate grow in step, and at 2,000 msg/s ~1 MB of them was promoted at
 * once every few seconds, each time a scavenge of ~5 ms (docs/data-plane.md, "Session 21"). A session
 * publishing once a second also kept ~1,000 slots per array until its first cut, 17 minutes in (50.9 KB
 * of heap against the ring's 0.8 KB, measured). In the ring, keeping
 * and dropping an entry allocate nothing once its capacity fits the window, and its size follows what is
 * kept.
 */
export class KeptRing {
  private items: Array<KeptItem | undefined>;
  /** FIELDS numbers per slot, in one array of doubles (no object per entry, no write barrier). */
  private nums: number[];
  private head = 0;
  /** Entries kept. */
  count = 0;

  constructor(capacity = MIN_CAPACITY) {
    this.items = new Array<KeptItem | undefined>(capacity).fill(undefined);
    this.nums = new Array<number>(capacity * FIELDS).fill(0);
  }

  get capacity(): number {
    return this.items.length;
  }

  /** Keeps an entry after the newest. */
  push(item: KeptItem, off: number, len: number, at: number, seq: number): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2);
    const slot = (this.head + this.count) & (this.items.length - 1);
    this.items[slot] = item;
    const n = slot * FIELDS;
    this.nums[n] = off;
    this.nums[n + 1] = len;
    this.nums[n + 2] = at;
    this.nums[n + 3] = seq;
    this.count += 1;
  }

  /** Drops the oldest entry (the caller checks count > 0). */
  shift(): void {
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count -= 1;
  }

  /** The k-th oldest entry's slot (0 ≤ k < count). */
  private slot(k: number): number {
    return (this.head + k) & (this.items.length - 1);
  }

  item(k: number): KeptItem {
    return this.items[this.slot(k)] as KeptItem;
  }

  setItem(k: number, item: KeptItem): void {
    this.items[this.slot(k)] = item;
  }

  off(k: number): number {
    return this.nums[this.slot(k) * FIELDS] as number;
  }

  len(k: number): number {
    return this.nums[this.slot(k) * FIELDS + 1] as number;
  }

  at(k: number): number {
    return this.nums[this.slot(k) * FIELDS + 2] as number;
  }

  seq(k: number): number {
    return this.nums[this.slot(k) * FIELDS + 3] as number;
  }

  /** Halves the capacity while a quarter of it or less is used (not below the minimum). */
  shrink(): void {
    let capacity = this.items.length;
    while (capacity > MIN_CAPACITY && this.count * 4 <= capacity) capacity /= 2;
    if (capacity !== this.items.length) this.resize(capacity);
  }

  /** Moves the entries, oldest first, into new slots of `capacity` (≥ count, a power of two). */
  private resize(capacity: number): void {
    const items = new Array<KeptItem | undefined>(capacity).fill(undefined);
    const nums = new Array<number>(capacity * FIELDS).fill(0);
    for (let k = 0; k < this.count; k++) {
      const from = this.slot(k);
      items[k] = this.items[from];
      for (let f = 0; f < FIELDS; f++) nums[k * FIELDS + f] = this.nums[from * FIELDS + f] as number;
    }
    this.items = items;
    this.nums = nums;
    this.head = 0;
  }
}
