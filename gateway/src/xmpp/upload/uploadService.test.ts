/** HTTP File Upload (XEP-0363): slots over XMPP, PUT and GET over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';
import { connect, xml, type TestXmpp } from '../../../test-support/xmppClient.js';

let gw: TestGateway;
let alice: TestXmpp;

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_UPLOAD_MAX_BYTES: '100000' });
  await gw.addUser('alice');
  alice = await connect(gw, 'alice', TEST_PASSWORD, { resource: 'up' });
});

afterAll(async () => {
  await alice.stop();
  await gw.stop();
});

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000a49444154789c6300010000050001' + '0d0a2db40000000049454e44ae426082', 'hex');

async function slot(filename: string, size: number, type: string) {
  return alice.iq(xml('iq', { type: 'get', to: 'upload.localhost' }, xml('request', { xmlns: 'urn:xmpp:http:upload:0', filename, size: String(size), 'content-type': type })));
}

describe('file upload', () => {
  it('is announced with its size limit', async () => {
    const items = await alice.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })));
    expect(items.getChild('query')!.getChildren('item').map((i) => String(i.attrs.jid))).toContain('upload.localhost');
    const info = await alice.iq(xml('iq', { type: 'get', to: 'upload.localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    expect(info.toString()).toContain('urn:xmpp:http:upload:0');
    expect(info.toString()).toContain('<value>100000</value>');
  });

  it('gives a slot, accepts the PUT once, and serves the file with its type', async () => {
    const res = await slot('dot.png', PNG.length, 'image/png');
    const put = res.getChild('slot')!.getChild('put')!.attrs.url;
    const get = res.getChild('slot')!.getChild('get')!.attrs.url;
    expect(get).toMatch(new RegExp(`^http://localhost:${gw.httpPort}/upload/[\\w-]+/dot\\.png$`));
    const up = await fetch(put, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: PNG });
    expect(up.status).toBe(201);
    const again = await fetch(put, { method: 'PUT', headers: { 'Content-Type': 'image/png' }, body: PNG });
    expect(again.status).toBe(403);
    const down = await fetch(get);
    expect(down.status).toBe(200);
    expect(down.headers.get('content-type')).toBe('image/png');
    expect(down.headers.get('content-disposition')).toMatch(/^inline/);
    expect(down.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await down.arrayBuffer())).toEqual(PNG);
  });

  it('refuses files over the limit, wrong sizes and types, and forged links', async () => {
    await expect(slot('big.bin', 200_000, 'application/octet-stream')).rejects.toThrow(/not-acceptable|at most/);
    const res = await slot('note.txt', 5, 'text/plain');
    const put = res.getChild('slot')!.getChild('put')!.attrs.url;
    expect((await fetch(put, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'too long' })).status).toBe(400);
    expect((await fetch(put, { method: 'PUT', headers: { 'Content-Type': 'text/html' }, body: 'hello' })).status).toBe(400);
    expect((await fetch(put.replace(/sig=[^&]+/, 'sig=forged'), { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: 'hello' })).status).toBe(403);
    expect((await fetch(`${gw.url}/upload/doesnotexistdoesnotexist/x.txt`)).status).toBe(404);
  });

  it('sends anything that could run in a browser as a sandboxed attachment', async () => {
    const page = '<script>alert(1)</script>';
    const res = await slot('evil.html', page.length, 'text/html');
    await fetch(res.getChild('slot')!.getChild('put')!.attrs.url, { method: 'PUT', headers: { 'Content-Type': 'text/html' }, body: page });
    const down = await fetch(res.getChild('slot')!.getChild('get')!.attrs.url);
    expect(down.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(down.headers.get('content-security-policy')).toContain('sandbox');
  });
});
