/**
 * The rooms this node hosts. Creates a room on first join (once, even when several people
 * arrive at the same moment), keeps an empty room for a grace period, then closes it and
 * reports it released so the node can drop its pin in the registry.
 */
import type { Logger } from '../../../server-common/logger.js';
import { TypedEmitter } from '../../../server-common/typedEmitter.js';
import type { MediaWorker, WorkerPool } from '../media/workerPool.js';
import { Room, type RoomOptions } from './room.js';
import { RoomError } from './roomError.js';

export interface RoomManagerOptions {
  pool: WorkerPool;
  maxConferences: number;
  emptyGraceMs: number;
  room: Omit<RoomOptions, 'name' | 'pool' | 'logger'>;
  logger: Logger;
  /** Runs before a room is created here; throws to refuse (the conference belongs to another node). */
  beforeCreate?: (name: string) => Promise<void>;
}

export type RoomManagerEvents = {
  /** The room is gone from this node (empty past its grace period, or closed): release its pin. */
  released: [name: string];
};

export class RoomManager extends TypedEmitter<RoomManagerEvents> {
  readonly #options: RoomManagerOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  readonly #graceTimers = new Map<string, NodeJS.Timeout>();

  constructor(options: RoomManagerOptions) {
    super();
    this.#options = options;
    options.pool.on('workerdied', (worker) => this.#onWorkerDied(worker));
  }

  get size(): number {
    return this.#rooms.size;
  }

  /** Names of the conferences hosted here (for the registry heartbeat). */
  hosted(): string[] {
    return [...this.#rooms.keys(), ...this.#creating.keys()];
  }

  get(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  async getOrCreate(name: string): Promise<Room> {
    const existing = this.#rooms.get(name);
    if (existing) {
      this.#cancelGrace(name);
      return existing;
    }
    let creating = this.#creating.get(name);
    if (!creating) {
      if (this.#rooms.size + this.#creating.size >= this.#options.maxConferences) {
        throw new RoomError('node-full', 'This conference server is full; try again in a moment.');
      }
      creating = (this.#options.beforeCreate?.(name) ?? Promise.resolve())
        .then(() =>
          Room.create({
            ...this.#options.room,
            name,
            pool: this.#options.pool,
            logger: this.#options.logger,
          }),
        )
        .then(
        (room) => {
          this.#creating.delete(name);
          this.#rooms.set(name, room);
          room.on('empty', () => this.#startGrace(name, room));
          room.once('closed', () => this.#forget(name, room));
          return room;
        },
        (err: unknown) => {
          this.#creating.delete(name);
          throw err;
        },
      );
      this.#creating.set(name, creating);
    }
    return creating;
  }

  /** Closes a room; its participants are told to rejoin through the gateway. */
  close(name: string, reason: string): void {
    this.#rooms.get(name)?.close(reason);
  }

  closeAll(reason: string): void {
    for (const room of [...this.#rooms.values()]) room.close(reason);
  }

  #startGrace(name: string, room: Room): void {
    this.#cancelGrace(name);
    const timer = setTimeout(() => {
      this.#graceTimers.delete(name);
      if (room.participantCount === 0) room.close('empty');
    }, this.#options.emptyGraceMs);
    timer.unref();
    this.#graceTimers.set(name, timer);
  }

  #cancelGrace(name: string): void {
    const timer = this.#graceTimers.get(name);
    if (timer) clearTimeout(timer);
    this.#graceTimers.delete(name);
  }

  #forget(name: string, room: Room): void {
    this.#cancelGrace(name);
    if (this.#rooms.get(name) === room) this.#rooms.delete(name);
    this.emit('released', name);
  }

  #onWorkerDied(worker: MediaWorker): void {
    for (const room of [...this.#rooms.values()]) {
      if (room.usesWorker(worker)) room.close('media process restarted');
    }
  }
}
