#!/usr/bin/env node
// Entry point kept tiny: every command module is loaded lazily by main.js, so
// `hangar version` pays only for commander and the registry (see bench/cli-startup).
import { run } from '../dist/src/cli/main.js';

process.exitCode = await run(process.argv.slice(2));
