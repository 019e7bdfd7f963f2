#!/usr/bin/env node
// `pnpm check:packages`, after `pnpm build`: packs every public package the way a release would,
// then checks the tarballs rather than the folders:
//   - each carries package.json (no `workspace:` range left), README.md, LICENSE (the root one) and dist;
//   - attw (@arethetypeswrong/cli) resolves every entry under node10, node16 (CJS and ESM) and bundler;
//   - publint reports nothing, suggestions included (but one, said below);
//   - packages/testing/types-no-node, an app that imports @ssehub/core, @ssehub/core/adapter,
//     @ssehub/fetch and @ssehub/client, compiles against the unpacked declarations with no
//     @types/node within reach (as ESM with bundler resolution, and as CommonJS with node16's).
// Exits 1 on the first package with problems listed, after checking them all.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
const KEEP = process.argv.includes('--keep');

// pnpm packs (it rewrites `workspace:*` into versions); the one running this script when there is one.
const pnpm = process.env.npm_execpath && /pnpm/.test(path.basename(process.env.npm_execpath))
  ? [process.execPath, process.env.npm_execpath]
  : ['npx', '-y', 'pnpm@9.15.9'];

const problems = [];
const fail = (what, detail) => problems.push(`${what}: ${detail.trim()}`);

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw r.error;
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const packages = fs
  .readdirSync(path.join(ROOT, 'packages'))
  .map((dir) => path.join(ROOT, 'packages', dir))
  .filter((dir) => fs.existsSync(path.join(dir, 'package.json')))
  .map((dir) => ({ dir, json: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) }))
  .filter((p) => !p.json.private);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ssehub-packages-'));
const license = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
const unpacked = new Map();

try {
  for (const { dir, json } of packages) {
    const name = json.name;
    if (!fs.existsSync(path.join(dir, 'dist'))) {
      fail(name, 'no dist/: run `pnpm build` first');
      continue;
    }
    const before = new Set(fs.readdirSync(tmp));
    const packed = run(pnpm[0], [...pnpm.slice(1), 'pack', '--pack-destination', tmp], { cwd: dir });
    const tarballs = fs.readdirSync(tmp).filter((f) => f.endsWith('.tgz') && !before.has(f));
    if (!packed.ok || tarballs.length !== 1) {
      fail(name, `pnpm pack failed\n${packed.out}`);
      continue;
    }
    const tarball = path.join(tmp, tarballs[0]);

    // What the tarball holds.
    const into = path.join(tmp, 'unpacked', name);
    fs.mkdirSync(into, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
    unpacked.set(name, into);
    const manifest = fs.readFileSync(path.join(into, 'package.json'), 'utf8');
    if (manifest.includes('workspace:')) fail(name, 'the packed package.json still has a workspace: range');
    for (const file of ['README.md', 'LICENSE', 'dist']) {
      if (!fs.existsSync(path.join(into, file))) fail(name, `the tarball has no ${file}`);
    }
    if (fs.existsSync(path.join(into, 'LICENSE')) && fs.readFileSync(path.join(into, 'LICENSE'), 'utf8') !== license) {
      fail(name, `LICENSE differs from the root one (copy it: cp LICENSE ${path.relative(ROOT, dir)}/)`);
    }

    // Are the types wrong? Every entry point, every resolution mode; non-zero exit on any problem.
    const attw = run(path.join(BIN, 'attw'), [tarball, '--no-definitely-typed', '--format', 'table-flipped', '--no-color']);
    if (!attw.ok) fail(`${name} (attw)`, attw.out);

    // publint on the tarball itself; any message fails, suggestions too, but one.
    const tgz = fs.readFileSync(tarball);
    const { messages, pkg } = await publint({ pack: { tarball: tgz.buffer.slice(tgz.byteOffset, tgz.byteOffset + tgz.byteLength) }, level: 'suggestion' });
    // USE_TYPE suggests `"type": "commonjs"`. Deliberately left out: the .js files are CommonJS by
    // Node's default already, and examples/nextjs compiles the packages' TypeScript sources (ESM
    // syntax) with Turbopack, which refuses ESM syntax inside a package that says commonjs.
    const reported = messages.filter((m) => m.code !== 'USE_TYPE');
    if (reported.length > 0) {
      fail(`${name} (publint)`, reported.map((m) => `${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`).join('\n'));
    }

    console.log(`${name}@${json.version}: ${path.basename(tarball)} packed and checked`);
  }

  // The app-facing declarations need no @types/node.
  checkTypesWithoutNode();
} finally {
  if (KEEP) console.log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.error(`\ncheck:packages found ${problems.length} problem(s):\n\n${problems.join('\n\n')}`);
  process.exit(1);
}
console.log(`check:packages: ${packages.length} packages, no problems`);

function checkTypesWithoutNode() {
  const what = 'types-no-node';
  const fixture = path.join(ROOT, 'packages', 'testing', 'types-no-node');
  const app = path.join(tmp, what);
  fs.cpSync(fixture, app, { recursive: true });

  // node_modules from the tarballs alone, plus @ssehub/client's one dependency, which ships its types.
  const modules = path.join(app, 'node_modules');
  for (const name of ['@ssehub/core', '@ssehub/fetch', '@ssehub/client']) {
    if (!unpacked.has(name)) return fail(what, `${name} was not packed`);
    fs.cpSync(unpacked.get(name), path.join(modules, name), { recursive: true });
  }
  const parser = fs.realpathSync(path.join(ROOT, 'packages', 'client', 'node_modules', 'eventsource-parser'));
  fs.cpSync(parser, path.join(modules, 'eventsource-parser'), { recursive: true, dereference: true });

  // A leaked `/// <reference types="node" />` would be found in any node_modules above the app, and
  // the check would pass for the wrong reason: refuse to run where one is within reach.
  for (let dir = app; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules', '@types', 'node'))) {
      return fail(what, `${dir}/node_modules/@types/node is within reach of ${app}; set TMPDIR elsewhere`);
    }
    if (path.dirname(dir) === dir) break;
  }

  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const modes = [
    ['ESM, bundler resolution', []],
    ['CommonJS, node16 resolution', ['--module', 'node16', '--moduleResolution', 'node16']],
  ];
  for (const [mode, args] of modes) {
    const r = run(process.execPath, [tsc, '-p', app, ...args]);
    if (!r.ok) fail(`${what} (${mode})`, r.out);
    else console.log(`${what}: @ssehub/core, @ssehub/core/adapter, @ssehub/fetch, @ssehub/client compile without @types/node (${mode})`);
  }
}
