/**
 * The status page in a real browser (issue #14 item 4): `mcx testbed` kept running as a process prints
 * `status page http://127.0.0.1:PORT/`; Debian's headless `chromium` (driven by playwright-core over the DevTools
 * protocol, a fresh empty profile, no browser of its own) loads it and shows the demo's ladders; then, with the page
 * open, a new AKA user is provisioned through the HSS and partner MMS admin APIs (so its first registration takes a
 * MAR of its own) and SIPp 3.6.1 registers it under its partner identities. Without a reload the page shows the new
 * subscriber and mapping (state pushed) and the ladder of that registration: SIPp's Call-ID, the partner and primary
 * identities, TS 23.280 §10.6.2.2 steps 2–13 in order, the 200. Screenshots go to test-artifacts/ (desktop and
 * phone width); on a phone-sized window nothing overflows sideways.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { caPaths } from '../../certs/layout.ts';
import type { StatusSnapshot } from '../../deploy/status/server.ts';
import { layoutOf } from '../../deploy/topology.ts';
import { adminRequest, type AdminTarget } from '../../lib/admin/client.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { freePort } from '../helpers/ports.ts';
import { ROOT, startMcx, type Proc } from '../helpers/process.ts';
import { runSipp, writeAkaScenario } from '../helpers/sipp.ts';

const CHROMIUM = '/usr/bin/chromium';
/** As root, in a container: no sandbox, no GPU, nothing fetched from anywhere. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(ROOT, 'test-artifacts');

/** A key SIPp 3.6.1 reads right (not starting with 0x00). */
function sippSafeKey(): string {
  for (;;) {
    const b = randomBytes(16);
    if (b[0] !== 0) return b.toString('hex');
  }
}

/** The page's root element's scroll and client widths (evaluated in the page; this file has no DOM types). */
function rootWidths(page: Page): Promise<{ scroll: number; client: number }> {
  return page.evaluate(() => {
    const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return { scroll: root.scrollWidth, client: root.clientWidth };
  });
}

describe('status page in headless Chromium: a SIPp registration made after the page loaded appears as its ladder, no reload', () => {
  let tmp: string;
  let dir: string;
  let proc: Proc;
  let url: string;
  let udp: number;
  let context: BrowserContext;
  let page: Page;
  const frank = {
    partner: { impi: 'frank.mig@partner.mcx.test', impu: 'sip:frank.mig@partner.mcx.test' },
    primary: { impi: 'frank@primary.mcx.test', impu: 'sip:frank@primary.mcx.test' }, k: sippSafeKey(), op: sippSafeKey(), amf: '8000',
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is needed: the test command installs the Debian package chromium (scripts/debian-peers.sh)`);
    tmp = await mkdtemp(join(tmpdir(), 'mcx-status-chromium-'));
    dir = join(tmp, 'testbed');
    proc = startMcx(['testbed', '--ports', 'auto', '--dir', dir, '--status-port', 'auto']);
    const ready = await proc.waitFor(/^testbed: ready udp=127\.0\.0\.1:(\d+) /m, 60_000);
    udp = Number(ready[1]);
    const line = await proc.waitFor(/^ {2}status page (http:\/\/127\.0\.0\.1:\d+\/) /m, 5000);
    url = line[1] as string;
    context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? await context.newPage();
    await mkdir(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await context?.close();
    await proc?.stop('SIGTERM');
    await rm(tmp, { recursive: true, force: true });
  });

  test('the summary prints the page; Chromium loads it live with the demo\'s two ladders (static and dynamic)', async () => {
    assert.match(proc.output(), /^ {2}status page http:\/\/127\.0\.0\.1:\d+\/ {3}\(/m);
    await page.goto(url);
    await page.waitForSelector('#link[data-state="live"]', { timeout: 10_000 });
    await page.waitForSelector('.reg[data-flow="dynamic"][data-result="200"]', { timeout: 10_000 });
    assert.equal(await page.locator('.reg[data-flow="static"][data-result="200"]').count(), 1);
    // The dynamic ladder starts at step 1 (the IdMSs') and carries the migration's mcptt_id.
    const dynamicSteps = await page.locator('.reg[data-flow="dynamic"] .row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-step')));
    assert.deepEqual([...new Set(dynamicSteps)], ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13']);
    const widths = await rootWidths(page);
    assert.ok(widths.scroll <= widths.client, `no horizontal scrolling at 1280 px: ${JSON.stringify(widths)}`);
    await page.evaluate(() => Object.assign(globalThis, { loadedOnce: true }));
  });

  test('TS 23.280 §10.6.2.2: a new user provisioned and registered by SIPp with the page open → its subscriber, mapping and ladder (steps 2–13, 200) appear without reload', { timeout: 90_000 }, async (t) => {
    const snapshot = JSON.parse(await (await fetch(`${url}api/status`)).text()) as StatusSnapshot;
    const layout = layoutOf(dir);
    const target = async (role: string, state: string, system: string): Promise<AdminTarget> => ({
      url: snapshot.state.roles.find((r) => r.name === role)?.addresses.adminUrl ?? '',
      token: (await readFile(join(layout.stateDir(state as 'hss'), 'admin-token'), 'utf8')).trim(),
      ca: await readFile(caPaths(layout.pki, system).cert, 'utf8'),
    });
    await adminApi.add(await target('hss', 'hss', 'primary'), {
      impi: frank.primary.impi, impus: [frank.primary.impu], k: frank.k, op: frank.op, amf: frank.amf, allowed_partners: ['static:partner.mcx.test'],
    });
    await adminRequest(await target('partner-mms', 'mms', 'partner'), 'POST', 'admin/v1/mappings', {
      json: { partner_impi: frank.partner.impi, primary_impi: frank.primary.impi, primary_realm: 'primary.mcx.test', impus: [{ partner: frank.partner.impu, primary: frank.primary.impu }] },
    });
    await page.locator('#subscribers td', { hasText: frank.primary.impi }).first().waitFor({ timeout: 10_000 });
    await page.locator('#mappings td', { hasText: frank.partner.impi }).first().waitFor({ timeout: 10_000 });

    const scenario = writeAkaScenario({ domain: 'partner.mcx.test', ...frank.partner, k: frank.k, op: frank.op, amf: frank.amf }, tmp);
    const r = await runSipp(`127.0.0.1:${udp}`, scenario, { transport: 'udp', localPort: await freePort() });
    assert.equal(r.code, 0, r.output.slice(-2000));

    const card = page.locator('.reg[data-result="200"]', { hasText: frank.partner.impu });
    await card.waitFor({ timeout: 10_000 });
    assert.match(await card.getAttribute('data-call-id') ?? '', /^\d+-\d+@127\.0\.0\.1$/, 'SIPp\'s Call-ID');
    const text = await card.innerText();
    for (const id of [frank.partner.impi, frank.partner.impu, frank.primary.impi, frank.primary.impu]) assert.ok(text.includes(id), `${id} on the card:\n${text}`);
    const steps = await card.locator('.ladder .row').evaluateAll((rows) => rows.map((x) => x.getAttribute('data-step')));
    assert.deepEqual(steps, ['2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13'], 'one arrow per step, in order');
    assert.match(await card.locator('.row[data-step="13"]').innerText(), /200 OK/);
    assert.equal(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce), true, 'the same document: no reload');
    await page.locator('#bindings td', { hasText: frank.partner.impu }).first().waitFor({ timeout: 10_000 });

    const shot = join(ARTIFACTS, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    await card.screenshot({ path: join(ARTIFACTS, 'status-page-ladder.png') });
    t.diagnostic(`screenshots: ${shot}, ${join(ARTIFACTS, 'status-page-ladder.png')}`);
  });

  test('on a phone-sized window (390×844) the page does not scroll sideways and the ladder keeps every step', async (t) => {
    await page.setViewportSize({ width: 390, height: 844 });
    const widths = await rootWidths(page);
    assert.ok(widths.scroll <= widths.client, `no horizontal scrolling: ${JSON.stringify(widths)}`);
    const card = page.locator('.reg[data-result="200"]', { hasText: frank.partner.impu });
    assert.equal(await card.locator('.ladder .row').count(), 12);
    const shot = join(ARTIFACTS, 'status-page-phone.png');
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot: ${shot}`);
  });
});
