/**
 * The account directory: who exists, and what each sign-in mechanism needs to check them.
 * One account serves web sign-in, SIP digest and XMPP SASL (DESIGN.md).
 */
import type { DigestHash, ScramCredentials, ScramHash } from './passwords.js';

export interface Account {
  username: string;
  displayName: string;
  createdAt: number;
  /** The identity provider the account was made for (undefined: a local account). */
  provider?: string;
  /** Set while an operator has disabled the account (no web, SIP or XMPP sign-in). */
  disabledAt?: number;
}

export interface NewAccount {
  username: string;
  /** Undefined for an account made for an identity provider: it gets a random one nobody knows. */
  password?: string;
  displayName?: string;
  provider?: string;
}

export interface AccountStore {
  create(account: NewAccount): Promise<Account>;
  get(username: string): Promise<Account | undefined>;
  list(): Promise<Account[]>;
  delete(username: string): Promise<boolean>;
  setPassword(username: string, password: string): Promise<boolean>;
  setDisplayName(username: string, displayName: string): Promise<boolean>;
  /** Disables (true) or enables an account; false when there is none. */
  setDisabled(username: string, disabled: boolean): Promise<boolean>;
  /** Checks a web sign-in password against the slow hash. Unknown and disabled users cost the same time. */
  verifyPassword(username: string, password: string): Promise<boolean>;
  /** HA1 for SIP digest under the store's realm, or undefined for an unknown user. */
  getDigestHa1(username: string, hash: DigestHash): Promise<string | undefined>;
  getScramCredentials(username: string, hash: ScramHash): Promise<ScramCredentials | undefined>;
}

export class AccountError extends Error {
  constructor(
    message: string,
    readonly code: 'exists' | 'invalid_username' | 'invalid_password' | 'not_found',
  ) {
    super(message);
  }
}

/** Lower-case letters, digits, '.', '_' and '-': valid unescaped in a SIP user part and an XMPP localpart. */
const USERNAME = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export function normalizeUsername(raw: string): string {
  return raw.trim().toLowerCase();
}

export function validateUsername(username: string): void {
  if (!USERNAME.test(username)) {
    throw new AccountError(
      `"${username}" is not a valid username: use 1–64 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
      'invalid_username',
    );
  }
}

export function validatePassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AccountError(`The password must have at least ${MIN_PASSWORD_LENGTH} characters`, 'invalid_password');
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new AccountError(`The password must have at most ${MAX_PASSWORD_LENGTH} characters`, 'invalid_password');
  }
}
