#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './config/errors.js';
import { SIDECAR_V8_FLAGS } from './contract/runtime.js';
import { VERSION } from './version.js';

const USAGE = `Usage: entra-sidecar <command> [options]

Commands:
  sidecar            run the token sidecar (daemon); --once fetches, writes the files and exits
  webhook            run the mutating admission webhook
  emulator           run the Entra ID + cluster issuer emulator (tests, demos)
  demo               start the emulator and a sidecar with two targets, and show what to try
  demo webhook [pod] show a pod spec before and after mutation

Run "entra-sidecar <command> --help" for the options of a command.
Version ${VERSION}`;

/** argv → a command; nothing else. Heavy modules load only for the command that needs them. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = rest.includes('--help') || rest.includes('-h');
  switch (command) {
    case 'sidecar': {
      setFlagsFromString(SIDECAR_V8_FLAGS);
      const m = await import('./sidecar/command.js');
      if (help) return printHelp(m.SIDECAR_HELP);
      return m.runSidecarCommand(rest, process.env);
    }
    case 'webhook': {
      const m = await import('./webhook/main.js');
      if (help) return printHelp(m.WEBHOOK_HELP);
      await m.runWebhookCommand(rest, process.env);
      return 0;
    }
    case 'emulator': {
      const m = await import('./emulator/command.js');
      if (help) return printHelp(m.EMULATOR_HELP);
      await m.runEmulatorCommand(rest, process.env);
      return 0;
    }
    case 'demo': {
      if (rest[0] === 'webhook') {
        const m = await import('./webhook/demo.js');
        await m.runWebhookDemo(rest.slice(1));
        return 0;
      }
      const m = await import('./demo.js');
      if (help) return printHelp(m.DEMO_HELP);
      return m.runDemo(rest);
    }
    case '--version':
    case 'version':
      return printHelp(VERSION);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      return printHelp(USAGE);
    default:
      process.stderr.write(`entra-sidecar: unknown command "${String(command).slice(0, 40)}": use sidecar, webhook, emulator or demo (see --help)\n`);
      return 2;
  }
}

function printHelp(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}

// A long-running process never dies of a stray error: report it in one JSON line and go on.
const reportInternal = (err: unknown): void => {
  process.stderr.write(
    `${JSON.stringify({ level: 'error', msg: `unexpected internal error (kept running): ${err instanceof Error ? err.message : String(err)}` })}\n`,
  );
};
process.on('unhandledRejection', reportInternal);
process.on('uncaughtException', reportInternal);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (process.argv[2] === 'sidecar' || process.argv[2] === 'demo') setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`entra-sidecar: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`entra-sidecar: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
