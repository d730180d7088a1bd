/**
 * What "us" means in a URI: the Parley domain (users are user@domain) and the hosts the
 * gateway answers on. A request for anything else is foreign and is never relayed.
 */
import os from 'node:os';
import { socketHost } from './core/uri.js';

export class LocalDomain {
  readonly #hosts: Set<string>;

  readonly #ports: Set<number>;

  constructor(
    readonly name: string,
    readonly advertisedHost: string,
    readonly port: number,
    /** This node's node-to-node listener (several gateway nodes), also "us". */
    nodeAddress?: { host: string; port: number },
    /** The SIP over TLS port, when there is one. */
    readonly tlsPort?: number,
  ) {
    const hosts = [name, advertisedHost, 'localhost', '127.0.0.1', '::1'];
    if (nodeAddress) hosts.push(nodeAddress.host);
    this.#ports = new Set([port, ...(nodeAddress ? [nodeAddress.port] : []), ...(tlsPort ? [tlsPort] : [])]);
    for (const list of Object.values(os.networkInterfaces())) {
      for (const ni of list ?? []) hosts.push(ni.address);
    }
    this.#hosts = new Set(hosts.map((h) => h.toLowerCase()));
  }

  /** The domain users live in (user@domain AORs). */
  isLocalDomain(host: string): boolean {
    return host.toLowerCase() === this.name;
  }

  /** A host (and port) that addresses this gateway, e.g. in a Request-URI or Route. */
  isLocalHost(host: string, port?: number): boolean {
    if (port !== undefined && !this.#ports.has(port) && !this.isLocalDomain(host)) return false;
    return this.#hosts.has(socketHost(host).toLowerCase());
  }
}
