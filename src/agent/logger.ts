/** The logging the agent needs: pino's call shape (`log.info(fields, message)`), so pino fits as is. */
export interface AgentLogger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** Discards everything (tests, library use). */
export const silentLogger: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };
