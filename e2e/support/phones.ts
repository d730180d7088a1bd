/** A browser user calling and answering phones, and what its peer connections carry (needs CAPTURE_PEER_CONNECTIONS). */
import { expect, type Page } from '@playwright/test';

/** Audio bytes the browser has received and sent on its live calls. */
export async function audioBytes(page: Page): Promise<{ received: number; sent: number }> {
  return page.evaluate(async () => {
    const pcs = ((window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? []).filter((pc) => pc.connectionState !== 'closed');
    const out = { received: 0, sent: 0 };
    for (const pc of pcs) {
      (await pc.getStats()).forEach((s: { type: string; kind?: string; bytesReceived?: number; bytesSent?: number }) => {
        if (s.kind !== 'audio') return;
        if (s.type === 'inbound-rtp') out.received += s.bytesReceived ?? 0;
        if (s.type === 'outbound-rtp') out.sent += s.bytesSent ?? 0;
      });
    }
    return out;
  });
}

export async function expectAudioBothWaysInBrowser(page: Page, label: string): Promise<void> {
  const before = await audioBytes(page);
  await expect
    .poll(
      async () => {
        const now = await audioBytes(page);
        return { received: now.received > before.received + 2000, sent: now.sent > before.sent + 2000 };
      },
      { message: `${label}: the browser should receive and send audio`, timeout: 20_000 },
    )
    .toEqual({ received: true, sent: true });
}

export async function browserCalls(page: Page, user: string): Promise<void> {
  await page.getByRole('tab', { name: 'Calls' }).click();
  await page.getByLabel('Name to call').fill(user);
  await page.getByRole('button', { name: 'Audio call', exact: true }).click();
  await expect(page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active', { timeout: 20_000 });
}

export async function browserAnswers(page: Page): Promise<void> {
  await page.getByTestId('incoming-call').getByRole('button', { name: 'Accept' }).click({ timeout: 20_000 });
  await expect(page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active', { timeout: 20_000 });
}

export async function browserHangsUp(page: Page): Promise<void> {
  await page.getByRole('button', { name: /Hang up|End call/ }).first().click();
  await expect(page.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
}

