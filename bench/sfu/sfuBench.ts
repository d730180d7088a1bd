/**
 * SFU benchmark (`npm run bench`):
 *   - join time in headless Chromium: join API call → first remote video frame decoded, p50/p95;
 *   - worker CPU per forwarded stream, Parley's room against a bare mediasoup router in the
 *     same run (ffmpeg RTP into PlainTransports, consumers on PlainTransports), alternating
 *     the two so drift hits both alike;
 *   - consumers one worker (one core) forwards before packets are lost;
 *   - a 10-person meeting of headless Chromium participants on this machine.
 */
import { percentile } from '../support/benchEnv.js';
import { BareRouterSetup, ParleyRoomSetup, measure, type ForwardingSetup } from './forwarding.js';
import { measureJoinTimes } from './joinTime.js';
import { RtpSender, RtpSink, VIDEO, requireFfmpeg } from './rtpSource.js';
import { measureMeeting } from './tenPeople.js';

const JOIN_RUNS = Number(process.env.BENCH_JOIN_RUNS ?? 12);
/** Receivers in the CPU comparison; each consumes one video and one audio stream. */
const CPU_RECEIVERS = Number(process.env.BENCH_CPU_RECEIVERS ?? 200);
const CPU_ROUNDS = 3;
const WARMUP_S = 3;
const WINDOW_S = 10;
/** Capacity: video senders, and receivers added per step (each consumes every sender). */
const CAPACITY_SENDERS = 4;
const CAPACITY_STEP = 25;
const CAPACITY_MAX_STEPS = 30;
const CAPACITY_WINDOW_S = 4;

const report = (k: string, v: string) => console.log(`  ${k.padEnd(66)} ${v}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

async function joinTime(): Promise<void> {
  const times = await measureJoinTimes(JOIN_RUNS);
  const ok = times.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
  report(
    `join → first remote frame, headless Chromium (${ok.length}/${times.length} joined)`,
    `p50 ${percentile(ok, 50).toFixed(0)} ms, p95 ${percentile(ok, 95).toFixed(0)} ms`,
  );
}

/** Builds a setup, feeds it, lets it settle, measures one window, tears it down. */
interface CpuRun {
  cpu: number;
  consumers: number;
  lost: number;
  delivered: number;
}

async function cpuRun(kind: 'bare' | 'parley', sinkPort: number): Promise<CpuRun> {
  const setup: ForwardingSetup =
    kind === 'bare' ? await BareRouterSetup.create(['video', 'audio'], sinkPort) : await ParleyRoomSetup.create(['video', 'audio'], sinkPort);
  const sender = new RtpSender(setup.streams);
  try {
    await setup.addReceivers(CPU_RECEIVERS);
    await sleep(WARMUP_S * 1000);
    const m = await measure(setup, WINDOW_S);
    return { cpu: m.cpu, consumers: setup.consumerCount, lost: m.lost, delivered: m.delivered };
  } finally {
    sender.stop();
    setup.close();
  }
}

async function cpuPerStream(sinkPort: number): Promise<void> {
  const runs: Record<'bare' | 'parley', CpuRun[]> = { bare: [], parley: [] };
  for (let round = 0; round < CPU_ROUNDS; round++) {
    for (const kind of round % 2 === 0 ? (['bare', 'parley'] as const) : (['parley', 'bare'] as const)) runs[kind].push(await cpuRun(kind, sinkPort));
  }
  const perStream = (k: 'bare' | 'parley') => runs[k].reduce((s, r) => s + r.cpu / r.consumers, 0) / runs[k].length;
  const bare = perStream('bare');
  const parley = perStream('parley');
  const mean = (k: 'bare' | 'parley') => runs[k].reduce((s, r) => s + r.cpu, 0) / runs[k].length;
  const streams = runs.parley[0].consumers;
  report(
    `worker CPU, ${CPU_RECEIVERS} receivers × (VP8 ${VIDEO.width}x${VIDEO.height} ${VIDEO.kbps} kbit/s + Opus)`,
    `bare router ${pct(mean('bare'))} of a core (${runs.bare[0].consumers} streams), Parley room ${pct(mean('parley'))} (${streams} streams)`,
  );
  report(
    'worker CPU per forwarded stream, % of a core (plain RTP)',
    `bare ${(bare * 100).toFixed(4)}%, Parley ${(parley * 100).toFixed(4)}% (mean of ${CPU_ROUNDS} runs each)`,
  );
  report("Parley room overhead over a bare router (target ≤ 5%)", `${((parley / bare - 1) * 100).toFixed(1)}%`);
  const all = [...runs.bare, ...runs.parley];
  report(
    'packets lost into the worker / forwarded of those received',
    `${all.reduce((s, r) => s + r.lost, 0)} / ${pct(Math.min(...all.map((r) => r.delivered)))} (worst run)`,
  );
}

async function capacity(sinkPort: number): Promise<void> {
  const setup = await ParleyRoomSetup.create(Array(CAPACITY_SENDERS).fill('video'), sinkPort);
  const sender = new RtpSender(setup.streams);
  let best = 0;
  let bestCpu = 0;
  let stoppedBy = `no loss up to ${CAPACITY_MAX_STEPS * CAPACITY_STEP * CAPACITY_SENDERS} consumers (the step limit)`;
  try {
    await sleep(2000);
    for (let step = 1; step <= CAPACITY_MAX_STEPS; step++) {
      await setup.addReceivers(CAPACITY_STEP);
      await sleep(1500);
      const m = await measure(setup, CAPACITY_WINDOW_S);
      const lossRate = m.lost / Math.max(1, m.packetsIn + m.lost);
      console.log(
        `    ${String(setup.consumerCount).padStart(5)} consumers: worker ${pct(m.cpu)} of a core, input loss ${(lossRate * 100).toFixed(3)}%, forwarded ${pct(m.delivered)}`,
      );
      if (lossRate > 0.0005 || m.delivered < 0.995) {
        stoppedBy = `at ${setup.consumerCount}: input loss ${(lossRate * 100).toFixed(2)}%, forwarded ${pct(m.delivered)}`;
        break;
      }
      best = setup.consumerCount;
      bestCpu = m.cpu;
      // A saturated worker only queues: loss follows, and every further step gets slower to set up.
      if (m.cpu >= 0.95) {
        stoppedBy = 'worker saturated, stopped adding';
        break;
      }
    }
  } finally {
    sender.stop();
    setup.close();
  }
  report(
    `consumers per worker (one core) without loss, VP8 ${VIDEO.kbps} kbit/s, plain RTP`,
    `${best} (worker at ${pct(bestCpu)}; ${stoppedBy})`,
  );
}

async function tenPeople(): Promise<void> {
  const m = await measureMeeting(10);
  report(
    `${m.people}-person meeting, headless Chromium (real UI, simulcast, 320x180 cameras)`,
    `${m.joined}/${m.people} joined; SFU workers ${pct(m.sfuWorkersCores)}, gateway ${pct(m.gatewayCores)} of a core`,
  );
  report(`  … others received, per participant (of ${m.people - 1}): audio`, m.audioFrom.join(' '));
  report('  … video', m.videoFrom.join(' '));
  console.log('    (all ten browsers share these 2 cores with the server; where they starve, fewer streams arrive)');
}

async function main(): Promise<void> {
  requireFfmpeg();
  console.log('\nSFU benchmark (mediasoup workers on loopback; ffmpeg replays a VP8/Opus clip as RTP)');
  const sink = new RtpSink();
  try {
    const sinkPort = await sink.port;
    await joinTime();
    await cpuPerStream(sinkPort);
    await capacity(sinkPort);
    await tenPeople();
  } finally {
    sink.stop();
  }
  console.log('  reference (issue, same build): one VP8 producer to 500 consumers ≈ 32% of a core with plain RTP, ≈ 70% with SRTP');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
