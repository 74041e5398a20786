#!/usr/bin/env node
// The `coleta` command: loads the TypeScript sources through tsx, then runs the client.
require('tsx/cjs');
require('../src/client.ts');
