/**
 * The SFU's public face: what a process that hosts an SFU node (the gateway's composition root
 * for the embedded node, sfu/src/main.ts for a standalone one) may use. Everything else in
 * sfu/ — worker pool, rooms, signalling — is internal; the dependency rules keep it so.
 * The conference registry has a public face of its own (registry/index.ts), which the gateway
 * uses to pin meetings.
 *
 * sfu/ owns the media side of meetings: mediasoup workers, one room per meeting on this node,
 * the /sfu signalling endpoint, and the heartbeat that keeps this node's place in the registry.
 */
export { SfuNode, type SfuNodeOptions } from './node/sfuNode.js';
export { loadSfuConfig, type SfuConfig } from './config.js';
