/** Public surface of the fly.toml engine. */
export { normalizeAppConfig } from './normalize.js';
export { strictFindings, VM_OVERRIDE_NOTE, HTTP_CHECKS_TABLE_NOTE } from './strict.js';
export type * from './types.js';
