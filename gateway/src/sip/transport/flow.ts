/**
 * A flow (RFC 5626 §3.5): the path a message came in on and the way back to that peer.
 * For UDP it is the remote address; for TCP and WebSocket it is the connection itself,
 * which is the only way to reach a browser whose Contact host is `<random>.invalid`.
 */
export type TransportProtocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface Flow {
  /** Stable identifier; signed into Record-Route and Via so later messages find the flow. */
  readonly id: string;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Connection-oriented flows deliver reliably: no retransmission timers (RFC 3261 §17). */
  readonly reliable: boolean;
  readonly closed: boolean;
  /** Returns false when the flow is gone and nothing was sent. */
  send(data: Buffer): boolean;
  close(): void;
}

export function viaTransport(protocol: TransportProtocol): string {
  return protocol.toUpperCase();
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Strips the IPv4-mapped prefix Node reports on dual-stack sockets. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
