import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateAppConfig } from '../../../src/core/config/validate.js';
import { fromHumanSize, parseFlyctlSizeGb } from '../../../src/core/config/validate-size.js';
import type { AppConfig, Mount } from '../../../src/core/config/types.js';
import { appConfig } from './app-config.js';

function withMount(overrides: Partial<Mount>): AppConfig {
  return appConfig({ mounts: [{ source: 'data', destination: '/data', processes: [], ...overrides }] });
}

const run = (m: Partial<Mount>) => validateAppConfig(withMount(m));
const msgs = (m: Partial<Mount>) => run(m).map((d) => d.message);

describe('flyctl size parsing (helpers.ParseSize + go-units FromHumanSize)', () => {
  it('reads a plain integer as GB', () => {
    assert.deepEqual(parseFlyctlSizeGb('10'), { ok: true, gb: 10 });
    assert.deepEqual(parseFlyctlSizeGb('-3'), { ok: true, gb: -3 });
  });

  it('reads suffixed sizes with decimal units, truncating', () => {
    assert.deepEqual(parseFlyctlSizeGb('10gb'), { ok: true, gb: 10 });
    assert.deepEqual(parseFlyctlSizeGb('10GB'), { ok: true, gb: 10 });
    assert.deepEqual(parseFlyctlSizeGb('1000mb'), { ok: true, gb: 1 });
    assert.deepEqual(parseFlyctlSizeGb('999mb'), { ok: true, gb: 0 });
    assert.deepEqual(parseFlyctlSizeGb('1GiB'), { ok: true, gb: 1 });
    assert.deepEqual(parseFlyctlSizeGb('1.5t'), { ok: true, gb: 1500 });
    assert.deepEqual(parseFlyctlSizeGb('20 GB'), { ok: true, gb: 20 });
  });

  it('gives go-units error texts', () => {
    assert.deepEqual(parseFlyctlSizeGb('big'), { ok: false, error: "invalid size: invalid size: 'big'" });
    assert.deepEqual(parseFlyctlSizeGb('10 gigs'), { ok: false, error: "invalid size: invalid suffix: 'gigs'" });
    assert.deepEqual(parseFlyctlSizeGb('10xb'), { ok: false, error: "invalid size: invalid suffix: 'xb'" });
    assert.deepEqual(parseFlyctlSizeGb('10gx'), { ok: false, error: "invalid size: invalid suffix: 'gx'" });
    assert.deepEqual(parseFlyctlSizeGb('1.2.3gb'), { ok: false, error: 'invalid size: strconv.ParseFloat: parsing "1.2.3": invalid syntax' });
    assert.deepEqual(parseFlyctlSizeGb('-1.5gb'), { ok: false, error: "invalid size: invalid size: '-1.5gb'" });
  });

  it('accepts a bare b suffix and bytes without suffix', () => {
    assert.deepEqual(fromHumanSize('512b'), { ok: true, bytes: 512 });
    assert.deepEqual(fromHumanSize('2.5'), { ok: true, bytes: 2 });
    assert.deepEqual(fromHumanSize('1bb'), { ok: false, error: "invalid suffix: 'bb'" });
  });
});

describe('validateAppConfig: mounts initial_size and snapshot_retention', () => {
  it('accepts 1gb, rejects 999mb as smaller than 1GB', () => {
    assert.deepEqual(run({ initial_size: '1gb' }), []);
    assert.deepEqual(run({ initial_size: '999mb' }), [
      {
        severity: 'error',
        code: 'mount-initial-size-too-small',
        path: 'mounts[0].initial_size',
        message: "mount 'data' has an initial_size '999mb' value which is smaller than 1GB",
      },
    ]);
  });

  it('rejects an unreadable initial_size with the parser error', () => {
    assert.deepEqual(run({ initial_size: 'ten gb' }), [
      {
        severity: 'error',
        code: 'mount-initial-size-invalid',
        path: 'mounts[0].initial_size',
        message: "mount 'data' with initial_size 'ten gb' will fail because of: invalid size: strconv.ParseFloat: parsing \"ten\": invalid syntax",
      },
    ]);
  });

  it('accepts snapshot_retention 1 and 60, rejects 0 and 61', () => {
    assert.deepEqual(run({ snapshot_retention: 1 }), []);
    assert.deepEqual(run({ snapshot_retention: 60 }), []);
    for (const r of [0, 61]) {
      assert.deepEqual(run({ snapshot_retention: r }), [
        {
          severity: 'error',
          code: 'mount-snapshot-retention-range',
          path: 'mounts[0].snapshot_retention',
          message: "mount 'data' has a snapshot_retention value which is not between 1 and 60 days inclusive",
        },
      ]);
    }
  });
});

describe('validateAppConfig: mounts auto-extend', () => {
  it('accepts the boundaries: threshold 50/99, increment 1/100 GB, limit 1/500 GB or unset', () => {
    assert.deepEqual(run({ auto_extend_size_threshold: 50, auto_extend_size_increment: '1gb' }), []);
    assert.deepEqual(run({ auto_extend_size_threshold: 99, auto_extend_size_increment: '100gb', auto_extend_size_limit: '500gb' }), []);
    assert.deepEqual(run({ auto_extend_size_threshold: 80, auto_extend_size_increment: '10', auto_extend_size_limit: '1' }), []);
  });

  it('rejects threshold 49 and 100', () => {
    for (const t of [49, 100]) {
      assert.deepEqual(msgs({ auto_extend_size_threshold: t, auto_extend_size_increment: '1gb' }), [
        "mount 'data' auto_extend_size_threshold must be between 50 and 99",
      ]);
    }
  });

  it('rejects an increment of 101 GB and a limit of 501 GB', () => {
    assert.deepEqual(msgs({ auto_extend_size_threshold: 80, auto_extend_size_increment: '101gb' }), [
      "mount 'data' auto_extend_size_increment must be between 1GB and 100GB",
    ]);
    assert.deepEqual(msgs({ auto_extend_size_threshold: 80, auto_extend_size_increment: '10gb', auto_extend_size_limit: '501gb' }), [
      "mount 'data' auto_extend_size_limit must be between 1GB and 500GB",
    ]);
  });

  it('says "all defined or none" only when the threshold is set and both sizes are not', () => {
    assert.deepEqual(run({ auto_extend_size_threshold: 80 }), [
      {
        severity: 'error',
        code: 'mount-auto-extend-incomplete',
        path: 'mounts[0]',
        message: "mount 'data' auto_extend_size_threshold, auto_extend_size_increment and auto_extend_size_limit must be all defined or none",
      },
      {
        severity: 'error',
        code: 'mount-auto-extend-increment-range',
        path: 'mounts[0].auto_extend_size_increment',
        message: "mount 'data' auto_extend_size_increment must be between 1GB and 100GB",
      },
    ]);
    // threshold + limit only: no "all or none", but the increment is still required
    assert.deepEqual(msgs({ auto_extend_size_threshold: 80, auto_extend_size_limit: '100gb' }), [
      "mount 'data' auto_extend_size_increment must be between 1GB and 100GB",
    ]);
  });

  it('requires a threshold once an increment is set', () => {
    assert.deepEqual(msgs({ auto_extend_size_increment: '5gb' }), ["mount 'data' auto_extend_size_threshold must be between 50 and 99"]);
  });

  it('reports unreadable and sub-GB auto-extend sizes with their own messages', () => {
    assert.deepEqual(msgs({ auto_extend_size_threshold: 80, auto_extend_size_increment: '5 gigs', auto_extend_size_limit: '500mb' }), [
      "mount 'data' with auto_extend_size_increment '5 gigs' will fail because of: invalid size: invalid suffix: 'gigs'",
      "mount 'data' has an auto_extend_size_limit '500mb' value which is smaller than 1GB",
      // both sizes read as 0 now, exactly as in flyctl
      "mount 'data' auto_extend_size_threshold, auto_extend_size_increment and auto_extend_size_limit must be all defined or none",
      "mount 'data' auto_extend_size_increment must be between 1GB and 100GB",
    ]);
    assert.deepEqual(msgs({ auto_extend_size_threshold: 80, auto_extend_size_increment: '10gb', auto_extend_size_limit: 'lots' }), [
      "mount 'data' with auto_extend_size_limit 'lots' will fail because of: invalid size: invalid size: 'lots'",
    ]);
    assert.deepEqual(msgs({ auto_extend_size_threshold: 80, auto_extend_size_increment: '0' }), [
      "mount 'data' has an auto_extend_size_increment '0' value which is smaller than 1GB",
      "mount 'data' auto_extend_size_threshold, auto_extend_size_increment and auto_extend_size_limit must be all defined or none",
      "mount 'data' auto_extend_size_increment must be between 1GB and 100GB",
    ]);
    assert.deepEqual(msgs({ auto_extend_size_threshold: 80, auto_extend_size_increment: '0.5gb' }), [
      "mount 'data' has an auto_extend_size_increment '0.5gb' value which is smaller than 1GB",
      "mount 'data' auto_extend_size_threshold, auto_extend_size_increment and auto_extend_size_limit must be all defined or none",
      "mount 'data' auto_extend_size_increment must be between 1GB and 100GB",
    ]);
  });

  it('names each mount by its source and index', () => {
    const c = withMount({});
    c.mounts.push({ source: 'logs', destination: '/logs', initial_size: '0', processes: [] });
    assert.deepEqual(
      validateAppConfig(c).map((d) => [d.path, d.message]),
      [['mounts[1].initial_size', "mount 'logs' has an initial_size '0' value which is smaller than 1GB"]],
    );
  });
});
