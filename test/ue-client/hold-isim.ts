/**
 * Run as its own process by isim.test.ts: opens the ISIM state file named by argv[2], prints `open <pid>`, and holds
 * it until its stdin ends (then closes it and prints `closed`). Killed instead, it leaves a stale lock behind.
 */
import { Isim } from '../../ue-client/isim.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: hold-isim.ts FILE');
const isim = await Isim.open(file);
process.stdout.write(`open ${process.pid}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void isim.close().then(() => {
    process.stdout.write('closed\n');
    process.exit(0);
  });
});
