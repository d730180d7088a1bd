/** Chat and calling steps through the web app's UI, as a user does them. */
import { expect, type Page } from '@playwright/test';

/** The people list's entry for a user. */
export const contact = (page: Page, username: string) => page.locator(`[data-contact="${username}"]`);

export async function openChat(page: Page, username: string): Promise<void> {
  await contact(page, username).click();
  await expect(page.getByTestId('chat-pane')).toBeVisible();
}

/** Types a message in the open conversation and sends it with Enter. */
export async function say(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** `a` asks `b` to be a contact and `b` accepts. */
export async function befriend(a: Page, b: Page, bUsername: string, aUsername: string): Promise<void> {
  await a.getByPlaceholder('Add a contact…').fill(bUsername);
  await a.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(b.getByTestId('contact-request')).toContainText(aUsername);
  await b.getByTestId('contact-request').getByRole('button', { name: 'Accept' }).click();
  await expect(contact(a, bUsername)).toBeVisible();
  await expect(contact(b, aUsername)).toBeVisible();
}

/** Calls someone by name from the Calls tab. */
export async function startCall(caller: Page, callee: string, kind: 'Video call' | 'Audio call' = 'Video call'): Promise<void> {
  await caller.getByRole('tab', { name: 'Calls' }).click();
  await caller.getByLabel('Name to call').fill(callee);
  await caller.getByRole('button', { name: kind, exact: true }).click();
}
