/** An error a request answers with: a protocol code and a message a person can act on. */
import type { SfuErrorCode } from '../../../contracts/sfu/signalling.js';

export class SfuError extends Error {
  constructor(
    readonly code: SfuErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SfuError';
  }
}
