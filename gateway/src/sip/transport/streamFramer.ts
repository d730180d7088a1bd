/**
 * Cuts a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3), and recognises
 * the RFC 5626 CRLF keep-alive ping ("\r\n\r\n"), which is answered with a CRLF pong.
 */
import { findHeaderEnd } from '../core/parser.js';

export type FramerOutput =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  | { kind: 'error'; status: number; reason: string };

const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)/im;

export class StreamFramer {
  #buf: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes: number) {}

  /** Feeds bytes; returns every complete item. After an error the connection should close. */
  push(chunk: Buffer): FramerOutput[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: FramerOutput[] = [];
    for (;;) {
      // Leading CRLFs: a double CRLF is a keep-alive ping, a single one is ignored.
      let skip = 0;
      while (skip < this.#buf.length && (this.#buf[skip] === 0x0d || this.#buf[skip] === 0x0a)) skip++;
      if (skip) {
        if (skip >= 4) out.push({ kind: 'ping' });
        this.#buf = this.#buf.subarray(skip);
      }
      if (!this.#buf.length) break;
      const end = findHeaderEnd(this.#buf);
      if (!end) {
        if (this.#buf.length > this.maxMessageBytes) {
          out.push({ kind: 'error', status: 513, reason: 'Message Too Large' });
          this.#buf = Buffer.alloc(0);
        }
        break;
      }
      const head = this.#buf.toString('latin1', 0, end[0]);
      const m = CONTENT_LENGTH.exec(head);
      let length = 0;
      if (m) {
        if (!/^\d{1,10}$/.test(m[1])) {
          out.push({ kind: 'error', status: 400, reason: 'Bad Content-Length' });
          this.#buf = Buffer.alloc(0);
          break;
        }
        length = Number(m[1]);
      }
      const total = end[1] + length;
      if (total > this.maxMessageBytes) {
        out.push({ kind: 'error', status: 513, reason: 'Message Too Large' });
        this.#buf = Buffer.alloc(0);
        break;
      }
      if (this.#buf.length < total) break;
      out.push({ kind: 'message', data: this.#buf.subarray(0, total) });
      this.#buf = this.#buf.subarray(total);
    }
    return out;
  }
}
