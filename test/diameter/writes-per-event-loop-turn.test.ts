/**
 * Issue #12, "writes corked per event-loop turn" (lib/cork.ts, used by every Diameter link and SIP stream
 * connection), on a real TCP connection: the messages of a turn wait, corked, and leave together when the turn's I/O
 * is done; a turn that starts with a timer is flushed without waiting for further I/O; the peer gets every octet in
 * order. With a hold (the registrar's `--cx-batch-ms`), writes that come faster than two per hold wait across turns
 * for up to the hold, or until the batch is full; a lone write, or one after a pause, does not wait.
 *
 * Writing the first message of a turn at once instead was tried (issue #12, fourth round): one TLS echo in isolation
 * cost ~10 µs less per message, but the static chain at 1,000/s cost 20 % more CPU in every process — a message sent
 * at once wakes the next process while this one is still reading, where one sent at the end of the turn lets every
 * process handle more messages per wake-up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { FULL_BATCH, TurnCork } from '../../lib/cork.ts';
import { turn, until } from '../helpers/wait.ts';

let server: Server;
let client: Socket;
let peer: Socket;
let received = Buffer.alloc(0);

before(async () => {
  server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
  await new Promise((resolve) => client.once('connect', resolve));
  peer = await accepted;
  peer.on('data', (b: Buffer) => {
    received = Buffer.concat([received, b]);
  });
});

after(async () => {
  client.destroy();
  peer.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const msg = (i: number): Buffer => Buffer.from(`message ${String(i).padStart(4, '0')};`);
/** Until the peer has read `n` octets in all. */
const receivedLength = (n: number): Promise<void> => until(() => received.length >= n, `${n} octets at the peer`);

test('the messages of one turn leave together when it ends, every octet in order', async () => {
  received = Buffer.alloc(0);
  const cork = new TurnCork(client);
  for (let i = 0; i < 10; i++) cork.write(msg(i));
  assert.equal(client.writableLength, 10 * msg(0).length, 'all ten wait for the end of the turn');
  await turn();
  assert.equal(client.writableLength, 0, 'and leave when it ends');
  await receivedLength(10 * msg(0).length);
  assert.equal(received.toString(), Array.from({ length: 10 }, (_, i) => msg(i).toString()).join(''));

  // A later turn is a batch of its own.
  cork.write(msg(10));
  assert.equal(client.writableLength, msg(0).length);
  await turn();
  assert.equal(client.writableLength, 0);
  await receivedLength(11 * msg(0).length);
});

test('messages written from a timer are flushed in that iteration, with no further I/O to wake the loop', async () => {
  // The writer is a process of its own with nothing else to do (a test runner's own timers and pipes would wake this
  // one): once it has written five messages from a timer, only the echo of the fifth or a 1 s guard can wake it, so
  // corked bytes left for the next I/O would wait for the guard.
  const want = 5 * msg(0).length;
  const echo = createServer((c) => {
    let n = 0;
    c.on('data', (b: Buffer) => {
      n += b.length;
      if (n >= want) c.write('k');
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const port = (echo.address() as { port: number }).port;
  const corkUrl = new URL('../../lib/cork.ts', import.meta.url).href;
  const writer = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    import { connect } from 'node:net';
    import { TurnCork } from ${JSON.stringify(corkUrl)};
    const sock = connect({ host: '127.0.0.1', port: ${port} }, () => {
      const cork = new TurnCork(sock);
      let t0 = 0;
      const guard = setTimeout(() => { process.stdout.write('Infinity'); process.exit(0); }, 1000);
      sock.once('data', () => { clearTimeout(guard); process.stdout.write(String(performance.now() - t0)); process.exit(0); });
      setTimeout(() => {
        t0 = performance.now();
        for (let i = 0; i < 5; i++) cork.write(Buffer.from('message ' + String(i).padStart(4, '0') + ';'));
      }, 10);
    });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    writer.stdout.on('data', (d: Buffer) => (out += String(d)));
    await new Promise((resolve) => writer.once('exit', resolve));
    const ms = Number(out);
    assert.ok(ms < 500, `the peer had all five messages after ${out} ms`);
  } finally {
    writer.kill();
    await new Promise((resolve) => echo.close(resolve));
  }
});

test('the write callback reports each message, corked or not', async () => {
  const cork = new TurnCork(client);
  const done: number[] = [];
  for (let i = 0; i < 3; i++) cork.write(msg(i), (err) => { if (!err) done.push(i); });
  for (let t = 0; done.length < 3 && t < 100; t++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(done.sort(), [0, 1, 2]);
});

/** Writes `n` messages in one turn: gaps of ~0 bring the average gap under any hold (it starts at 1 s, weight 1/8). */
function load(cork: TurnCork, n = 60): void {
  for (let i = 0; i < n; i++) cork.write(msg(i));
}

test('with a hold, a lone write on an idle connection still leaves when its turn ends', async () => {
  const cork = new TurnCork(client, 200);
  cork.write(msg(0));
  await turn();
  assert.equal(client.writableLength, 0, 'not held: writes have not come faster than two per hold');
});

test('with a hold, writes that come faster than two per hold wait across turns and leave together within the hold', async () => {
  const hold = 200;
  const cork = new TurnCork(client, hold);
  received = Buffer.alloc(0);
  load(cork);
  await turn();
  assert.equal(client.writableLength, 0, 'the burst that taught it the load left at the end of its turn');
  await receivedLength(60 * msg(0).length);
  received = Buffer.alloc(0);
  const t0 = performance.now();
  cork.write(msg(1));
  await turn();
  cork.write(msg(2));
  await turn();
  assert.equal(client.writableLength, 2 * msg(0).length, 'both wait, two turns later, for the hold');
  await new Promise((r) => setTimeout(r, hold + 50));
  assert.equal(client.writableLength, 0, 'and leave once it is over');
  await receivedLength(2 * msg(0).length);
  assert.equal(received.toString(), msg(1).toString() + msg(2).toString());
  assert.ok(performance.now() - t0 >= hold - 5, 'held for the hold, not less');
});

test('with a hold, a pause longer than the hold forgets the load: the next write leaves with its turn', async () => {
  const hold = 40;
  const cork = new TurnCork(client, hold);
  load(cork);
  await turn();
  cork.write(msg(1));
  await turn();
  assert.ok(client.writableLength > 0, 'under load: held');
  await new Promise((r) => setTimeout(r, hold + 20));
  assert.equal(client.writableLength, 0);
  // One gap of 8 holds lifts the average gap (weight 1/8) to about one hold, above half a hold.
  await new Promise((r) => setTimeout(r, 8 * hold));
  cork.write(msg(2));
  await turn();
  assert.equal(client.writableLength, 0, 'idle again: not held');
});

test('with a hold, a full batch leaves at the end of its turn without waiting out the hold', async () => {
  const hold = 500;
  const cork = new TurnCork(client, hold);
  load(cork);
  await turn();
  const t0 = performance.now();
  for (let i = 1; i < FULL_BATCH; i++) {
    cork.write(msg(i));
    await turn();
  }
  assert.equal(client.writableLength, (FULL_BATCH - 1) * msg(0).length, `${FULL_BATCH - 1} messages wait for the hold`);
  cork.write(msg(FULL_BATCH));
  assert.ok(client.writableLength > 0, 'the full batch still leaves with its turn, not at once');
  await turn();
  assert.equal(client.writableLength, 0, 'and leaves then');
  assert.ok(performance.now() - t0 < hold, 'before the hold was over');
});
