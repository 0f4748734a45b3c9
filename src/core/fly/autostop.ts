/**
 * `auto_stop_machines` on the wire. The Machines API accepts "off" | "stop" | "suspend" and the
 * older booleans, but answers with `false`/`true` for off/stop and `"suspend"` otherwise
 * (reference §1a services, §4), so Hangar always writes that form: the planner's output then
 * equals what a Fly-compatible server would echo back.
 */
import type { AutostopMode } from '../config/types.js';
import type { MachineAutostop } from './machine-config.js';

/** fly.toml's autostop mode → the Machines API value (`off`→false, `stop`→true, `suspend`→"suspend"). */
export function autostopToWire(mode: AutostopMode): MachineAutostop {
  switch (mode) {
    case 'off':
      return false;
    case 'stop':
      return true;
    case 'suspend':
      return 'suspend';
  }
}
