// Loaded with --import into a sidecar process under test: records the host of every outgoing
// HTTP(S) request to the file named by RECORD_HOSTS_FILE, so a test can prove which hosts the
// process tried to reach (e.g. never login.microsoftonline.com).
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const file = process.env.RECORD_HOSTS_FILE;
for (const mod of [http, https]) {
  const original = mod.request;
  mod.request = function patched(...args) {
    const first = args[0];
    let host = '?';
    if (typeof first === 'string') host = new URL(first).hostname;
    else if (first instanceof URL) host = first.hostname;
    else if (first && typeof first === 'object') host = first.hostname ?? first.host ?? '?';
    if (file) appendFileSync(file, `${host}\n`);
    return original.apply(this, args);
  };
}
