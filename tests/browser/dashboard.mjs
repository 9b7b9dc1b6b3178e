// End-to-end tests of the dashboard (/admin) in a real browser: Debian's
// Chromium, driven by playwright-core (installed by setup.sh next to this
// file). It starts scimlink on a free loopback port with a fresh database,
// walks through what an owner, a support person and a new user do, and stops
// at the first step that fails.
//
//   bash tests/browser/setup.sh
//   node tests/browser/dashboard.mjs [--database-url URL] [--bin PATH] [--screenshots DIR]
//
// --database-url  an EMPTY database (default: a new SQLite file in a temp
//                 dir); a postgres:// URL works too (create the database first)
// --bin           the scimlink binary (default: $SCIMLINK_BIN, else
//                 target/debug/scimlink of this repository)
// --screenshots   also save full-page screenshots (1280x800) of each page
//                 into DIR, e.g. docs/screenshots

import crypto from 'node:crypto';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error('tests/browser: playwright-core is not installed; run: bash tests/browser/setup.sh');
  process.exit(1);
}

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const opts = {
    databaseUrl: null,
    bin: process.env.SCIMLINK_BIN || path.join(repo, 'target', 'debug', 'scimlink'),
    screenshots: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, null];
    const value = () => {
      if (inline !== null) return inline;
      if (i + 1 >= argv.length) usage(`${name} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case '--database-url': opts.databaseUrl = value(); break;
      case '--bin': opts.bin = value(); break;
      case '--screenshots': opts.screenshots = value(); break;
      case '-h': case '--help': usage(null); break;
      default: usage(`unknown argument ${arg}`);
    }
  }
  return opts;
}

function usage(problem) {
  if (problem) console.error(`dashboard.mjs: ${problem}`);
  console.error('usage: node tests/browser/dashboard.mjs [--database-url URL] [--bin PATH] [--screenshots DIR]');
  process.exit(problem ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.error(`dashboard.mjs: ${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  process.exit(1);
}
if (!existsSync(opts.bin)) {
  console.error(`dashboard.mjs: no scimlink binary at ${opts.bin}: build it (cargo build) or pass --bin / SCIMLINK_BIN`);
  process.exit(1);
}
const tmp = mkdtempSync(path.join(os.tmpdir(), 'scimlink-browser-'));
const databaseUrl = opts.databaseUrl || `sqlite://${path.join(tmp, 'browser.db')}?mode=rwc`;
const shotDir = opts.screenshots ? path.resolve(process.cwd(), opts.screenshots) : null;
if (shotDir) mkdirSync(shotDir, { recursive: true });

// ---------------------------------------------------------------- the server

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function run(args) {
  return new Promise((resolve, reject) => {
    execFile(opts.bin, args, { env: { ...process.env, RUST_LOG: 'warn' }, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scimlink ${args.slice(2).join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

const serverLog = [];
let server = null;
// The key that seals stored secrets (OIDC client secrets, SAML keys): a
// PostgreSQL database has no key file beside it, so the run brings one.
const secretKey = process.env.SCIMLINK_SECRET_KEY || crypto.randomBytes(32).toString('base64');

function startServer(base, port) {
  server = spawn(opts.bin, ['--database-url', databaseUrl, 'serve', '--bind', `127.0.0.1:${port}`, '--public-url', base], {
    env: { ...process.env, RUST_LOG: 'warn', SCIMLINK_SECRET_KEY: secretKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [server.stdout, server.stderr]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      serverLog.push(...lines);
    });
  }
  server.on('exit', (code, signal) => {
    if (!stopping) serverLog.push(`(scimlink serve exited: code ${code}, signal ${signal})`);
    server = null;
  });
}

async function waitHealthy(base) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!server) throw new Error(`scimlink serve exited before it answered /healthz:\n${serverLog.slice(-20).join('\n')}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('scimlink serve did not answer GET /healthz with 200 within 60 s');
}

let stopping = false;
async function stopServer() {
  stopping = true;
  const child = server;
  if (!child) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function serverErrors() {
  return serverLog.filter((l) => /\bERROR\b|panicked/.test(l));
}

// ---------------------------------------------------------------- steps

let stepNo = 0;
let current = null; // the page the running step looks at, for the failure report
const started = Date.now();

class StepFailed extends Error {}

function fail(message) {
  throw new StepFailed(message);
}

function check(condition, message) {
  if (!condition) fail(message);
}

async function step(name, body) {
  stepNo += 1;
  const t0 = Date.now();
  const errorsBefore = serverFailures.length;
  try {
    await body();
  } catch (e) {
    await report(name, e);
    throw e;
  }
  if (serverFailures.length > errorsBefore) {
    const e = new StepFailed(`server error: ${serverFailures.slice(errorsBefore).join('; ')}`);
    await report(name, e);
    throw e;
  }
  console.log(`ok ${stepNo} - ${name} (${Date.now() - t0} ms)`);
}

let reported = false;
async function report(name, e) {
  reported = true;
  console.error(`FAILED step ${stepNo} - ${name}`);
  console.error(`  ${e instanceof StepFailed ? e.message : e.stack || e}`);
  if (current && !current.isClosed()) {
    let h1 = '(none)';
    try {
      h1 = (await current.locator('h1').first().textContent({ timeout: 1000 }))?.trim() ?? '(none)';
    } catch {
      // no h1 on the page
    }
    console.error(`  page: ${current.url()}`);
    console.error(`  h1: ${h1}`);
  }
  if (nullOrigins.length) {
    console.error(`  note: Chromium sent "Origin: null" with the form posts to ${[...new Set(nullOrigins)].join(', ')}`);
    console.error('  (it does so for a page served with "Referrer-Policy: no-referrer"); a server that only accepts its own origin refuses them');
  }
}

// ---------------------------------------------------------------- helpers

const serverFailures = []; // HTTP 5xx answers any page got
const cspChecked = new Set();
const cspProblems = [];
const consoleErrors = [];
const nullOrigins = []; // form posts the browser sent with `Origin: null`
let base = '';

function isDashboardPath(p) {
  return p === '/' || p === '/admin' || p.startsWith('/admin/') || p === '/reset-password' || p === '/sign-out';
}

function watch(page, who) {
  page.on('response', async (res) => {
    const url = new URL(res.url());
    if (url.origin !== base) return;
    if (res.status() >= 500) serverFailures.push(`${res.status()} for ${res.request().method()} ${url.pathname}`);
    // A page's own stylesheet, script or image must load (the browser asks
    // for /favicon.ico by itself; scimlink has none).
    if (res.request().resourceType() !== 'document' && res.status() >= 400 && url.pathname !== '/favicon.ico') {
      consoleErrors.push(`${who}: ${res.status()} for ${url.pathname}`);
    }
    if (res.request().resourceType() !== 'document' || !isDashboardPath(url.pathname)) return;
    if (res.status() >= 300 && res.status() < 400) return; // a redirect has no page
    const csp = (await res.allHeaders())['content-security-policy'] || '';
    cspChecked.add(url.pathname.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '{id}'));
    if (!csp.includes("frame-ancestors 'none'") || csp.includes("'unsafe-inline'")) {
      cspProblems.push(`${res.request().method()} ${url.pathname} (${res.status()}): content-security-policy "${csp}"`);
    }
  });
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url().startsWith(base) && req.headers().origin === 'null') {
      nullOrigins.push(new URL(req.url()).pathname);
    }
  });
  page.on('console', (msg) => {
    // "Failed to load resource" repeats an error status, checked above.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) consoleErrors.push(`${who} on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${who} on ${page.url()}: ${err.message}`));
  current = page;
}

async function newPage(browser, who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(20_000);
  const page = await context.newPage();
  watch(page, who);
  return { context, page };
}

/** Opens a path; checks the final status (after redirects). */
async function open(page, pathOrUrl, status = 200) {
  current = page;
  const res = await page.goto(pathOrUrl.startsWith('http') ? pathOrUrl : base + pathOrUrl, { waitUntil: 'load' });
  check(res, `no response for ${pathOrUrl}`);
  check(res.status() === status, `GET ${pathOrUrl} answered ${res.status()}, expected ${status}`);
  return res;
}

/** Clicks something that submits a form or follows a link; waits for the new page. */
async function submit(page, locator, status = 200) {
  current = page;
  const navigation = page.waitForNavigation({ waitUntil: 'load' });
  await locator.click();
  const res = await navigation;
  check(res, 'the click loaded no page');
  if (status !== null) {
    check(res.status() === status, `${res.request().method()} ${new URL(res.url()).pathname} answered ${res.status()}, expected ${status}`);
  }
  return res;
}

async function text(locator) {
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

async function expectH1(page, expected) {
  const h1 = await text(page.locator('h1').first());
  check(h1 === expected, `expected the heading "${expected}", found "${h1}"`);
}

async function expectContains(locator, expected, what) {
  const t = await text(locator);
  check(t.includes(expected), `${what}: expected "${expected}" in "${t}"`);
}

async function expectPath(page, expected) {
  const p = new URL(page.url()).pathname;
  check(p === expected, `expected to be on ${expected}, but the page is ${page.url()}`);
}

async function notice(page) {
  const n = page.locator('p.notice[role=status]');
  check((await n.count()) === 1, 'no notice on the page');
  return text(n);
}

async function shot(page, name) {
  if (!shotDir) return;
  await page.screenshot({ path: path.join(shotDir, name), fullPage: true });
}

function nav(page) {
  return page.getByRole('navigation', { name: 'Dashboard' });
}

async function navLinks(page) {
  return (await nav(page).getByRole('link').allTextContents()).map((s) => s.trim());
}

async function setPassword(page, link, password) {
  await open(page, link);
  await expectH1(page, 'Set your password');
  await page.getByLabel('New password').fill(password);
  await page.getByLabel('Repeat password').fill(password);
  await submit(page, page.getByRole('button', { name: 'Set password' }));
  await expectH1(page, 'Password set');
}

async function signIn(page, userName, password, returnTo) {
  await open(page, `/login/acme?password=1${returnTo ? `&return_to=${encodeURIComponent(returnTo)}` : ''}`);
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await submit(page, page.getByRole('button', { name: 'Sign in with a password' }));
}

/** Adds a user from the Add user page; returns the id (from the user page's links). */
async function addUser(page, { userName, name, email, breakGlass = false }, beforeSubmit) {
  await submit(page, nav(page).getByRole('link', { name: 'Add user' }));
  await expectH1(page, 'Add user');
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Email').fill(email);
  const box = page.getByLabel(/Break-glass/);
  if (breakGlass) await box.check();
  else check(!(await box.isChecked()), 'Break-glass is ticked by default');
  if (beforeSubmit) await beforeSubmit();
  await submit(page, page.getByRole('button', { name: 'Add user' }));
  await expectH1(page, userName);
  check((await notice(page)) === 'User added.', `expected the notice "User added.", found "${await notice(page)}"`);
  const href = await page.locator('a[href*="/auth-mode?to="]').getAttribute('href');
  const id = href?.match(/^\/admin\/users\/([^/]+)\/auth-mode/)?.[1];
  check(id, `no user id in the switch link ${href}`);
  return id;
}

/** On a user page: Switch to … → the confirmation page → the switch. */
async function switchMode(page, to, userName, { onConfirmPage } = {}) {
  const label = to === 'sso' ? 'SSO' : 'password';
  await submit(page, page.getByRole('link', { name: `Switch to ${label}…` }));
  await expectH1(page, `Switch ${userName} to ${label}?`);
  if (onConfirmPage) await onConfirmPage();
  await submit(page, page.getByRole('button', { name: `Switch to ${label}`, exact: true }));
  await expectH1(page, userName);
  const n = await notice(page);
  check(n.startsWith(`Switched to ${label}`), `expected the notice "Switched to ${label}…", found "${n}"`);
  const mode = await text(page.locator('#auth-mode'));
  if (to === 'sso') {
    check(mode.includes('Signs in with SSO.'), `#auth-mode says "${mode}", expected "Signs in with SSO."`);
    check(mode.includes('No password is set.'), `#auth-mode says "${mode}", expected "No password is set."`);
    check((await page.locator('#reset-link').count()) === 0, 'a reset link is shown after switching to SSO');
    return null;
  }
  check(mode.includes('Signs in with a password.'), `#auth-mode says "${mode}", expected "Signs in with a password."`);
  return resetLinkOnPage(page);
}

async function resetLinkOnPage(page) {
  const input = page.locator('#reset-link');
  check((await input.count()) === 1, 'no #reset-link on the page');
  check(await input.isVisible(), '#reset-link is not visible');
  check((await input.getAttribute('readonly')) !== null, '#reset-link is not readonly');
  const link = await input.inputValue();
  check(link.startsWith(`${base}/reset-password?token=`), `the reset link "${link}" does not start with ${base}/reset-password?token=`);
  return link;
}

// ---------------------------------------------------------------- the test

const OWNER = 'owner@acme.test';
const OWNER_PASSWORD = 'owner-correct-horse-1';
const PAT = 'pat@acme.test';
const PAT_PASSWORD = 'pat-battery-staple-2';

let browser = null;
let exitCode = 0;
const stopOnSignal = async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  process.exit(130);
};
process.on('SIGINT', stopOnSignal);
process.on('SIGTERM', stopOnSignal);

try {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;

  let ownerLink = '';
  await step('create the organisation and its owner, start scimlink', async () => {
    const { stdout } = await run(['--database-url', databaseUrl, 'org', 'create', '--slug', 'acme', '--name', 'Acme Tours', '--owner-email', OWNER, '--public-url', base]);
    ownerLink = stdout.trim().split('\n').pop().trim();
    check(ownerLink.startsWith(`${base}/reset-password?token=`), `the last line of org create is not a reset link: "${ownerLink}"`);
    startServer(base, port);
    await waitHealthy(base);
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const owner = await newPage(browser, 'owner');
  const o = owner.page;

  await step('the owner sets a password with the printed link, signs in and lands on Users', async () => {
    await open(o, ownerLink);
    await expectH1(o, 'Set your password');
    await shot(o, 'reset-password.png');
    await setPassword(o, ownerLink, OWNER_PASSWORD);
    await open(o, '/login/acme?password=1');
    await expectH1(o, 'Sign in to Acme Tours');
    await shot(o, 'sign-in.png');
    await signIn(o, OWNER, OWNER_PASSWORD, '/admin');
    await expectPath(o, '/admin/users');
    await expectH1(o, 'Users');
    check((await o.getByRole('link', { name: OWNER, exact: true }).count()) === 1, `${OWNER} is not listed on the Users page`);
    const links = await navLinks(o);
    for (const l of ['Users', 'Add user', 'Organisation', 'SCIM tokens']) check(links.includes(l), `the nav has no "${l}" link (it has ${links.join(', ')})`);
    await expectContains(o.locator('header .who'), `${OWNER} (admin)`, 'the header');
  });

  await step('the owner enables SSO on the Organisation page', async () => {
    await submit(o, nav(o).getByRole('link', { name: 'Organisation' }));
    await expectH1(o, 'Organisation');
    const sso = o.getByLabel('SSO enabled');
    check(!(await sso.isChecked()), 'SSO is enabled already on a new organisation');
    await sso.check();
    await submit(o, o.getByRole('button', { name: 'Save settings' }));
    const n = await notice(o);
    check(n === 'Settings saved.', `expected the notice "Settings saved.", found "${n}"`);
    check(await o.getByLabel('SSO enabled').isChecked(), 'SSO enabled is not ticked after saving');
    await shot(o, 'organisation.png');
    await open(o, '/admin/organisation');
    check(await o.getByLabel('SSO enabled').isChecked(), 'SSO enabled is not ticked when the page is opened again');
  });

  let patId = '';
  let patLink = '';
  let withdrawnLink = '';
  await step('the owner adds Pat, who signs in with SSO, and switches Pat to password', async () => {
    patId = await addUser(o, { userName: PAT, name: 'Pat Doe', email: PAT }, async () => {
      await expectContains(o.locator('p.hint'), 'The organisation uses SSO', 'the Add user hint');
      await shot(o, 'add-user.png');
    });
    await expectContains(o.locator('#auth-mode'), 'Signs in with SSO.', 'the new user in an SSO organisation');
    check((await o.locator('#reset-link').count()) === 0, 'an SSO user got a reset link');
    await expectContains(o.locator('dl'), 'Pat Doe', 'the profile');
    withdrawnLink = await switchMode(o, 'password', PAT, {
      onConfirmPage: () => shot(o, 'confirm-switch.png'),
    });
    await expectContains(o.locator('#auth-mode'), 'No password is set.', 'Pat after switching to password');
    await shot(o, 'user.png');
  });

  await step('"Copy reset link" puts the link on the clipboard', async () => {
    await owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const button = o.getByRole('button', { name: 'Copy reset link' });
    await button.click();
    await o.waitForFunction(() => document.querySelector('[data-copy="reset-link"]')?.textContent === 'Copied', null, { timeout: 5000 })
      .catch(() => fail('the button did not say "Copied" (the copy script did not run)'));
    const copied = await o.evaluate(() => navigator.clipboard.readText());
    const shown = await o.locator('#reset-link').inputValue();
    check(copied === shown, `the clipboard holds "${copied}", the page shows "${shown}"`);
  });

  await step('switching Pat to SSO deletes the password; back to password gives a new link', async () => {
    await switchMode(o, 'sso', PAT);
    await open(o, `/admin/users/${patId}`);
    await expectContains(o.locator('#auth-mode'), 'Signs in with SSO.', 'Pat reopened');
    await expectContains(o.locator('#auth-mode'), 'No password is set.', 'Pat reopened');
    patLink = await switchMode(o, 'password', PAT);
    check(patLink !== withdrawnLink, 'the second switch to password showed the same reset link');
  });

  const pat = await newPage(browser, 'pat');
  const p = pat.page;

  await step('the link withdrawn by the switch to SSO no longer sets a password', async () => {
    const other = await newPage(browser, 'stranger');
    await open(other.page, withdrawnLink);
    await other.page.getByLabel('New password').fill('stranger-password-123');
    await other.page.getByLabel('Repeat password').fill('stranger-password-123');
    const res = await submit(other.page, other.page.getByRole('button', { name: 'Set password' }), null);
    check(res.status() >= 400 && res.status() < 500, `setting a password with a withdrawn link answered ${res.status()}`);
    await expectH1(other.page, 'Set your password');
    const alert = other.page.locator('p.error[role=alert]');
    check((await alert.count()) === 1, 'no error is shown for a withdrawn link');
    await other.context.close();
    current = o;
  });

  await step('Pat sets a password in a fresh browser, signs in and sees who they are', async () => {
    check((await pat.context.cookies()).length === 0, 'the fresh context has cookies');
    await setPassword(p, patLink, PAT_PASSWORD);
    await signIn(p, PAT, PAT_PASSWORD);
    await expectPath(p, '/');
    await expectContains(p.locator('#signed-in'), `Signed in as ${PAT} in Acme Tours.`, 'the home page');
    check((await p.getByRole('link', { name: 'Open the dashboard' }).count()) === 0, 'the home page offers the dashboard to a user without a role');
  });

  await step('Pat, without an organisation role, is refused the dashboard', async () => {
    await open(p, '/admin/users', 403);
    await expectH1(p, 'Not allowed');
    await expectContains(p.locator('main'), `signed in as ${PAT} in acme`, 'the 403 page');
    check((await p.locator('header.top').count()) === 0, 'the 403 page shows the dashboard header');
  });

  await step('the owner makes Pat support staff', async () => {
    await open(o, `/admin/users/${patId}`);
    await o.getByLabel('Organisation role').selectOption('support');
    await submit(o, o.getByRole('button', { name: 'Save role' }));
    const n = await notice(o);
    check(n === 'Organisation role saved.', `expected the notice "Organisation role saved.", found "${n}"`);
    check((await o.getByLabel('Organisation role').inputValue()) === 'support', 'the role select does not show support after saving');
    await expectContains(o.locator('dl'), 'support', 'the profile');
  });

  await step('support staff see the users, but not SCIM tokens or the organisation', async () => {
    await open(p, '/admin/users');
    await expectH1(p, 'Users');
    await expectContains(p.locator('header .who'), `${PAT} (support)`, 'the header');
    const links = await navLinks(p);
    check(!links.includes('SCIM tokens'), `the support nav has a "SCIM tokens" link (${links.join(', ')})`);
    check(!links.includes('Organisation'), `the support nav has an "Organisation" link (${links.join(', ')})`);
    check(links.includes('Users'), `the support nav has no "Users" link (${links.join(', ')})`);
    await open(p, '/admin/scim-tokens', 403);
    await expectH1(p, 'Not allowed');
    await shot(p, 'not-allowed.png');
    await open(p, '/admin/organisation', 403);
    await expectH1(p, 'Not allowed');
    await open(p, '/admin/organisation/require-sso', 403);
    await expectH1(p, 'Not allowed');
    await open(p, `/admin/users/${patId}`);
    check((await p.getByLabel('Organisation role').count()) === 0, 'support staff see the "Organisation role" form');
  });

  await step('every dashboard link support staff are shown opens for them', async () => {
    await open(p, '/admin/users');
    const hrefs = await nav(p).getByRole('link').evaluateAll((links) => links.map((a) => [a.textContent.trim(), a.getAttribute('href')]));
    for (const [name, href] of hrefs) {
      const res = await p.goto(base + href, { waitUntil: 'load' });
      check(res.status() === 200, `the support nav shows "${name}" (${href}), which answers ${res.status()} "${await text(p.locator('h1').first())}" for support staff`);
    }
  });

  const others = [
    { userName: 'sam@acme.test', name: 'Sam Roe', email: 'sam@acme.test' },
    { userName: 'lee@acme.test', name: 'Lee Poe', email: 'lee@acme.test' },
  ];
  await step('the owner adds two users and switches them to password', async () => {
    for (const u of others) {
      await addUser(o, u);
      await expectContains(o.locator('#auth-mode'), 'Signs in with SSO.', u.userName);
      await switchMode(o, 'password', u.userName);
    }
  });

  await step('the owner adds a break-glass user, who signs in with a password', async () => {
    await addUser(o, { userName: 'ops@acme.test', name: 'Ops Desk', email: 'ops@acme.test', breakGlass: true });
    const mode = await text(o.locator('#auth-mode'));
    check(mode.includes('Signs in with a password.'), `#auth-mode says "${mode}" for a break-glass user`);
    check(mode.includes('Break-glass account.'), `#auth-mode says "${mode}", expected "Break-glass account."`);
    await resetLinkOnPage(o);
    await submit(o, nav(o).getByRole('link', { name: 'Users' }));
    await expectH1(o, 'Users');
    const rows = await o.locator('tbody tr').count();
    check(rows === 5, `the Users page lists ${rows} rows, expected 5`);
    await shot(o, 'users.png');
  });

  const expectedMoves = ['lee@acme.test', 'pat@acme.test', 'sam@acme.test'];
  await step('the require-SSO preview lists exactly the password accounts that are not break-glass', async () => {
    await open(o, '/admin/organisation');
    await submit(o, o.getByRole('link', { name: 'Preview requiring SSO…' }));
    await expectPath(o, '/admin/organisation/require-sso');
    await expectH1(o, 'Require SSO?');
    const count = await text(o.locator('#preview-count'));
    check(count === `This moves ${expectedMoves.length} accounts to SSO:`, `#preview-count says "${count}"`);
    const listed = (await o.locator('#preview-accounts li').allTextContents()).map((s) => s.trim()).sort();
    check(JSON.stringify(listed) === JSON.stringify(expectedMoves), `#preview-accounts lists ${listed.join(', ')}; expected ${expectedMoves.join(', ')}`);
    await shot(o, 'require-sso.png');
  });

  await step('"Require SSO" moves them; their password sessions end', async () => {
    await submit(o, o.getByRole('button', { name: 'Require SSO' }));
    await expectH1(o, 'Organisation');
    const n = await notice(o);
    const expected = `SSO is now required; ${expectedMoves.length} accounts moved to SSO.`;
    check(n === expected, `expected the notice "${expected}", found "${n}"`);
    await expectContains(o.locator('main'), 'SSO is required', 'the Organisation page');
    await open(o, `/admin/users/${patId}`);
    await expectContains(o.locator('#auth-mode'), 'Signs in with SSO.', 'Pat after requiring SSO');
    await expectContains(o.locator('#auth-mode'), 'No password is set.', 'Pat after requiring SSO');
    await open(o, '/admin/users?auth_mode=password');
    const left = (await o.locator('tbody tr td:first-child').allTextContents()).map((s) => s.trim()).sort();
    check(JSON.stringify(left) === JSON.stringify(['ops@acme.test', OWNER]), `password accounts left: ${left.join(', ')}`);
    await open(p, '/');
    check((await p.locator('#signed-in').count()) === 0, 'Pat is still signed in after the password was deleted');
  });

  await step('the owner creates a SCIM token and sees its secret once', async () => {
    await submit(o, nav(o).getByRole('link', { name: 'SCIM tokens' }));
    await expectH1(o, 'SCIM tokens');
    await expectContains(o.locator('#scim-base'), `${base}/scim/v2`, 'the SCIM base URL');
    await o.getByLabel('Label').fill('Okta production');
    await submit(o, o.getByRole('button', { name: 'Create token' }));
    await expectContains(o.locator('#new-h'), 'Okta production', 'the new token box');
    const secret = await o.locator('#new-token').inputValue();
    check(secret.length >= 20, `the new token "${secret}" looks too short`);
    await expectContains(o.locator('tbody'), 'Okta production', 'the token table');
    await shot(o, 'scim-tokens.png');
    const scim = await fetch(`${base}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${secret}` } });
    check(scim.status === 200, `the new token does not work on /scim/v2/Users: ${scim.status}`);
    await open(o, '/admin/scim-tokens');
    check((await o.locator('#new-token').count()) === 0, 'the secret is shown again on reload');
  });

  await step('workspaces, the audit log and SSO connections', async () => {
    await submit(o, nav(o).getByRole('link', { name: 'Workspaces' }));
    await expectH1(o, 'Workspaces');
    await o.getByLabel('Slug').fill('sandbox');
    await o.getByLabel('Name').fill('Sandbox');
    await submit(o, o.getByRole('button', { name: 'Create workspace' }));
    await expectH1(o, 'Sandbox');
    await o.getByLabel('User name').fill('pat@acme.test');
    await o.locator('#member-role').selectOption('viewer');
    await submit(o, o.getByRole('button', { name: 'Add member' }));
    check((await notice(o)) === 'Member saved.', `the notice says "${await notice(o)}"`);
    await expectContains(o.locator('tbody'), 'pat@acme.test', 'the members table');
    await shot(o, 'workspace.png');
    const workspaceId = new URL(o.url()).pathname.match(/\/admin\/workspaces\/([^/]+)/)[1];
    await open(o, `/admin/users?workspace=${workspaceId}`);
    const members = (await o.locator('tbody tr td:first-child').allTextContents()).map((t) => t.trim());
    check(JSON.stringify(members) === JSON.stringify(['pat@acme.test']), `the workspace filter lists ${members.join(', ')}`);

    await submit(o, nav(o).getByRole('link', { name: 'Audit log' }));
    await expectH1(o, 'Audit log');
    await o.getByLabel('Action').fill('account.org_role_changed');
    await submit(o, o.getByRole('button', { name: 'Filter' }));
    const events = await o.locator('.timeline li').allTextContents();
    // The owner's own role (set by the command line), and Pat's (by the owner).
    check(events.length === 2, `the filtered audit log lists ${events.length} events, expected 2`);
    check(events.every((e) => e.includes('account.org_role_changed')), 'an event of another action passed the filter');
    check(events[0].includes(`by ${OWNER}`) && events[1].includes('by cli'), `the events read "${events.map((e) => e.replace(/\s+/g, ' ')).join('" / "')}"`);
    await open(o, '/admin/audit');
    await shot(o, 'audit.png');

    await submit(o, nav(o).getByRole('link', { name: 'SSO connections' }));
    await expectH1(o, 'SSO connections');
    await submit(o, o.getByRole('link', { name: 'Add an OpenID Connect connection' }));
    await o.getByLabel('Display name (on the sign-in button)').fill('Okta sandbox');
    await o.getByLabel('Issuer').fill('https://acme.okta.example');
    await o.getByLabel('Client ID').fill('0oa-sandbox');
    await o.getByLabel('Client secret').fill('a-client-secret');
    await submit(o, o.getByRole('button', { name: 'Add connection' }));
    await expectH1(o, 'Okta sandbox');
    await expectContains(o.locator('#v-redirect'), '/sso/oidc/', 'the redirect URI to give the IdP');
    await expectContains(o.locator('main'), 'stored (never shown)', 'the client secret line');
    check(!(await o.content()).includes('a-client-secret'), 'the page shows the client secret');
    await shot(o, 'connection.png');
    await submit(o, nav(o).getByRole('link', { name: 'SSO connections' }));
    await expectContains(o.locator('tbody'), 'Okta sandbox', 'the connections table');
  });

  await step('security: CSP on every dashboard page, HttpOnly session cookie, forms need the token and our origin', async () => {
    for (const page of ['/admin/users', '/admin/users/new', `/admin/users/${patId}`, `/admin/users/${patId}/auth-mode?to=password`, '/admin/organisation', '/admin/organisation/require-sso', '/admin/scim-tokens', '/', '/admin/sign-in', '/reset-password?token=x']) {
      await open(o, page);
    }
    check(cspProblems.length === 0, `pages without a strict CSP:\n    ${cspProblems.join('\n    ')}`);
    check(cspChecked.size >= 10, `only ${cspChecked.size} dashboard pages were checked for a CSP`);
    const cookies = await owner.context.cookies(base);
    const session = cookies.find((c) => c.name === 'scimlink_session');
    check(session, `no scimlink_session cookie (cookies: ${cookies.map((c) => c.name).join(', ')})`);
    check(session.httpOnly, 'the session cookie is not HttpOnly');
    check(session.sameSite === 'Lax' || session.sameSite === 'Strict', `the session cookie is SameSite=${session.sameSite}`);
    check(!(await o.evaluate(() => document.cookie)).includes('scimlink_session'), 'page script can read the session cookie');

    const wrong = await owner.context.request.post(`${base}/admin/users`, {
      form: { csrf: 'wrong', user_name: 'mallory@acme.test' },
      headers: { origin: base },
      maxRedirects: 0,
    });
    check(wrong.status() === 403, `a form with a wrong csrf value answered ${wrong.status()}, expected 403`);
    check((await wrong.text()).includes('This form has expired'), 'the wrong-token answer does not say the form expired');

    await open(o, '/admin/users/new');
    const csrf = await o.locator('input[name=csrf]').first().inputValue();
    const foreign = await owner.context.request.post(`${base}/admin/users`, {
      form: { csrf, user_name: 'mallory@acme.test' },
      headers: { origin: 'http://evil.test' },
      maxRedirects: 0,
    });
    check(foreign.status() === 403, `a form from another origin answered ${foreign.status()}, expected 403`);
    const missing = await owner.context.request.post(`${base}/admin/users`, {
      form: { user_name: 'mallory@acme.test' },
      headers: { origin: base },
      maxRedirects: 0,
    });
    check(missing.status() === 403, `a form without a csrf value answered ${missing.status()}, expected 403`);
    await open(o, '/admin/users?q=mallory');
    check((await o.getByRole('link', { name: 'mallory@acme.test' }).count()) === 0, 'a refused form still added mallory@acme.test');
  });

  await step('the owner signs out', async () => {
    await open(o, '/admin/users');
    await submit(o, o.locator('header').getByRole('button', { name: 'Sign out' }));
    await expectPath(o, '/');
    check((await o.locator('#signed-in').count()) === 0, 'the home page still says who is signed in');
    await expectContains(o.locator('main'), 'You are not signed in', 'the home page');
    await open(o, '/admin/users');
    await expectPath(o, '/admin/sign-in');
    await expectH1(o, 'Sign in to the dashboard');
    const cookies = await owner.context.cookies(base);
    check(!cookies.some((c) => c.name === 'scimlink_session' && c.value), 'the session cookie is still set after signing out');
  });

  await step('no page logged a script or CSP error; the server logged no error', async () => {
    check(consoleErrors.length === 0, `browser errors:\n    ${consoleErrors.join('\n    ')}`);
    const errors = serverErrors();
    check(errors.length === 0, `scimlink logged errors:\n    ${errors.slice(0, 10).join('\n    ')}`);
  });

  console.log(`dashboard browser tests: ${stepNo} steps passed (${((Date.now() - started) / 1000).toFixed(1)} s${shotDir ? `, screenshots in ${path.relative(process.cwd(), shotDir) || '.'}` : ''})`);
} catch (e) {
  exitCode = 1;
  if (!reported) console.error(`dashboard.mjs: ${e.stack || e}`);
  const tail = serverLog.slice(-15);
  if (tail.length) console.error(`scimlink's last log lines:\n  ${tail.join('\n  ')}`);
} finally {
  await browser?.close().catch(() => {});
  await stopServer();
  if (exitCode === 0) rmSync(tmp, { recursive: true, force: true });
  else if (!opts.databaseUrl) console.error(`the SQLite database is kept in ${tmp}`);
}
process.exit(exitCode);
