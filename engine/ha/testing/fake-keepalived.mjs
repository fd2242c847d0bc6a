#!/usr/bin/env node
// A stand-in for keepalived in unit tests: takes keepalived's command line, writes its pid file, and writes the
// notify FIFO lines keepalived would, driven by signals. Plain JavaScript: starts fast, no tsx.
//   start     INSTANCE "<name>" BACKUP <priority> for every vrrp_instance in the file
//   SIGUSR1   every instance MASTER          SIGUSR2   every instance FAULT
//   SIGHUP    re-reads the file (a line "reload" in <conf>.log)
//   SIGTERM   every instance STOP, exit 0
// Every start and reload is logged to <conf>.log ("start <args>", "reload"). FAKE_KEEPALIVED_EXIT=N: exit N at once.
import fs from 'node:fs';

const args = process.argv.slice(2);
const opt = (flag) => args[args.indexOf(flag) + 1];
const conf = opt('-f');
const logFile = `${conf}.log`;
const note = (s) => fs.appendFileSync(logFile, `${s}\n`);

if (process.env.FAKE_KEEPALIVED_EXIT) {
  note('start-and-exit');
  process.stderr.write('fake keepalived: exiting as told\n');
  process.exit(Number(process.env.FAKE_KEEPALIVED_EXIT));
}

let text = fs.readFileSync(conf, 'utf8');
const fifo = () => /notify_fifo (\S+)/.exec(text)[1];
const instances = () => [...text.matchAll(/vrrp_instance (\S+) \{[^}]*?priority (\d+)/gs)].map((m) => ({ name: m[1], priority: m[2] }));
const tell = (state) => {
  const lines = instances()
    .map((i) => `INSTANCE "${i.name}" ${state} ${i.priority}\n`)
    .join('');
  fs.appendFileSync(fifo(), lines);
};

// The handlers before the "start" line: a test takes that line for "keepalived is up" and the engine may send
// SIGHUP at once; one that came before its handler would end this process (Node's default for SIGHUP), as it did
// in CI under load.
process.on('SIGHUP', () => {
  text = fs.readFileSync(conf, 'utf8');
  note('reload');
});
process.on('SIGUSR1', () => tell('MASTER'));
process.on('SIGUSR2', () => tell('FAULT'));
process.on('SIGTERM', () => {
  tell('STOP');
  process.exit(0);
});
note(`start ${args.join(' ')}`);
process.stdout.write('Starting Keepalived v2.2.7 (fake)\n');
// The first state only once the handlers are there: a test that hears BACKUP may signal at once (it knows the pid
// from the spawn), and a SIGUSR1 before its handler would kill this process instead.
tell('BACKUP');
// The pid file last: whoever reads it may signal at once, and the handlers above must be there by then.
fs.writeFileSync(opt('-p'), `${process.pid}\n`);
setInterval(() => {}, 1 << 30);
