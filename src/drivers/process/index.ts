export { ProcessDriver, type ProcessDriverOptions } from './driver.js';
export { parseProcessHandle, type ProcessHandle } from './handle.js';
