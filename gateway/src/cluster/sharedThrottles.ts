/**
 * Password-guessing throttles shared by every gateway node: each failure (and success) seen on
 * one node is told to all the others over the node bus, so guessing spread over N nodes behind
 * a load balancer is refused as soon as it would be on one. The throttles stay synchronous and
 * in memory on each node — what Redis carries is the events, a few milliseconds late at most.
 */
import type { LoginThrottle, ThrottleEvent } from '../session/loginThrottle.js';
import type { NodeBus } from './nodeBus.js';
import type { NodeDirectory } from './nodeDirectory.js';

export interface ThrottleEnvelope {
  /** Which throttle: `sip`, `xmpp`, `web`. */
  throttle: string;
  event: ThrottleEvent;
  username: string;
  ip: string;
  at: number;
}

export class SharedThrottles {
  constructor(
    private readonly bus: NodeBus<ThrottleEnvelope>,
    private readonly nodes: NodeDirectory,
    private readonly throttles: Record<string, LoginThrottle>,
  ) {
    for (const [name, throttle] of Object.entries(throttles)) {
      throttle.onEvent = (event, username, ip, at) => {
        for (const n of this.nodes.others()) this.bus.send(n.id, { throttle: name, event, username, ip, at });
      };
    }
    bus.on('envelope', (_from, _incarnation, e) => this.throttles[e.throttle]?.apply(e.event, e.username, e.ip, e.at));
    // A dead node's inbox is removed (what it had not read was for its own throttles only).
    nodes.on('nodeDown', (id) => {
      if (!nodes.get(id)) void bus.adopt(id).catch(() => undefined);
    });
  }

  start(): Promise<void> {
    return this.bus.start();
  }

  stop(): Promise<void> {
    return this.bus.stop();
  }
}
