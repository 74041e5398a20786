/**
 * Rules of the project that the tools enforce: the lint rule that keeps workflow code deterministic, and
 * the tool build script's behaviour when the tools are cached or Go is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { tempDir, toolPaths } from './helpers/fixtures';

const ROOT = path.resolve(__dirname, '..');

async function lintWorkflow(source: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(source, { filePath: path.join(ROOT, 'src/workflows/probe.ts') });
  return (result?.messages ?? []).map((message) => `${message.ruleId}: ${message.message}`);
}

test('workflow code may not import Node built-ins', async () => {
  for (const name of ['node:fs', 'fs', 'node:crypto', 'http']) {
    const messages = await lintWorkflow(`import '${name}';\n`);
    assert.ok(
      messages.some((m) => m.startsWith('@typescript-eslint/no-restricted-imports') && m.includes('sandbox')),
      `${name}: ${messages.join('; ')}`,
    );
  }
});

test('workflow code may import activities only as types', async () => {
  const value = await lintWorkflow(
    `import { createActivities } from '../activities';\nexport const a = createActivities;\n`,
  );
  assert.ok(
    value.some((m) => m.includes('only as types')),
    value.join('; '),
  );
  const typeOnly = await lintWorkflow(
    `import type { Activities } from '../activities';\nexport type A = Activities;\n`,
  );
  assert.deepEqual(typeOnly, []);
});

test('the same rule does not apply outside workflows', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(`import fs from 'node:fs';\nexport const f = fs;\n`, {
    filePath: path.join(ROOT, 'src/activities/probe.ts'),
  });
  assert.deepEqual(result?.messages, []);
});

test('the tool build returns at once when both tools are cached', () => {
  const tools = tempDir('tools');
  for (const [dir, name] of [
    ['temporal-1.5.1', 'temporal'],
    ['fake-gcs-server-1.56.1', 'fake-gcs-server'],
  ] as const) {
    fs.mkdirSync(path.join(tools, dir));
    fs.writeFileSync(path.join(tools, dir, name), '#!/bin/sh\n', { mode: 0o755 });
  }
  const result = spawnSync('bash', [path.join(ROOT, 'scripts/build-tools.sh')], {
    env: { ...process.env, COLETA_TOOLS_DIR: tools, PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout + result.stderr, '', 'nothing to say, nothing built');
});

test('without Go, the tool build says in one line what to install', () => {
  // An empty PATH hides Go wherever it is installed; bash is called by its path.
  const result = spawnSync('/bin/bash', [path.join(ROOT, 'scripts/build-tools.sh')], {
    env: { ...process.env, COLETA_TOOLS_DIR: tempDir('no-tools'), PATH: tempDir('empty-path') },
    encoding: 'utf8',
  });
  assert.equal(result.status, 1);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /^coleta: Go 1\.25 or newer is needed to build the Temporal CLI and fake-gcs-server/);
});

test('the built Temporal CLI reports its real version', () => {
  const result = spawnSync(toolPaths().temporal, ['--version'], { encoding: 'utf8' });
  assert.match(result.stdout, /^temporal version 1\.5\.1 \(Server 1\.29\.1, UI 2\.42\.1\)/);
});
