#!/usr/bin/env node
// The `id3` command: TypeScript sources run through tsx, so config files can be TypeScript too.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
