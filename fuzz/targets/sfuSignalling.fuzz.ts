/**
 * Fuzz target: the /sfu signalling endpoint of a real SFU node (mediasoup worker, loopback),
 * over a real WebSocket. The first byte picks the connection: even = a participant who has
 * joined a meeting (requests on their own transports, producers, consumers), odd = a fresh
 * connection that has not. The rest is sent as one text message; the node must answer it
 * with a response (or close the connection for framing and size violations), never fail
 * with 'internal', and stay up.
 */
import WebSocket from 'ws';
import { startTestSfuNode, type TestSfuNode } from '../../sfu/test-support/testSfuNode.js';

let sfu: TestSfuNode | undefined;
let joined: WebSocket | undefined;

async function node(): Promise<TestSfuNode> {
  sfu ??= await startTestSfuNode({ PARLEY_LOG_LEVEL: 'silent', PARLEY_SFU_RATE_PER_SECOND: '1000000', PARLEY_SFU_EMPTY_GRACE_SECONDS: '600' });
  return sfu;
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The next message from the node, or 'closed', or 'silent' after a while. */
function answer(ws: WebSocket, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const done = (value: string) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
      resolve(value);
    };
    const onMessage = (data: WebSocket.RawData) => {
      const text = data.toString();
      let isNotification = false;
      try {
        isNotification = 'notification' in (JSON.parse(text) as object);
      } catch {
        // not JSON: an answer nonetheless (and a bug the check below reports)
      }
      if (!isNotification) done(text);
    };
    const onClose = () => done('closed');
    const timer = setTimeout(() => done('silent'), timeoutMs);
    ws.on('message', onMessage);
    ws.on('close', onClose);
  });
}

async function participant(sfuNode: TestSfuNode): Promise<WebSocket> {
  if (joined && joined.readyState === WebSocket.OPEN) return joined;
  const ws = await connect(sfuNode.url);
  ws.send(JSON.stringify({ id: 1, method: 'join', data: { token: await sfuNode.token({ conference: 'fuzz-room', userId: 'fuzzer@localhost' }) } }));
  const reply = await answer(ws);
  if (!reply.includes('"ok":true')) throw new Error(`the fuzzing participant could not join: ${reply}`);
  joined = ws;
  return ws;
}

export async function close(): Promise<void> {
  joined?.close();
  joined = undefined;
  await sfu?.stop();
  sfu = undefined;
}

export async function fuzz(data: Buffer): Promise<void> {
  if (data.length === 0) return;
  const sfuNode = await node();
  const fresh = data[0] % 2 === 1;
  const ws = fresh ? await connect(sfuNode.url) : await participant(sfuNode);
  const reply = answer(ws);
  ws.send(data.subarray(1).toString('utf8'));
  const text = await reply;
  if (text === 'silent') throw new Error('the node did not answer');
  if (text.includes('"code":"internal"')) throw new Error(`the node failed: ${text.slice(0, 300)}`);
  if (fresh) ws.close();
}
