/** One WebSocket to an SFU node's /sfu endpoint: requests with replies, and notifications. */
import type {
  SfuErrorCode,
  SfuMethod,
  SfuNotificationMessage,
  SfuNotificationName,
  SfuNotifications,
  SfuRequests,
  SfuResponseMessage,
} from '../../../contracts/sfu/signalling';

export class SfuRequestError extends Error {
  constructor(
    readonly code: SfuErrorCode | 'timeout' | 'closed',
    message: string,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 15_000;

type NotificationHandler = <N extends SfuNotificationName>(name: N, data: SfuNotifications[N]) => void;

export class SfuConnection {
  readonly #ws: WebSocket;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (m: SfuResponseMessage) => void; timer: number }>();
  #closedByUs = false;

  private constructor(ws: WebSocket, onNotification: NotificationHandler, onClose: (code: number, byUs: boolean) => void) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      let message: SfuResponseMessage | SfuNotificationMessage;
      try {
        message = JSON.parse(String(event.data)) as SfuResponseMessage | SfuNotificationMessage;
      } catch {
        return;
      }
      if ('notification' in message) {
        onNotification(message.notification, message.data);
        return;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      window.clearTimeout(pending.timer);
      pending.resolve(message);
    };
    ws.onclose = (event) => {
      for (const [id, p] of this.#pending) {
        window.clearTimeout(p.timer);
        p.resolve({ id, ok: false, error: { code: 'internal', message: 'The connection to the meeting closed.' } });
      }
      this.#pending.clear();
      onClose(event.code, this.#closedByUs);
    };
  }

  /** Opens the WebSocket; rejects when the node cannot be reached. */
  static open(url: string, onNotification: NotificationHandler, onClose: (code: number, byUs: boolean) => void): Promise<SfuConnection> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = window.setTimeout(() => {
        ws.close();
        reject(new SfuRequestError('timeout', 'The meeting server did not answer.'));
      }, REQUEST_TIMEOUT_MS);
      ws.onopen = () => {
        window.clearTimeout(timer);
        resolve(new SfuConnection(ws, onNotification, onClose));
      };
      ws.onerror = () => {
        window.clearTimeout(timer);
        reject(new SfuRequestError('closed', 'Cannot reach the meeting server.'));
      };
    });
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  async request<M extends SfuMethod>(method: M, data: SfuRequests[M][0]): Promise<SfuRequests[M][1]> {
    if (!this.open) throw new SfuRequestError('closed', 'Not connected to the meeting.');
    const id = this.#nextId++;
    const reply = new Promise<SfuResponseMessage>((resolve) => {
      const timer = window.setTimeout(() => {
        this.#pending.delete(id);
        resolve({ id, ok: false, error: { code: 'internal', message: 'The meeting server did not answer in time.' } });
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, { resolve, timer });
    });
    this.#ws.send(JSON.stringify({ id, method, data }));
    const message = await reply;
    if (!message.ok) throw new SfuRequestError(message.error.code, message.error.message);
    return message.data as SfuRequests[M][1];
  }

  close(): void {
    this.#closedByUs = true;
    this.#ws.close(1000);
  }
}
