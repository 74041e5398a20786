#!/usr/bin/env node
// The `coleta` command: loads the TypeScript sources through tsx, then runs the command line.
require('tsx/cjs');
require('../src/client.ts').main();
