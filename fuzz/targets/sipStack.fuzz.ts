/**
 * Fuzz target: a SIP message from a stranger through the whole stack of an in-process gateway
 * — parser, transport checks (received/rport, rate limits), transaction layer, registrar and
 * proxy up to authentication — over a connection whose answers are collected here (no
 * packet leaves the process). A message gets at most a provisional and a final answer;
 * a handler that throws (the service then answers 500 Server Internal Error) is a bug; memory
 * must stay bounded (libFuzzer's -rss_limit_mb).
 */
import type { Flow } from '../../gateway/src/sip/transport/flow.js';
import { startTestGateway, type TestGateway } from '../../gateway/test-support/testGateway.js';

let gateway: TestGateway | undefined;
let answers: string[] = [];

/** A reliable flow (like TCP) from a loopback peer: answers come back here, not over the network. */
const flow: Flow = {
  id: 'fuzz-peer',
  protocol: 'tcp',
  remoteAddress: '127.0.0.1',
  remotePort: 5099,
  reliable: true,
  closed: false,
  send: (data) => {
    answers.push(data.toString('latin1', 0, 64));
    return true;
  },
  close: () => {},
};

async function ready(): Promise<TestGateway> {
  if (!gateway) {
    gateway = await startTestGateway({ PARLEY_LOG_LEVEL: 'silent' });
    await gateway.addUser('alice');
  }
  return gateway;
}

/** Stops the gateway (for the regression replay; a fuzzing process just exits). */
export async function close(): Promise<void> {
  await gateway?.stop();
  gateway = undefined;
}

export async function fuzz(data: Buffer): Promise<void> {
  const gw = await ready();
  answers = [];
  gw.gateway.sip.transport.receive(data, flow, false);
  // Let the handlers (account lookups, digest checks) run to completion.
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  if (answers.some((a) => a.startsWith('SIP/2.0 500 Server Internal Error'))) throw new Error(`a handler threw: ${answers.join(' | ')}`);
  if (answers.length > 2) throw new Error(`one message got ${answers.length} answers: ${answers.join(' | ')}`);
}
