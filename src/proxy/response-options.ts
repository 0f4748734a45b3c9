/**
 * `http_options.response` lives in src/core/proxy/response-options.ts (pure: the route table
 * compiles it); re-exported here for the I/O side's existing imports.
 */
export * from '../core/proxy/response-options.js';
