/**
 * Ring and ringback tones made with Web Audio, so no sound files are needed.
 * Incoming: a two-tone ring (440+480 Hz, 2 s on, 4 s off). Outgoing ringback: 425 Hz, 1 s on, 4 s off.
 */
let ctx: AudioContext | undefined;

/** Call from a user gesture (sign-in click) so browsers allow sound later. */
export function unlockAudio(): void {
  try {
    ctx ??= new AudioContext();
    void ctx.resume();
  } catch {
    // No Web Audio: calls still work, silently.
  }
}

export class Tone {
  #timer: number | undefined;
  #nodes: AudioNode[] = [];

  constructor(
    private readonly freqs: number[],
    private readonly onMs: number,
    private readonly offMs: number,
  ) {}

  start(): void {
    if (this.#timer !== undefined) return;
    unlockAudio();
    const burst = () => {
      if (!ctx) return;
      const gain = ctx.createGain();
      gain.gain.value = 0.08;
      gain.connect(ctx.destination);
      const oscs = this.freqs.map((f) => {
        const o = ctx!.createOscillator();
        o.frequency.value = f;
        o.connect(gain);
        o.start();
        o.stop(ctx!.currentTime + this.onMs / 1000);
        return o;
      });
      this.#nodes = [gain, ...oscs];
    };
    burst();
    this.#timer = window.setInterval(burst, this.onMs + this.offMs);
  }

  stop(): void {
    window.clearInterval(this.#timer);
    this.#timer = undefined;
    for (const n of this.#nodes) {
      try {
        (n as OscillatorNode).stop?.();
      } catch {
        // already stopped
      }
      n.disconnect();
    }
    this.#nodes = [];
  }
}

export const ringtone = new Tone([440, 480], 2000, 4000);
export const ringback = new Tone([425], 1000, 4000);
