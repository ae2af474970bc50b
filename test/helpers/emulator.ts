import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { recordSecret } from './audit.js';

/** The emulator, with every token it issued recorded for the suite's log-hygiene check on close. */
export async function startTestEmulator(o: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator(o);
  const close = emulator.close.bind(emulator);
  emulator.close = async () => {
    for (const s of emulator.issuedSecrets()) recordSecret(s);
    await close();
  };
  return emulator;
}
