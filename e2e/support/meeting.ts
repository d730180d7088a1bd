/** Meeting helpers: join through the UI, and per-participant media statistics from the page. */
import { expect, type Frame, type Page } from '@playwright/test';

export interface StreamStats {
  participantId: string;
  source: 'mic' | 'camera' | 'screen';
  kind: 'audio' | 'video';
  bytesReceived: number;
  framesDecoded: number;
}

/** What the page receives, per remote participant (display name) and source. */
export async function receiveStats(page: Page | Frame): Promise<Record<string, StreamStats>> {
  return page.evaluate(async () => {
    type Client = {
      receiveStats(): Promise<StreamStats[]>;
      state: { participants: { id: string; displayName: string }[] };
    };
    const client = (window as unknown as { parleyMeeting?: Client }).parleyMeeting;
    if (!client) return {};
    const names = new Map(client.state.participants.map((p) => [p.id, p.displayName]));
    const out: Record<string, StreamStats> = {};
    for (const s of await client.receiveStats()) out[`${names.get(s.participantId)}/${s.source}`] = s;
    return out;
  });
}

/**
 * Waits until, for every named sender, audio bytes rise and video bytes and decoded frames
 * rise on the page (getStats via mediasoup-client consumers).
 */
export async function expectReceiving(page: Page | Frame, label: string, from: string[], sources: ('mic' | 'camera' | 'screen')[] = ['mic', 'camera']): Promise<void> {
  const before = await receiveStats(page);
  await expect
    .poll(
      async () => {
        const now = await receiveStats(page);
        const result: Record<string, boolean> = {};
        for (const name of from) {
          for (const source of sources) {
            const key = `${name}/${source}`;
            const a = before[key];
            const b = now[key];
            const bytes = Boolean(b) && b.bytesReceived > (a?.bytesReceived ?? 0);
            const frames = source === 'mic' || (Boolean(b) && b.framesDecoded > (a?.framesDecoded ?? 0) + 3);
            result[key] = bytes && frames;
          }
        }
        return result;
      },
      { message: `${label} should receive media from ${from.join(', ')}`, timeout: 30_000 },
    )
    .toEqual(Object.fromEntries(from.flatMap((n) => sources.map((s) => [`${n}/${s}`, true]))));
}

/** On the pre-join screen: joins and waits until the meeting shows. */
export async function joinFromPreJoin(page: Page, options: { guestName?: string } = {}): Promise<void> {
  if (options.guestName) await page.getByLabel('Your name').fill(options.guestName);
  await page.getByRole('button', { name: 'Join now' }).click();
  await expect(page.getByRole('button', { name: 'Leave the meeting' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('reconnecting')).toHaveCount(0, { timeout: 30_000 });
}

export const tile = (page: Page, name: string) => page.locator(`[data-testid="meeting-tile"][data-name="${name}"]`);
