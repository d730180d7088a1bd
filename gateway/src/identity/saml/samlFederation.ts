/**
 * A SAML federation (as academic ones are): its signed metadata aggregate lists the member
 * IdPs; people pick theirs in the "where are you from" chooser. The file is read again hourly
 * (operators refresh it from the federation, e.g. with a cron job); a new file that does not
 * verify is refused and the last good one stays.
 */
import fs from 'node:fs';
import type { Logger } from '../../../../server-common/logger.js';
import type { SamlRequestRecords } from '../../storage/records/samlRequestRecords.js';
import type { SamlFederationConfig } from '../identityConfig.js';
import { verifyFederationMetadata } from './federationMetadata.js';
import type { SamlIdpMetadata } from './samlMetadata.js';
import { SamlSignIn, type SamlServiceProvider } from './samlSignIn.js';

const REFRESH_MS = 3600_000;

export interface FederationMember {
  entityId: string;
  name: string;
}

export class SamlFederation {
  readonly #c: SamlFederationConfig;
  readonly #sp: () => Promise<SamlServiceProvider>;
  readonly #requests: SamlRequestRecords;
  readonly #log: Logger;
  #idps = new Map<string, SamlIdpMetadata>();
  readonly #signIns = new Map<string, SamlSignIn>();
  readonly #timer: NodeJS.Timeout;

  /** Reads and verifies the aggregate now: a federation whose metadata does not verify stops the start. */
  constructor(config: SamlFederationConfig, sp: () => Promise<SamlServiceProvider>, requests: SamlRequestRecords, logger: Logger) {
    this.#c = config;
    this.#sp = sp;
    this.#requests = requests;
    this.#log = logger;
    this.#load();
    this.#timer = setInterval(() => {
      try {
        this.#load();
      } catch (err) {
        this.#log.warn({ federation: config.id, err: (err as Error).message }, 'new federation metadata refused; the last good one stays');
      }
    }, REFRESH_MS);
    this.#timer.unref();
  }

  get id(): string {
    return this.#c.id;
  }

  get name(): string {
    return this.#c.name;
  }

  /** The member IdPs, by name. */
  members(): FederationMember[] {
    return [...this.#idps.values()].map((i) => ({ entityId: i.entityId, name: i.displayName ?? i.entityId })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The sign-in at one member IdP (its users' identities are kept under "<federation>:<entity id>"). */
  signInAt(entityId: string): SamlSignIn | undefined {
    const idp = this.#idps.get(entityId);
    if (!idp) return undefined;
    let signIn = this.#signIns.get(entityId);
    if (!signIn || signIn.idp.certificates.join() !== idp.certificates.join() || signIn.idp.ssoUrl !== idp.ssoUrl) {
      signIn = new SamlSignIn({ ...idp, id: `${this.#c.id}:${entityId}`, name: idp.displayName ?? entityId }, this.#sp, this.#requests, this.#log);
      this.#signIns.set(entityId, signIn);
    }
    return signIn;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #load(): void {
    const file = this.#c.metadataFile;
    const { idps } = verifyFederationMetadata(fs.readFileSync(file, 'utf8'), this.#c.metadataSigningCertificate, `federation "${this.#c.id}" metadata ${file}`);
    this.#idps = new Map(idps.map((i) => [i.entityId, i]));
    this.#log.info({ federation: this.#c.id, idps: idps.length }, 'federation metadata verified');
  }
}
