/**
 * HTTP File Upload (XEP-0363) on upload.<domain>: an authenticated user asks for a slot over
 * XMPP and gets a PUT URL signed for that one file (size and type fixed, expiring) and the GET
 * URL to share. Files live under the data directory; downloads are served with the declared
 * type, and anything that is not an image, audio, video, PDF or text is sent as an attachment
 * inside a sandbox, so an uploaded page can never run as Parley.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Element } from 'ltx';
import type { UploadRecords } from '../../storage/records/uploadRecords.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { uploadDomain } from '../../../../contracts/xmpp/serviceAddresses.js';
import { childElements, el, stanzaError } from '../core/xml.js';
import type { XmppService, XmppServiceHost } from '../router/serviceRegistry.js';
import type { SessionRef } from '../router/xmppContext.js';

export interface UploadServiceOptions {
  /** The users' domain; the service lives on upload.<domain>. */
  domain: string;
  records: UploadRecords;
  /** Where the files go (PARLEY_UPLOAD_DIR): storage every gateway node shares. */
  dir: string;
  key: Buffer;
  /** The public origin, read when a slot is made (known only once the HTTP server listens). */
  publicUrl: () => string;
  maxBytes: number;
  slotSeconds: number;
}

const INLINE_TYPES = /^(image\/(png|jpeg|gif|webp|avif)|audio\/|video\/|application\/pdf$|text\/plain)/;
const ID = /^[A-Za-z0-9_-]{16,64}$/;

export class UploadService implements XmppService {
  readonly #o: UploadServiceOptions;

  constructor(options: UploadServiceOptions) {
    this.#o = options;
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  }

  register(host: XmppServiceHost): void {
    host.addComponent({
      domain: uploadDomain(this.#o.domain),
      name: 'File uploads',
      iq: (session, iq) => {
        const type = iq.attrs.type;
        if (type === 'get' || type === 'set') this.handleIq(session, iq, childElements(iq)[0]);
      },
    });
  }

  discoInfo(): Element {
    return el(
      'query',
      { xmlns: NS.discoInfo },
      el('identity', { category: 'store', type: 'file', name: 'File uploads' }),
      el('feature', { var: NS.upload }),
      el('feature', { var: NS.discoInfo }),
      el('x', { xmlns: NS.dataForms, type: 'result' }, el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, NS.upload)), el('field', { var: 'max-file-size' }, el('value', {}, String(this.#o.maxBytes)))),
    );
  }

  /** An IQ to the upload service. */
  async handleIq(session: SessionRef, iq: Element, payload: Element | undefined): Promise<void> {
    if (payload?.attrs.xmlns === NS.discoInfo && iq.attrs.type === 'get') {
      session.send(el('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: session.fullJid }, this.discoInfo()));
      return;
    }
    if (payload?.name !== 'request' || payload.attrs.xmlns !== NS.upload || iq.attrs.type !== 'get') {
      session.send(stanzaError(iq, 'cancel', 'service-unavailable'));
      return;
    }
    const filename = (payload.attrs.filename ?? '').replace(/[/\\\u0000-\u001f]/g, '_').slice(0, 200);
    const size = Number(payload.attrs.size);
    const contentType = (payload.attrs['content-type'] ?? 'application/octet-stream').toLowerCase();
    if (!filename || !Number.isInteger(size) || size <= 0 || !/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(contentType)) {
      session.send(stanzaError(iq, 'modify', 'bad-request', 'A slot request needs a filename, a size in bytes and a content type'));
      return;
    }
    if (size > this.#o.maxBytes) {
      const err = stanzaError(iq, 'modify', 'not-acceptable', `Files can be at most ${formatBytes(this.#o.maxBytes)}`);
      err.getChild('error')!.cnode(el('file-too-large', { xmlns: NS.upload }, el('max-file-size', {}, String(this.#o.maxBytes))));
      session.send(err);
      return;
    }
    const id = crypto.randomBytes(18).toString('base64url');
    await this.#o.records.insert({ id, owner: session.bareJid, filename, contentType, size, createdAt: Date.now() });
    const expires = Math.floor(Date.now() / 1000) + this.#o.slotSeconds;
    const base = `${this.#o.publicUrl()}/upload/${id}/${encodeURIComponent(filename)}`;
    const put = `${base}?expires=${expires}&sig=${this.#sign(id, size, contentType, expires)}`;
    session.send(
      el(
        'iq',
        { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: session.fullJid },
        el('slot', { xmlns: NS.upload }, el('put', { url: put }, el('header', { name: 'Content-Type' }, contentType)), el('get', { url: base })),
      ),
    );
  }

  /** PUT and GET of /upload/<id>/<name>. Returns false when the path is not an upload path. */
  async handleHttp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const m = /^\/upload\/([^/]+)\/[^/]+$/.exec(url.pathname);
    if (!m) return false;
    const id = m[1];
    const row = ID.test(id) ? await this.#o.records.get(id) : undefined;
    const file = path.join(this.#o.dir, id);
    if (req.method === 'PUT') {
      const expires = Number(url.searchParams.get('expires'));
      const sig = url.searchParams.get('sig') ?? '';
      if (!row || row.complete || !Number.isInteger(expires) || expires < Date.now() / 1000) return this.#deny(res, 403, 'This upload link is not valid (expired or already used)');
      const expected = this.#sign(id, row.size, row.contentType, expires);
      if (sig.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) return this.#deny(res, 403, 'This upload link is not valid');
      const declared = Number(req.headers['content-length']);
      if (declared !== row.size) return this.#deny(res, 400, `Send exactly ${row.size} bytes (Content-Length)`);
      if ((req.headers['content-type'] ?? '').toLowerCase() !== row.contentType) return this.#deny(res, 400, `Send Content-Type: ${row.contentType}`);
      let received = 0;
      // Unique per request: two PUTs of one slot (on one node or two) never share a file.
      const tmp = `${file}.${crypto.randomBytes(6).toString('hex')}.part`;
      try {
        await pipeline(
          req,
          async function* (source) {
            for await (const chunk of source) {
              received += (chunk as Buffer).length;
              if (received > row.size) throw new Error('too large');
              yield chunk;
            }
          },
          fs.createWriteStream(tmp, { mode: 0o600 }),
        );
      } catch {
        fs.rmSync(tmp, { force: true });
        return this.#deny(res, 400, 'The upload was interrupted or larger than declared');
      }
      // The database decides which PUT counts; the file moves into place only for that one.
      if (!(await this.#o.records.complete(id))) {
        fs.rmSync(tmp, { force: true });
        return this.#deny(res, 403, 'This upload link is not valid (expired or already used)');
      }
      fs.renameSync(tmp, file);
      res.writeHead(201, { 'Content-Type': 'text/plain' });
      res.end('Created');
      return true;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (!row || !row.complete || !fs.existsSync(file)) return this.#deny(res, 404, 'No such file');
      const inline = INLINE_TYPES.test(row.contentType);
      res.writeHead(200, {
        'Content-Type': row.contentType,
        'Content-Length': row.size,
        'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(row.filename)}`,
        'Cache-Control': 'private, max-age=31536000, immutable',
        'Content-Security-Policy': "default-src 'none'; sandbox",
        'X-Content-Type-Options': 'nosniff',
      });
      if (req.method === 'HEAD') res.end();
      else fs.createReadStream(file).pipe(res);
      return true;
    }
    return this.#deny(res, 405, 'Use PUT to upload and GET to download');
  }

  #deny(res: ServerResponse, status: number, message: string): true {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'upload', message } }));
    return true;
  }

  #sign(id: string, size: number, type: string, expires: number): string {
    return crypto.createHmac('sha256', this.#o.key).update(`${id}\n${size}\n${type}\n${expires}`).digest('base64url');
  }
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MB` : `${Math.round(n / 1024)} KB`;
}
