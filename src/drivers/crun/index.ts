export { CrunDriver, exitResult, type CrunDriverOptions, type CrunFingerprint } from './driver.js';
export { parseCrunHandle, containerId, netnsName, type CrunHandle } from './handle.js';
export type { CrunTaskSpec, CrunNetworkInfo } from './prepare.js';
