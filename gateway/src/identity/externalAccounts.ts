/**
 * Accounts for people who sign in through an identity provider: found by who the provider says
 * they are (provider id + subject), made at their first sign-in from its claims or attributes.
 *
 * How names are formed (README): the first mapped value that yields a user name — e.g.
 * `preferred_username` "Alice" or ePPN "alice@uni-a.example" (`@` → `.`) — lower-cased, with
 * characters a SIP user part or XMPP localpart cannot hold replaced by `-`, then the provider's
 * suffix (default `.<provider id>`): alice.uni-a → sip:alice.uni-a@<domain>, the same JID. A
 * name already taken (a local account, or another person) gets -2, -3 … — identities are never
 * merged by name, so nobody signs into somebody else's account.
 */
import type { IdentityRecords } from '../storage/records/identityRecords.js';
import { UniqueViolation } from '../storage/sql/sqlDatabase.js';
import { AccountError, type Account, type AccountStore } from '../directory/accountStore.js';

export interface AccountMappingConfig {
  /** Claim or attribute names tried in order; `email:local` is the part before @ of `email`. */
  username: string[];
  displayName: string[];
  suffix: string;
}

/** What a provider said about the person, once checked (signature, audience, expiry …). */
export interface VerifiedIdentity {
  provider: string;
  /** Stable and unique at that provider: OIDC `sub`, a SAML persistent NameID or targeted id. */
  subject: string;
  /** Claims or attributes, each a string or strings. */
  attributes: Record<string, unknown>;
}

export class SignInRefused extends Error {
  constructor(
    message: string,
    readonly code: 'no_username' | 'account_disabled' | 'no_free_name',
  ) {
    super(message);
  }
}

const MAX_NUMBERED = 50;

/** The first non-empty value of a claim or attribute; `<name>:local` is the part before @ of its value. */
export function firstValue(attributes: Record<string, unknown>, name: string): string | undefined {
  const local = name.endsWith(':local');
  let v = attributes[local ? name.slice(0, -':local'.length) : name];
  if (Array.isArray(v)) v = v.find((x) => typeof x === 'string' && x.trim());
  if (typeof v !== 'string' || !v.trim()) return undefined;
  return local ? v.split('@')[0] : v;
}

/** The user name a mapped value gives (without the suffix), or undefined when nothing usable is left. */
export function usernameFrom(value: string, maxLength: number): string | undefined {
  const name = value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // é → e
    .toLowerCase()
    .replace(/@/g, '.')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/[._-]{2,}/g, (m) => m[0])
    .slice(0, maxLength)
    .replace(/^[._-]+|[._-]+$/g, '');
  return name || undefined;
}

export class ExternalAccounts {
  constructor(
    private readonly accounts: AccountStore,
    private readonly identities: IdentityRecords,
  ) {}

  /** The account for this identity: found, or made now. Refused (with a reason to show) when disabled or unnameable. */
  async accountFor(identity: VerifiedIdentity, mapping: AccountMappingConfig): Promise<{ account: Account; created: boolean }> {
    const now = Date.now();
    const known = await this.identities.find(identity.provider, identity.subject, now);
    if (known) return { account: await this.#usable(known), created: false };

    const raw = mapping.username.map((n) => firstValue(identity.attributes, n)).find((v) => v !== undefined);
    const base = raw && usernameFrom(raw, 64 - mapping.suffix.length - 3);
    if (!base) {
      throw new SignInRefused(
        `Your identity provider did not tell Parley a user name (it looked for ${mapping.username.join(', ')}). Ask your administrator.`,
        'no_username',
      );
    }
    const displayName = mapping.displayName.map((n) => firstValue(identity.attributes, n)).find((v) => v !== undefined)?.trim().slice(0, 100);
    for (let n = 1; n <= MAX_NUMBERED; n++) {
      const username = `${base}${n > 1 ? `-${n}` : ''}${mapping.suffix}`;
      let account: Account;
      try {
        account = await this.accounts.create({ username, displayName: displayName || undefined, provider: identity.provider });
      } catch (err) {
        if (err instanceof AccountError && err.code === 'exists') continue;
        throw err;
      }
      try {
        await this.identities.link(identity.provider, identity.subject, account.username, now);
        return { account, created: true };
      } catch (err) {
        // The same person's first sign-in on another tab or node won: use theirs.
        await this.accounts.delete(account.username);
        if (!(err instanceof UniqueViolation)) throw err;
        const winner = await this.identities.find(identity.provider, identity.subject, now);
        if (winner) return { account: await this.#usable(winner), created: false };
        throw err;
      }
    }
    throw new SignInRefused(`Every user name like "${base}${mapping.suffix}" is taken. Ask your administrator.`, 'no_free_name');
  }

  async #usable(username: string): Promise<Account> {
    const account = await this.accounts.get(username);
    if (!account) throw new SignInRefused('Your Parley account was removed. Ask your administrator.', 'account_disabled');
    if (account.disabledAt !== undefined) throw new SignInRefused('Your Parley account has been disabled. Ask your administrator.', 'account_disabled');
    return account;
  }
}
