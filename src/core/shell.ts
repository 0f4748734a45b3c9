/**
 * Shell-style word splitting of command lines from fly.toml (`[processes]`, `release_command`,
 * `console_command`), as flyctl does with google/shlex. The splitting itself is the `shlex`
 * package; this wrapper only gives errors google/shlex's wording, which flyctl embeds in its
 * messages (`Could not parse command for '<p>' process group; check [processes] section: <err>`).
 */
import { split } from 'shlex';

export type SplitResult = { ok: true; argv: string[] } | { ok: false; error: string };

export function shellSplit(command: string): SplitResult {
  try {
    return { ok: true, argv: split(command) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/quoted string/.test(msg)) return { ok: false, error: 'EOF found when expecting closing quote' };
    if (/escape/.test(msg)) return { ok: false, error: 'EOF found after escape character' };
    return { ok: false, error: msg };
  }
}
