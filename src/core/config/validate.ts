// PLACEHOLDER owned by the validation helper: replaced by the real rules.
import type { AppConfig, Diagnostic } from './types.js';

export function validateAppConfig(_config: AppConfig): Diagnostic[] {
  return [];
}
