#!/usr/bin/env node
// Builds hangar-init (src/drivers/crun/init/hangar-init.c), the init of the crun driver's warm
// containers, next to the compiled driver: dist/src/drivers/crun/hangar-init. Static, so it runs
// in any image. Without a C compiler the build goes on without it and the driver starts every
// machine cold (it says so in `hangar server`'s start-up notes).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/drivers/crun/init/hangar-init.c');
const out = join(root, 'dist/src/drivers/crun/hangar-init');

if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
const cc = process.env.CC ?? 'cc';
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-static', '-O2', '-s', '-Wall', '-Wextra', '-Werror', '-o', tmp, source], { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (err) {
  if (err.code === 'ENOENT') {
    console.warn(`build-init: no C compiler (${cc}): hangar-init not built, the crun driver will start every machine cold (apt-get install gcc libc6-dev)`);
    process.exit(0);
  }
  console.error(`build-init: ${cc} failed to build ${source}`);
  process.exit(1);
}
renameSync(tmp, out);
