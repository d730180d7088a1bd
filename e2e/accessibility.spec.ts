/**
 * axe-core (WCAG 2 A and AA rules) on every view a new user meets, on a desktop and a
 * phone-sized screen: sign-in, the home views (chats, calls, meetings), a conversation, a group
 * chat, the settings dialog, Phones & apps, the meeting's pre-join screen and a meeting with the
 * participants panel open. Nothing serious or critical, and none of the moderate structure rules
 * (a main landmark, an h1, content inside landmarks).
 */
import { AxeBuilder } from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { openUser, type UserPage } from './support/browser.js';
import { befriend, openChat, say } from './support/chat.js';
import { joinFromPreJoin } from './support/meeting.js';

const PASSWORD = 'accessible-to-all-1';
/** Moderate rules the web app keeps to as well (its structure for screen readers). */
const STRUCTURE_RULES = ['landmark-one-main', 'page-has-heading-one', 'region'];

test.describe.configure({ mode: 'serial' });

let gateway: GatewayProcess;

test.beforeAll(async () => {
  gateway = new GatewayProcess();
  // A pair of users per screen size: each test starts from people who are not contacts yet.
  for (const size of ['desktop', 'phone']) {
    gateway.addUser(`alice-${size}`, PASSWORD, 'Alice Liddell');
    gateway.addUser(`bob-${size}`, PASSWORD, 'Bob Builder');
  }
  await gateway.start();
});

test.afterAll(async () => {
  await gateway?.stop();
});

/** What axe-core finds that must not be there, by view. */
async function findings(page: Page, view: string, include?: string): Promise<string[]> {
  let builder = new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'best-practice']);
  if (include) builder = builder.include(include);
  const { violations } = await builder.analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical' || (!include && STRUCTURE_RULES.includes(v.id)))
    .map((v) => `${view}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(', ')}`);
}

for (const [size, viewport] of [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`every view passes axe-core on a ${size} screen`, async ({ browser }, testInfo) => {
    test.setTimeout(120_000);
    const found: string[] = [];
    const signInPage = await openUser(browser, gateway.url, `alice-${size}`, { viewport });
    found.push(...(await findings(signInPage.page, 'sign-in')));
    await signInPage.context.close();

    const alice: UserPage = await openUser(browser, gateway.url, `alice-${size}`, { viewport, signIn: { password: PASSWORD } });
    const bob: UserPage = await openUser(browser, gateway.url, `bob-${size}`, { viewport, signIn: { password: PASSWORD } });
    const page = alice.page;
    found.push(...(await findings(page, 'home (chats)')));
    await befriend(page, bob.page, `bob-${size}`, `alice-${size}`);
    await openChat(page, `bob-${size}`);
    await say(page, 'Hello Bob, see https://example.org/notes');
    found.push(...(await findings(page, 'a conversation')));
    if (size === 'phone') await page.getByRole('button', { name: /Back/ }).first().click();

    await page.getByRole('button', { name: '+ New group' }).click();
    found.push(...(await findings(page, 'new group dialog')));
    await page.getByLabel('Name', { exact: true }).fill('Reading group');
    await page.getByRole('checkbox', { name: 'Bob Builder' }).check();
    await page.getByRole('button', { name: 'Create group' }).click();
    // The new group opens at once (on a phone it takes the whole screen).
    await expect(page.getByTestId('chat-pane')).toContainText('Reading group');
    found.push(...(await findings(page, 'a group chat')));

    await page.getByRole('tab', { name: 'Calls' }).click();
    found.push(...(await findings(page, 'calls')));
    await page.getByRole('tab', { name: 'Meetings' }).click();
    found.push(...(await findings(page, 'meetings')));

    await page.getByRole('button', { name: /^Settings/ }).click();
    await expect(page.getByRole('dialog', { name: 'Audio and video' })).toBeVisible();
    found.push(...(await findings(page, 'settings dialog', '[role=dialog]')));
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByTestId('open-devices').click();
    await expect(page.getByRole('dialog', { name: 'Use a phone or an XMPP client' })).toBeVisible();
    found.push(...(await findings(page, 'phones & apps dialog', '[role=dialog]')));
    await page.getByRole('button', { name: 'Done' }).click();

    await page.getByRole('button', { name: 'New meeting' }).click();
    await expect(page.getByLabel('Your camera preview')).toBeVisible();
    found.push(...(await findings(page, 'pre-join')));
    await joinFromPreJoin(page);
    await page.getByRole('button', { name: 'Participants' }).click();
    found.push(...(await findings(page, 'meeting with participants')));
    await page.screenshot({ path: testInfo.outputPath(`meeting-${size}.png`) });

    await alice.context.close();
    await bob.context.close();
    expect(found).toEqual([]);
  });
}
