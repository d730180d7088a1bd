/**
 * The SIP location service: address-of-record → registered contacts (RFC 3261 §10).
 * In memory on one node; a Redis implementation shares it between nodes (DESIGN.md).
 */
import type { TransportProtocol } from '../transport/flow.js';

export interface Binding {
  /** `user@domain`, lower-case. */
  aor: string;
  /** The Contact URI exactly as registered. */
  contact: string;
  /** RFC 5626 +sip.instance and reg-id, when the UA supports outbound. */
  instanceId?: string;
  regId?: number;
  q: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  callId: string;
  cseq: number;
  /** The flow the REGISTER arrived on; the only way back to a WebSocket client. */
  flowId: string;
  transport: TransportProtocol;
  /** Where the REGISTER came from (for UDP clients behind NAT). */
  sourceAddress: string;
  sourcePort: number;
  /** RFC 3327 Path, used as a Route set when reaching this contact. */
  path: string[];
  userAgent?: string;
  registeredAt: number;
  /** The gateway node holding `flowId` (several nodes, REDIS_URL); other nodes reach the contact through it. */
  node?: string;
  /** What the REGISTER authenticated with ("account", "session", "app:<id>"): revoking it removes the binding. */
  credential?: string;
}

export interface LocationStore {
  /** Live (unexpired) bindings of an AOR, highest q first. */
  list(aor: string): Promise<Binding[]>;
  /**
   * Adds or refreshes `put` and removes the bindings with the keys in `remove` (bindingKey),
   * each on its own: two devices registering at once on different nodes keep both bindings.
   */
  update(aor: string, put: Binding[], remove: string[]): Promise<void>;
  /** Removes every binding of an AOR (Contact: * with Expires: 0). */
  removeAll(aor: string): Promise<void>;
  /** Removes bindings that rely on a connection that has closed; returns the AORs touched. */
  removeFlow(flowId: string): Promise<string[]>;
  /** AORs with bindings held by this node (on its flows), to re-check after credentials changed. */
  heldAors(): Promise<string[]>;
  /** Number of live bindings (held by this node, when several share the store). */
  size(): Promise<number>;
  close(): Promise<void>;
}

/** Identity of a binding for updates: instance + reg-id when present, else the contact URI. */
export function bindingKey(b: Pick<Binding, 'instanceId' | 'regId' | 'contact'>): string {
  if (b.instanceId) return `i:${b.instanceId}:${b.regId ?? 0}`;
  return `c:${b.contact.toLowerCase()}`;
}

export function sortBindings(bindings: Binding[]): Binding[] {
  return bindings.sort((a, b) => b.q - a.q || b.registeredAt - a.registeredAt);
}
