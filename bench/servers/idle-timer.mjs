// The baseline for rows 3 and 5: a bare node process that only keeps a timer.
setInterval(() => {}, 1_000);
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
process.on('SIGTERM', () => process.exit(0));
