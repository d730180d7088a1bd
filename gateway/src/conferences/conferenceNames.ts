/** Names for new meetings (the meetings themselves are in storage/records/conferenceRecords.ts). */
import crypto from 'node:crypto';

const LETTERS = 'abcdefghijkmnopqrstuvwxyz'; // no l: it reads like 1 and I

/** A fresh unguessable name in the style of meeting links: abc-defg-hij (10 letters of 25, ~46 bits). */
export function randomConferenceName(): string {
  const bytes = crypto.randomBytes(10);
  const pick = (from: number, count: number) =>
    Array.from(bytes.subarray(from, from + count), (b) => LETTERS[b % LETTERS.length]).join('');
  return `${pick(0, 3)}-${pick(3, 4)}-${pick(7, 3)}`;
}
