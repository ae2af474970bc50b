// What every row gets: the mode, a logger, the emulator factory and the scratch folder.
import { importBuild } from './paths.mjs';

const { startEmulator } = await importBuild('emulator/index.js');

/** Starts an in-process emulator (Entra + cluster issuer on loopback HTTPS). */
export function emulator(options = {}) {
  return startEmulator(options);
}

/** One result line of the table. `pass` is true/false, or null when the row has no target (reported only). */
export function resultLine({ id, what, figure, baseline, ratio, target, pass, unit, details }) {
  return { id, what, figure, baseline, ratio, target, pass: pass ?? null, unit, details };
}
