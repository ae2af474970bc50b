// Prints an OCI archive's image size and each layer's size with the Dockerfile step that made it:
//
//   node scripts/image-sizes.mjs .cache/image/entra-sidecar.oci.tar [--json]
//
// "compressed" is what a registry stores and a node pulls; "unpacked" is the layer's tar stream
// uncompressed (what the layer takes on disk, give or take the file system's blocks).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const [archive, flag] = process.argv.slice(2);
if (!archive) {
  console.error('usage: node scripts/image-sizes.mjs ARCHIVE.oci.tar [--json]');
  process.exit(2);
}

/** Reads a (ustar/pax) tar file into a map of path → content. */
function readTar(buf) {
  const files = new Map();
  let off = 0;
  let longName;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a, b) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const prefix = str(345, 500);
    const name = longName ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    longName = undefined;
    const body = buf.subarray(off + 512, off + 512 + size);
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      if (m) longName = m[1];
    } else if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
    } else if (type === '0' || type === '\0') {
      files.set(name.replace(/^\.\//, ''), body);
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const files = readTar(readFileSync(archive));
const blob = (digest) => {
  const b = files.get(`blobs/${digest.replace(':', '/')}`);
  if (!b) throw new Error(`${archive}: blob ${digest} is missing`);
  return b;
};
const index = JSON.parse(files.get('index.json').toString());
const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
const config = JSON.parse(blob(manifest.config.digest).toString());
const steps = (config.history ?? []).filter((h) => !h.empty_layer).map((h) => h.created_by ?? '');
const layers = manifest.layers.map((l, i) => {
  const data = blob(l.digest);
  const unpacked = l.mediaType.endsWith('gzip') ? gunzipSync(data).length : data.length;
  return { digest: l.digest, compressed: l.size, unpacked, step: (steps[i] ?? '').replace(/\s+/g, ' ').trim() };
});
const total = {
  compressed: layers.reduce((s, l) => s + l.compressed, 0),
  unpacked: layers.reduce((s, l) => s + l.unpacked, 0),
};
if (flag === '--json') {
  console.log(JSON.stringify({ tag: index.manifests[0].annotations?.['org.opencontainers.image.ref.name'], total, layers }, null, 2));
} else {
  const mb = (n) => `${(n / 1e6).toFixed(1).padStart(7)} MB`;
  console.log(`image ${archive}: ${mb(total.unpacked).trim()} unpacked, ${mb(total.compressed).trim()} compressed, ${layers.length} layers`);
  console.log('   unpacked  compressed  step');
  for (const l of layers) console.log(`${mb(l.unpacked)}  ${mb(l.compressed)}  ${l.step.slice(0, 110)}`);
}
