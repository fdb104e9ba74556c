import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { consumerAccepts, firstCompilerError, readDriverConfig } from '../../harness/drivers.js';

describe('drivers', () => {
  it('reads the driver version and API/schema versions from driver_config.h', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kmatrix-drv-'));
    writeFileSync(
      path.join(dir, 'driver_config.h'),
      '#define PPM_API_CURRENT_VERSION_MAJOR 8\n#define PPM_API_CURRENT_VERSION_MINOR 0\n#define PPM_API_CURRENT_VERSION_PATCH 4\n' +
        '#define PPM_SCHEMA_CURRENT_VERSION_MAJOR 4\n#define PPM_SCHEMA_CURRENT_VERSION_MINOR 1\n#define PPM_SCHEMA_CURRENT_VERSION_PATCH 0\n#define DRIVER_VERSION "0.23.2"\n',
    );
    assert.deepEqual(readDriverConfig(dir), { version: '0.23.2', versions: { api: '8.0.4', schema: '4.1.0' } });
  });

  it('applies libscap\'s rule: same major, minor.patch at least the minimum', () => {
    const need = { api: '8.0.0', schema: '4.0.0' };
    assert.equal(consumerAccepts(need, { api: '8.0.4', schema: '4.1.0' }).ok, true);
    assert.equal(consumerAccepts(need, { api: '8.0.0', schema: '4.0.0' }).ok, true);
    assert.match(consumerAccepts(need, { api: '1.0.0', schema: '1.0.0' }).why!, /api version 1\.0\.0 is not accepted/);
    assert.equal(consumerAccepts(need, { api: '9.0.0', schema: '4.1.0' }).ok, false, 'newer major');
    assert.equal(consumerAccepts({ api: '8.1.2', schema: '4.0.0' }, { api: '8.1.1', schema: '4.1.0' }).ok, false, 'older patch');
    assert.match(consumerAccepts(need, { api: '8.0.4', schema: '3.9.0' }).why!, /schema/);
  });

  it('finds the compiler\'s first real error line, not make\'s echo', () => {
    const log = [
      'make: Entering directory',
      "/build/main.c:100:5: warning: unused variable 'x'",
      "/build/ppm_fillers.c:5470:13: error: implicit declaration of function 'fd_is_open' [-Werror=implicit-function-declaration]",
      "make[2]: *** [scripts/Makefile.build:250: /build/ppm_fillers.o] Error 1",
    ].join('\n');
    assert.equal(firstCompilerError(log), "/build/ppm_fillers.c:5470:13: error: implicit declaration of function 'fd_is_open' [-Werror=implicit-function-declaration]");
    assert.equal(firstCompilerError('make[1]: *** No rule to make target'), 'make[1]: *** No rule to make target');
  });
});
