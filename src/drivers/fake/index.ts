export { FakeDriver, parseFakeHandle, type FakeDriverOptions, type FakeHandle } from './driver.js';
export { FakeHost, type FakeBehaviour, type FakeRule, type FakeTask } from './host.js';
