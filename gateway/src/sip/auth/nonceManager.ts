/**
 * Digest nonces that expire and cannot be replayed, in bounded memory and without any
 * cryptography on the hot path.
 *
 * Each nonce is a sequence number plus 64 random bits. The sequence number owns a slot in
 * a fixed ring (as Kamailio's nonce-count array does) that remembers the random bits, the
 * issue time and the highest nonce-count seen: a nonce is valid only if its slot still
 * holds its random bits (so it cannot be forged), it is younger than the TTL, and its
 * nonce-count is higher than any seen before (so a captured request cannot be replayed).
 * When the ring wraps, the oldest nonces lose their slot and are answered as stale, which
 * makes the client simply retry with a fresh nonce.
 */
import crypto from 'node:crypto';

export type NonceCheck = 'ok' | 'stale' | 'replay' | 'invalid';

export interface NonceManagerOptions {
  ttlSeconds: number;
  /** Ring size; memory is 20 bytes per slot. */
  slots?: number;
  now?: () => number;
}

export interface CheckedNonce {
  result: NonceCheck;
  slot: number;
}

const NONCE_BYTES = 12;

export class NonceManager {
  readonly #ttl: number;
  readonly #size: number;
  readonly #seqs: Uint32Array;
  readonly #rand: Uint32Array;
  readonly #issued: Uint32Array;
  readonly #counts: Uint32Array;
  readonly #now: () => number;
  readonly #pool = new Uint32Array(1024);
  #poolPos = this.#pool.length;
  #seq = crypto.randomInt(1, 0x7fffffff);

  constructor(options: NonceManagerOptions) {
    this.#ttl = options.ttlSeconds;
    this.#size = options.slots ?? 1 << 19;
    this.#seqs = new Uint32Array(this.#size);
    this.#rand = new Uint32Array(this.#size * 2);
    this.#issued = new Uint32Array(this.#size);
    this.#counts = new Uint32Array(this.#size);
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  issue(): string {
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    const slot = this.#seq % this.#size;
    const r0 = this.#random();
    const r1 = this.#random();
    this.#seqs[slot] = this.#seq;
    this.#rand[slot * 2] = r0;
    this.#rand[slot * 2 + 1] = r1;
    this.#issued[slot] = this.#now() >>> 0;
    this.#counts[slot] = 0;
    const buf = Buffer.allocUnsafe(NONCE_BYTES);
    buf.writeUInt32BE(this.#seq, 0);
    buf.writeUInt32BE(r0, 4);
    buf.writeUInt32BE(r1, 8);
    return buf.toString('base64url');
  }

  /** Checks a nonce and nonce-count without recording the count; `use` records it. */
  check(nonce: string, nc: number): CheckedNonce {
    if (nonce.length !== 16) return { result: 'invalid', slot: -1 };
    const buf = Buffer.from(nonce, 'base64url');
    if (buf.length !== NONCE_BYTES) return { result: 'invalid', slot: -1 };
    const seq = buf.readUInt32BE(0);
    const slot = seq % this.#size;
    if (this.#seqs[slot] !== seq || this.#rand[slot * 2] !== buf.readUInt32BE(4) || this.#rand[slot * 2 + 1] !== buf.readUInt32BE(8)) {
      // Either forged, or an old nonce whose slot was reused: both get a fresh challenge.
      return { result: 'stale', slot };
    }
    if (this.#now() - this.#issued[slot] > this.#ttl) return { result: 'stale', slot };
    if (nc <= this.#counts[slot]) return { result: 'replay', slot };
    return { result: 'ok', slot };
  }

  use(checked: CheckedNonce, nc: number): void {
    if (checked.result === 'ok' && nc > this.#counts[checked.slot]) this.#counts[checked.slot] = nc;
  }

  #random(): number {
    if (this.#poolPos >= this.#pool.length) {
      crypto.randomFillSync(this.#pool);
      this.#poolPos = 0;
    }
    return this.#pool[this.#poolPos++];
  }
}
