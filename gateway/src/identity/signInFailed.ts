/**
 * What every sign-in through an identity provider can end with, apart from the libraries that
 * talk to the providers (those are loaded only when a provider is configured).
 */

/** A sign-in that failed in a way the user can act on; the message says how. */
export class SignInFailed extends Error {
  constructor(
    readonly code: 'idp_unreachable' | 'cancelled' | 'state_mismatch' | 'invalid_response' | 'expired',
    message: string,
  ) {
    super(message);
  }
}

/** How long a SAML AuthnRequest waits for its response (and the oldest assertion accepted). */
export const SAML_REQUEST_MS = 10 * 60_000;
