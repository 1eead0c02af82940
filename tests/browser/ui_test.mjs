// The web view in a real browser: builds a small repository with the vrepo binary (PNG images
// made here, a labels CSV, three commits with relabels, training runs), serves it with
// `vrepo ui` and `vrepo serve`, and drives Debian's headless Chromium through every page of
// docs/ui.md, checking that each page shows what its /api JSON says, then the label-fix flow
// and the rights of serve's tokens. Screenshots go to OUT_DIR.
//
//   node tests/browser/ui_test.mjs VREPO_BINARY OUT_DIR [--with-train]
//
// --with-train: vrepo-train is built, so the runs table and run page get real training runs.
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const [vrepoArg, outArg, ...flags] = process.argv.slice(2);
if (!vrepoArg || !outArg) {
  console.error('usage: node ui_test.mjs VREPO_BINARY OUT_DIR [--with-train]');
  process.exit(2);
}
let chromium;
try {
  ({chromium} = await import('playwright-core'));
} catch (error) {
  console.error(`browser/ui: playwright-core is not installed (${error.message}): run ./setup.sh, ` +
                'or npm ci --prefix tests/browser');
  process.exit(1);
}
const VREPO = path.resolve(vrepoArg);
const OUT_DIR = path.resolve(outArg);
const WITH_TRAIN = flags.includes('--with-train');
const CHROMIUM = process.env.VREPO_CHROMIUM || '/usr/bin/chromium';
const started = Date.now();
const children = [];
let browser = null;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrepo-browser-'));

// ---- A tiny PNG encoder (8-bit grayscale) --------------------------------------------------

const CRC_TABLE = Array.from({length: 256}, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function encodePng(width, height, pixel) {
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = pixel(x, y);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;  // bit depth; colour type 0 (gray), compression, filter, interlace all 0
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
                        pngChunk('IHDR', header), pngChunk('IDAT', zlib.deflateSync(raw)),
                        pngChunk('IEND', Buffer.alloc(0))]);
}

// Three classes a small CNN tells apart in two epochs; a per-image seed varies phase and noise.
const CLASSES = ['checker', 'horizontal', 'vertical'];

function sampleImage(cls, seed) {
  let state = seed * 2654435761 >>> 0;
  const noise = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state >>> 26;
  };
  const phase = seed % 4;
  return encodePng(28, 28, (x, y) => {
    let on;
    if (cls === 'horizontal') on = ((y + phase) >> 2) % 2 === 0;
    else if (cls === 'vertical') on = ((x + phase) >> 2) % 2 === 0;
    else on = (((x + phase) >> 2) + ((y + phase) >> 2)) % 2 === 0;
    return (on ? 190 : 40) + noise();  // at most 253: no wrap past 255
  });
}

// ---- Running vrepo ---------------------------------------------------------------------------

function vrepo(cwd, args, options = {}) {
  const r = spawnSync(VREPO, args, {cwd, encoding: 'utf8', env: {...process.env, ...options.env}});
  if (r.status !== 0 && !options.mayFail) {
    throw new Error(`vrepo ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}${r.stderr}`);
  }
  return r;
}

// Starts a server and resolves with the first stdout line matching `pattern`'s group 1.
function startServer(cwd, args, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(VREPO, args, {cwd, stdio: ['ignore', 'pipe', 'pipe']});
    children.push(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`vrepo ${args.join(' ')} printed no URL in 10 s:\n${out}${err}`)), 10000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr.on('data', (chunk) => { err += chunk; });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vrepo ${args.join(' ')} exited ${code} before printing its URL:\n${out}${err}`));
    });
  });
}

function cleanUp() {
  for (const child of children) {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
  fs.rmSync(tmp, {recursive: true, force: true});
}

// ---- Steps -----------------------------------------------------------------------------------

let stepCount = 0;
async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
  } catch (error) {
    error.message = `step "${name}": ${error.message}`;
    throw error;
  }
  stepCount++;
  console.log(`ok ${stepCount} - ${name} (${Date.now() - t} ms)`);
}

async function shot(page, name) {
  fs.mkdirSync(OUT_DIR, {recursive: true});
  // Thumbnails load lazily: wait for the ones on screen.
  await page.waitForFunction(() => [...document.images].every(
      (img) => img.complete || img.getBoundingClientRect().top > window.innerHeight), null, {timeout: 10000});
  await page.screenshot({path: path.join(OUT_DIR, name + '.png')});
}

// Opens a page of the web view and waits until app.js has drawn it (or its error).
async function open(page, url) {
  const response = await page.goto(url);
  assert.ok(response, `no answer for ${url}`);
  await page.waitForSelector('body[data-ready="1"]', {timeout: 10000});
  const error = await page.$('#error');
  if (error) throw new Error(`${url} shows the error: ${await error.textContent()}`);
}

// Clicks a link or submit button and waits for the page it leads to.
async function follow(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
  await page.waitForSelector('body[data-ready="1"]', {timeout: 10000});
}

async function texts(page, selector) {
  return page.$$eval(selector, (els) => els.map((e) => e.textContent.trim()));
}

async function attrs(page, selector, name) {
  return page.$$eval(selector, (els, n) => els.map((e) => e.getAttribute(n)), name);
}

// ---- The repository ------------------------------------------------------------------------

const repo = path.join(tmp, 'root', 'demo');
const imagePath = (i) => `images/img_${String(i).padStart(3, '0')}.png`;
const truth = new Map();  // path -> true class

function writeLabels(rows) {
  const lines = ['path,label', ...[...rows].map(([p, label]) => `${p},${label}`)];
  fs.writeFileSync(path.join(repo, 'labels.csv'), lines.join('\n') + '\n');
}

function countLabels(rows) {
  const counts = {};
  for (const label of rows.values()) counts[label] = (counts[label] || 0) + 1;
  return counts;
}

async function main() {
  let labels;  // the rows of labels.csv at HEAD: path -> label
  const relabeledInSecond = [imagePath(1), imagePath(5), imagePath(9)];

  await step('build a repository: 36 images, three commits with relabels', () => {
    fs.mkdirSync(path.join(repo, 'images'), {recursive: true});
    vrepo(repo, ['init']);
    labels = new Map();
    for (let i = 0; i < 36; i++) {
      const cls = CLASSES[i % 3];
      fs.writeFileSync(path.join(repo, imagePath(i)), sampleImage(cls, i));
      truth.set(imagePath(i), cls);
      labels.set(imagePath(i), cls);
    }
    // The first import carries three wrong labels, which the second commit fixes.
    for (const p of relabeledInSecond) labels.set(p, CLASSES[(CLASSES.indexOf(truth.get(p)) + 1) % 3]);
    writeLabels(labels);
    vrepo(repo, ['add', '.']);
    vrepo(repo, ['commit', '-m', 'Import 36 images']);
    vrepo(repo, ['tag', 'v1']);
    for (const p of relabeledInSecond) labels.set(p, truth.get(p));
    writeLabels(labels);
    vrepo(repo, ['add', 'labels.csv']);
    vrepo(repo, ['commit', '-m', 'Fix three labels']);
    // Third: two new images, one dropped, one more relabel.
    for (const i of [36, 37]) {
      fs.writeFileSync(path.join(repo, imagePath(i)), sampleImage('checker', i));
      truth.set(imagePath(i), 'checker');
      labels.set(imagePath(i), 'checker');
    }
    labels.delete(imagePath(35));
    fs.rmSync(path.join(repo, imagePath(35)));
    labels.set(imagePath(10), 'checker');  // truly horizontal: a label error to find
    writeLabels(labels);
    vrepo(repo, ['add', '.']);
    vrepo(repo, ['rm', '--cached', imagePath(35)], {mayFail: true});
    vrepo(repo, ['commit', '-m', 'Add two images, drop one, relabel one']);
  });

  if (WITH_TRAIN) {
    await step('train two small runs', () => {
      for (const [name, lr] of [['run-a', '0.01'], ['run-b', '0.003']]) {
        vrepo(repo, ['train', '--labels', 'labels.csv', '--model', 'small-cnn', '--epochs', '3',
                     '--batch-size', '8', '--val-split', '0.3', '--lr', lr, '--seed', '1',
                     '--device', 'cpu', '--workers', '1', '--name', name]);
      }
    });
  }

  const uiUrl = await startServer(repo, ['ui', '--listen', '127.0.0.1:0'], /open (http:\/\/\S+)/);
  const origin = new URL(uiUrl).origin;
  const token = new URL(uiUrl).searchParams.get('token');
  assert.ok(token, `the URL ${uiUrl} carries no token`);
  const apiGet = async (p) => {
    const r = await fetch(origin + '/api' + p, {headers: {Authorization: `Bearer ${token}`}});
    const text = await r.text();
    assert.equal(r.status, 200, `GET /api${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  };

  browser = await chromium.launch({executablePath: CHROMIUM, headless: true, args: ['--no-sandbox']});
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${m.text()} (${m.location().url})`); });
  // No request may leave the server: every asset is vrepo's own.
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(origin)) foreign.push(r.url()); });

  await step('home: branches, tags, commits and runs as the API lists them', async () => {
    await open(page, uiUrl);
    const home = await apiGet('/');
    assert.deepEqual(await attrs(page, '#branches tbody tr', 'data-name'), home.branches.map((b) => b.name));
    assert.deepEqual(await attrs(page, '#tags tbody tr', 'data-name'), ['v1']);
    assert.equal(home.commits.length, 3);
    assert.deepEqual(await texts(page, '#commits tbody tr td:nth-child(2)'),
                     ['Add two images, drop one, relabel one', 'Fix three labels', 'Import 36 images']);
    assert.equal(await page.textContent('#head-branch'), home.head.branch);
    const runRows = await page.$$('#runs tbody tr');
    assert.equal(runRows.length, WITH_TRAIN ? 2 : 0);
    await shot(page, 'home');
  });

  await step('commit: the label diff of "Fix three labels" with thumbnails', async () => {
    await follow(page, '#commits tbody tr:nth-child(2) td:nth-child(2) a');
    assert.match(page.url(), /\/commit\//);
    assert.equal(await page.textContent('#commit-subject'), 'Fix three labels');
    const relabeled = '.table-diff[data-table="labels.csv"] .diff-relabeled .card';
    assert.deepEqual((await attrs(page, relabeled, 'data-path')).sort(), relabeledInSecond);
    const lines = await texts(page, `${relabeled} .relabel`);
    assert.ok(lines.includes('horizontal → checker'), `relabel lines: ${lines.join('; ')}`);
    const loaded = await page.$$eval(`${relabeled} img.thumb`, (imgs) => Promise.all(imgs.map((img) =>
        img.complete ? img.naturalWidth : new Promise((r) => { img.onload = () => r(img.naturalWidth); img.onerror = () => r(0); }))));
    assert.ok(loaded.length === 3 && loaded.every((w) => w > 0), `thumbnails decoded: ${loaded}`);
    assert.equal(await page.textContent('#files-modified .count'), ' 1');
  });

  await step('dataset grid: label counts, filters and paging', async () => {
    const base = `${origin}/dataset/main?labels=labels.csv`;
    await open(page, `${base}&per_page=10`);
    const expected = countLabels(labels);
    const chips = await page.$$eval('#label-filter a[data-count]', (els) => Object.fromEntries(
        els.map((e) => [e.getAttribute('data-label'), Number(e.getAttribute('data-count'))])));
    assert.deepEqual(chips, expected);
    assert.equal(await page.$$eval('#grid .card', (c) => c.length), 10);
    assert.equal(await page.textContent('#page-info'), 'page 1 of 4');
    assert.equal(await page.getAttribute('#matched', 'data-rows'), String(labels.size));
    await shot(page, 'dataset');
    const first = await attrs(page, '#grid .card', 'data-path');
    await follow(page, '#page-next');
    assert.match(page.url(), /page=2/);
    assert.equal(await page.textContent('#page-info'), 'page 2 of 4');
    const second = await attrs(page, '#grid .card', 'data-path');
    assert.equal(second.length, 10);
    assert.ok(second.every((p) => !first.includes(p)), 'page 2 repeats samples of page 1');
    // The label filter, kept in the URL.
    await follow(page, '#label-filter a[data-label="vertical"]');
    assert.match(page.url(), /label=vertical/);
    assert.doesNotMatch(page.url(), /page=2/);
    const vertical = await attrs(page, '#grid .card', 'data-label');
    assert.equal(vertical.length, Math.min(10, expected.vertical));  // per_page=10 is kept
    assert.equal(await page.getAttribute('#matched', 'data-matched'), String(expected.vertical));
    assert.ok(vertical.every((l) => l === 'vertical'));
    assert.ok(await page.$('#label-filter a.active[data-label="vertical"]'));
    // The path filter on top of it.
    await page.fill('#path-filter input[name="path"]', 'img_01');
    await follow(page, '#path-filter button[type="submit"]');
    const want = [...labels].filter(([p, l]) => p.includes('img_01') && l === 'vertical').map(([p]) => p);
    assert.deepEqual((await attrs(page, '#grid .card', 'data-path')).sort(), want.sort());
    assert.equal(await page.getAttribute('#matched', 'data-matched'), String(want.length));
    const api = await apiGet('/dataset/main?labels=labels.csv&label=vertical&path=img_01');
    assert.equal(api.matched, want.length);
  });

  await step('diff: relabeled, added and removed between v1 and main', async () => {
    await open(page, `${origin}/diff/v1..main?labels=labels.csv`);
    const d = await apiGet('/diff/v1..main?labels=labels.csv');
    assert.deepEqual([d.counts.relabeled, d.counts.added, d.counts.removed], [4, 2, 1]);
    assert.equal(await page.getAttribute('#diff-counts', 'data-relabeled'), '4');
    assert.deepEqual((await attrs(page, '.diff-relabeled .card', 'data-path')).sort(),
                     [...relabeledInSecond, imagePath(10)].sort());
    assert.deepEqual((await attrs(page, '.diff-added .card', 'data-path')).sort(), [imagePath(36), imagePath(37)]);
    assert.deepEqual(await attrs(page, '.diff-removed .card', 'data-path'), [imagePath(35)]);
    assert.ok((await texts(page, '.diff-relabeled .relabel')).includes('horizontal → checker'));
    await shot(page, 'diff');
  });

  if (WITH_TRAIN) {
    await step('runs table: both runs, the differing config, sorting by a header', async () => {
      await open(page, `${origin}/runs`);
      const d = await apiGet('/runs');
      assert.deepEqual((await attrs(page, '#runs-table tbody tr', 'data-run')).sort(), ['run-a', 'run-b']);
      assert.ok(d.columns.includes('lr'), `config columns: ${d.columns}`);
      const lrHeader = '#runs-table th[data-col="config.lr"]';
      await page.click(lrHeader);
      assert.deepEqual(await attrs(page, '#runs-table tbody tr', 'data-run'), ['run-b', 'run-a']);
      assert.match(page.url(), /sort=config\.lr/);
      await page.click(lrHeader);
      assert.deepEqual(await attrs(page, '#runs-table tbody tr', 'data-run'), ['run-a', 'run-b']);
      const metric = d.metrics.find((m) => /val_accuracy/.test(m)) || d.metrics[0];
      const cells = await page.$$eval(`#runs-table td[data-col="best.${metric}"]`, (els) => els.map((e) => Number(e.getAttribute('data-value'))));
      const byName = Object.fromEntries(d.runs.map((r) => [r.name, r.best[metric]]));
      const order = await attrs(page, '#runs-table tbody tr', 'data-run');
      assert.deepEqual(cells, order.map((n) => byName[n]));
      await shot(page, 'runs');
    });

    await step('run page: curves as SVG, the confusion matrix and its cells, suspects', async () => {
      await open(page, `${origin}/runs/run-a`);
      const r = await apiGet('/runs/run-a');
      const series = await attrs(page, '#curves svg.chart path.series', 'data-series');
      const names = new Set(r.metrics.flatMap((m) => Object.keys(m)).filter((k) => k !== 'epoch' && k !== 'step'));
      assert.deepEqual(new Set(series), names);
      assert.ok(await page.$('#curves svg.chart .x-axis') && await page.$('#curves svg.chart .legend text'));
      assert.deepEqual(await texts(page, '#confusion th.true'), r.classes);
      const cells = await page.$$eval('#confusion td.cell', (els) => els.map((e) => Number(e.getAttribute('data-count'))));
      assert.deepEqual(cells, r.confusion.flat());
      assert.equal(await page.$$eval('#suspects .card', (c) => c.length), (r.suspects || []).length);
      await shot(page, 'run');
      const link = await page.$('#confusion td.cell a');
      assert.ok(link, 'no non-zero cell');
      const cell = await link.evaluate((a) => ({label: a.parentElement.getAttribute('data-label'),
                                                predicted: a.parentElement.getAttribute('data-predicted'),
                                                n: Number(a.textContent)}));
      await follow(page, '#confusion td.cell a');
      await page.waitForSelector('#cell-samples .card, #cell-samples .empty, #cell-samples .error');
      assert.match(page.url(), /label=.*predicted=/);
      const samples = await apiGet(`/runs/run-a/samples?label=${encodeURIComponent(cell.label)}&predicted=${encodeURIComponent(cell.predicted)}`);
      const shown = await attrs(page, '#cell-samples .card', 'data-path');
      assert.deepEqual(shown, samples.samples.map((s) => s.path));
      // A run that recorded its validation predictions lists exactly the cell's samples.
      if (samples.samples.length) assert.equal(samples.matched ?? samples.samples.length, cell.n);
      else console.log('# run-a recorded no predictions: the cell opens an empty list');
    });
  }

  await step('label fix: select a new label, commit it, vrepo log and diff --labels show it', async () => {
    const target = imagePath(10);  // labeled checker, truly horizontal
    await open(page, `${origin}/dataset/main?labels=labels.csv&path=${encodeURIComponent(target)}`);
    const select = `#grid .card[data-path="${target}"] select.label-select`;
    await page.selectOption(select, 'horizontal');
    await page.waitForSelector('#stage-count[data-count="1"]');
    // Staged edits belong to the browser's session, so ask with its cookie.
    const sessionGet = (p) => page.evaluate((u) => fetch(u).then((r) => r.json()), `${origin}/api${p}`);
    const staged = await sessionGet('/staged');
    assert.deepEqual(staged.edits.map((e) => [e.path, e.old, e.new]), [[target, 'checker', 'horizontal']]);
    await page.fill('#stage-message', 'Relabel img_010 in the browser');
    await page.click('#stage-commit');
    await page.waitForSelector('#stage-result a');
    const shown = (await page.textContent('#stage-result a')).trim();
    const log = JSON.parse(vrepo(repo, ['log', '-n', '1', '--json']).stdout);
    assert.equal(log.length, 1);
    assert.equal(log[0].message.trim(), 'Relabel img_010 in the browser');
    assert.ok(log[0].commit.startsWith(shown), `page shows ${shown}, log says ${log[0].commit}`);
    const diff = JSON.parse(vrepo(repo, ['diff', 'HEAD~1', 'HEAD', '--labels', 'labels.csv', '--json']).stdout);
    assert.deepEqual(diff.changes.map((c) => [c.path, c.status, c.old_label, c.new_label]),
                     [[target, 'relabeled', 'checker', 'horizontal']]);
    assert.deepEqual((await sessionGet('/staged')).edits, []);
  });

  assert.deepEqual(pageErrors, [], 'errors in the page');
  assert.deepEqual(foreign, [], 'requests to other servers');
  await context.close();

  // ---- vrepo serve: tokens, read-only sessions, unknown tokens -----------------------------
  const tokens = path.join(tmp, 'tokens');
  const rwToken = 'rw-' + 'a'.repeat(40);
  const roToken = 'ro-' + 'b'.repeat(40);
  fs.writeFileSync(tokens, `${rwToken} rw *\n${roToken} r demo\n`);
  const serveUrl = await startServer(tmp, ['serve', '--root', path.join(tmp, 'root'), '--tokens', tokens,
                                           '--listen', '127.0.0.1:0'], /listening on (http:\/\/\S+)/);
  const serveOrigin = new URL(serveUrl).origin;

  await step('serve: an unknown token is refused at login', async () => {
    const ctx = await browser.newContext({viewport: {width: 1280, height: 800}});
    const p = await ctx.newPage();
    await p.goto(`${serveOrigin}/ui/login`);
    await p.waitForSelector('#login-form');
    await p.fill('#token', 'not-a-token');
    await p.click('#login-submit');
    await p.waitForSelector('#login-error:not([hidden])');
    assert.equal(await p.textContent('#login-error'), 'Unknown token.');
    const r = await fetch(`${serveOrigin}/ui/demo/-/api/`, {headers: {Authorization: 'Bearer not-a-token'}});
    assert.equal(r.status, 401);
    await ctx.close();
  });

  await step('serve: a read-only session sees the pages without editing controls', async () => {
    const ctx = await browser.newContext({viewport: {width: 1280, height: 800}});
    const p = await ctx.newPage();
    await p.goto(`${serveOrigin}/ui/login?next=${encodeURIComponent('/ui/')}`);
    await p.waitForSelector('#login-form');
    await p.fill('#token', roToken);
    await Promise.all([p.waitForURL(`${serveOrigin}/ui/`), p.click('#login-submit')]);
    await p.waitForSelector('body[data-ready="1"]');
    assert.deepEqual(await attrs(p, '#repos li', 'data-name'), ['demo']);
    await follow(p, '#repos li a');
    assert.equal((await texts(p, '#commits tbody tr')).length, 4);
    await open(p, `${serveOrigin}/ui/demo/-/dataset/main?labels=labels.csv`);
    assert.ok((await p.$$('#grid .card')).length > 0);
    assert.equal((await p.$$('select.label-select')).length, 0, 'a read-only session has label selects');
    assert.equal(await p.getAttribute('#access', 'data-can-write'), '0');
    const refused = await p.evaluate(async () => {
      const r = await fetch(window.VREPO.api + '/stage', {
        method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({table: 'labels.csv', path: 'images/img_000.png', label: 'vertical'})
      });
      return r.status;
    });
    assert.equal(refused, 403);
    await ctx.close();
  });

  await step('serve: a read-write session gets the label selects', async () => {
    const ctx = await browser.newContext({viewport: {width: 1280, height: 800}});
    const p = await ctx.newPage();
    await p.goto(`${serveOrigin}/ui/login`);
    await p.waitForSelector('#login-form');
    await p.fill('#token', rwToken);
    await Promise.all([p.waitForURL(`${serveOrigin}/ui/`), p.click('#login-submit')]);
    await open(p, `${serveOrigin}/ui/demo/-/dataset/main?labels=labels.csv`);
    assert.ok((await p.$$('select.label-select')).length > 0);
    await ctx.close();
  });

  await step('bad input: an unknown revision is a clear message in the page', async () => {
    const ctx = await browser.newContext({viewport: {width: 1280, height: 800}});
    const p = await ctx.newPage();
    await p.goto(uiUrl);
    await p.goto(`${origin}/commit/no-such-rev`);
    await p.waitForSelector('body[data-ready="1"]');
    const message = await p.textContent('#error');
    assert.match(message, /no-such-rev/);
    await ctx.close();
  });
}

try {
  await main();
  console.log(`browser/ui: all ${stepCount} steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
              `screenshots in ${OUT_DIR}`);
} catch (error) {
  console.error(`browser/ui: FAILED: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  cleanUp();
}
