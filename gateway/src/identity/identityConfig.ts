/**
 * The organisation's identity providers, from the JSON file PARLEY_IDENTITY_PROVIDERS names
 * (README "Sign-in with identity providers"): OpenID Connect providers, SAML 2.0 IdPs, and SAML
 * federations (many IdPs from one signed metadata file). Checked with zod at start: a wrong
 * file stops the start with the reason, it never half-works.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** A provider's id names its users' identities for good (external_identities.provider): keep it stable. */
const providerId = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/, 'an id is 1–32 lower-case letters, digits or "-"');

/** How an account is made from what the provider says (README: "How sign-in names are formed"). */
const accountMapping = {
  /**
   * Claims (OIDC) or attributes (SAML) tried in order for the user name; `email:local` is the
   * part before @ of the `email` claim. The value is lower-cased, `@` becomes `.`.
   */
  username: z.array(z.string().min(1)).min(1).optional(),
  displayName: z.array(z.string().min(1)).min(1).optional(),
  /** Appended to every user name from this provider, so two organisations' "alice" never meet; default ".<id>", "" for none. */
  suffix: z.string().regex(/^[a-z0-9._-]{0,30}$/).optional(),
};

export const oidcProviderConfig = z.object({
  type: z.literal('oidc'),
  id: providerId,
  /** What the sign-in button says: "Sign in with <name>". */
  name: z.string().min(1).max(80),
  /** The issuer URL; its /.well-known/openid-configuration is read (discovery). */
  issuer: z.string().url(),
  clientId: z.string().min(1),
  /** The client secret, or the name of an environment variable holding it (kept out of the file). */
  clientSecret: z.string().min(1).optional(),
  clientSecretEnv: z.string().min(1).optional(),
  scope: z.string().default('openid profile email'),
  ...accountMapping,
});
export type OidcProviderConfig = z.infer<typeof oidcProviderConfig>;

const pemOrFile = z.string().min(1);

export const samlProviderConfig = z.object({
  type: z.literal('saml'),
  id: providerId,
  name: z.string().min(1).max(80),
  /** The IdP's metadata (a file); or its entity id, SSO URL and signing certificates below. */
  metadataFile: z.string().optional(),
  entityId: z.string().optional(),
  ssoUrl: z.string().url().optional(),
  sloUrl: z.string().url().optional(),
  certificates: z.array(pemOrFile).optional(),
  ...accountMapping,
});
export type SamlProviderConfig = z.infer<typeof samlProviderConfig>;

export const samlFederationConfig = z.object({
  type: z.literal('saml-federation'),
  id: providerId,
  /** "Sign in through <name>" opens the "where are you from" chooser. */
  name: z.string().min(1).max(80),
  /** The federation's metadata aggregate (an EntitiesDescriptor), refreshed from the file hourly. */
  metadataFile: z.string().min(1),
  /** The federation operator's certificate that signed the aggregate (a PEM, or a file holding one). */
  metadataSigningCertificate: pemOrFile,
  ...accountMapping,
});
export type SamlFederationConfig = z.infer<typeof samlFederationConfig>;

export const identityProvidersFile = z.object({
  providers: z.array(z.discriminatedUnion('type', [oidcProviderConfig, samlProviderConfig, samlFederationConfig])).default([]),
  /** This service provider's SAML key and certificate (PEM or files); generated into the data directory when absent. */
  saml: z.object({ privateKey: pemOrFile.optional(), certificate: pemOrFile.optional() }).default({}),
});

export type IdentityProviderConfig = OidcProviderConfig | SamlProviderConfig | SamlFederationConfig;

export interface IdentityProvidersConfig {
  providers: IdentityProviderConfig[];
  saml: { privateKey?: string; certificate?: string };
}

export class IdentityConfigError extends Error {}

/** Reads and checks the file; a relative path in it is relative to the file. */
export function loadIdentityProviders(file: string, env: NodeJS.ProcessEnv = process.env): IdentityProvidersConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new IdentityConfigError(`PARLEY_IDENTITY_PROVIDERS: cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = identityProvidersFile.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw new IdentityConfigError(`PARLEY_IDENTITY_PROVIDERS ${file}: ${issues}`);
  }
  const providers = parsed.data.providers as IdentityProviderConfig[];
  const ids = new Set<string>();
  for (const p of providers) {
    if (ids.has(p.id)) throw new IdentityConfigError(`PARLEY_IDENTITY_PROVIDERS ${file}: two providers have the id "${p.id}"`);
    ids.add(p.id);
    if (p.type === 'oidc' && !p.clientSecret && !p.clientSecretEnv) {
      throw new IdentityConfigError(`PARLEY_IDENTITY_PROVIDERS ${file}: provider "${p.id}" needs clientSecret or clientSecretEnv (an environment variable holding it)`);
    }
    if (p.type === 'oidc' && !p.clientSecret && p.clientSecretEnv && !env[p.clientSecretEnv]) {
      throw new IdentityConfigError(`PARLEY_IDENTITY_PROVIDERS ${file}: provider "${p.id}" takes its client secret from ${p.clientSecretEnv}, which is not set`);
    }
    if (p.type === 'saml' && !p.metadataFile && !(p.entityId && p.ssoUrl && p.certificates?.length)) {
      throw new IdentityConfigError(`PARLEY_IDENTITY_PROVIDERS ${file}: SAML provider "${p.id}" needs metadataFile, or entityId, ssoUrl and certificates`);
    }
  }
  const dir = path.dirname(path.resolve(file));
  const resolveFile = (f: string | undefined) => (f && !f.includes('-----BEGIN') ? path.resolve(dir, f) : f);
  for (const p of providers) {
    if (p.type === 'saml') {
      p.metadataFile = resolveFile(p.metadataFile);
      p.certificates = p.certificates?.map((c) => readPem(resolveFile(c)!));
    }
    if (p.type === 'saml-federation') {
      p.metadataFile = resolveFile(p.metadataFile)!;
      p.metadataSigningCertificate = readPem(resolveFile(p.metadataSigningCertificate)!);
    }
  }
  const saml = parsed.data.saml;
  return {
    providers,
    saml: { privateKey: saml.privateKey && readPem(resolveFile(saml.privateKey)!), certificate: saml.certificate && readPem(resolveFile(saml.certificate)!) },
  };
}

/** A PEM given inline, or read from the file named. */
function readPem(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return fs.readFileSync(value, 'utf8');
  } catch (err) {
    throw new IdentityConfigError(`PARLEY_IDENTITY_PROVIDERS: cannot read ${value}: ${(err as Error).message}`);
  }
}

/** The client secret of an OIDC provider (inline or from the environment). */
export function clientSecretOf(p: OidcProviderConfig, env: NodeJS.ProcessEnv = process.env): string {
  return p.clientSecret ?? env[p.clientSecretEnv ?? ''] ?? '';
}
