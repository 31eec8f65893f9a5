// The narrow set of actions a view may ask of the engine. `cli/` builds it from the engine and
// hands it to the UI, so ui/ never imports proxy/ (see ../shared/STYLE.md).
import type { ClientTlsMax, Mode } from './types.ts';

export interface Controls {
  /** The current CONNECT mode. */
  getMode(): Mode;
  /** Switch mode for new connections; existing ones keep theirs. */
  setMode(mode: Mode): void;
  /** The highest TLS version the proxy offers clients on the forged leg. */
  getClientTlsMax(): ClientTlsMax;
  /**
   * Cap the forged leg at TLS 1.2 (the forged certificate then crosses the wire in clear) or
   * let it be 1.3; new connections only.
   */
  setClientTlsMax(max: ClientTlsMax): void;
  /** Forget every (client address, host) pair `auto` mode tunnels because that client refused it; returns how many. */
  forgetRejected(): number;
  /**
   * Reset the lab state: forget every refused host (as forgetRejected) and emit `lab.reset`, on
   * which the flow list empties and lesson progress restarts. Returns how many were forgotten.
   */
  resetLab(): number;
  /** Write the HAR export now; resolves to the file written. Absent when no HAR is possible. */
  exportHar?(): Promise<string>;
}
