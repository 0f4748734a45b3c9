import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseResolvConf, readHostResolvers } from '../../src/dns/resolv-conf.js';

const SAMPLE = `# generated
search example.internal
nameserver 10.0.0.2
nameserver   fe80::1%eth0   # link-local
; comment
nameserver not-an-ip
options ndots:2
nameserver 127.0.0.53
nameserver
`;

describe('resolv.conf', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-resolv-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps nameserver addresses in order and skips everything else', () => {
    assert.deepEqual(parseResolvConf(SAMPLE), [
      { host: '10.0.0.2', port: 53 },
      { host: 'fe80::1%eth0', port: 53 },
      { host: '127.0.0.53', port: 53 },
    ]);
  });

  it('reads the file, leaving out our own listeners; a missing file gives none', async () => {
    const path = join(dir, 'resolv.conf');
    await writeFile(path, SAMPLE);
    assert.deepEqual(await readHostResolvers(path, [{ host: '127.0.0.53', port: 53 }]), [
      { host: '10.0.0.2', port: 53 },
      { host: 'fe80::1%eth0', port: 53 },
    ]);
    assert.deepEqual(await readHostResolvers(join(dir, 'missing')), []);
    await assert.rejects(readHostResolvers(dir));
  });
});
