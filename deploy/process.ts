/**
 * Child processes for the integration tests and the benchmarks: started with output captured, awaited for a readiness
 * line, always killed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The Node binary this process runs on (node@22 from node_modules under `npm run …`). */
export const NODE = process.execPath;

export interface Proc {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output; rejects on exit or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code (signals give null). */
  exited: Promise<number | null>;
  /** Signals the child (default SIGTERM) and SIGKILLs it when it has not exited after `graceMs` (default 5 s). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Starts `cmd args`; `stop()` signals the child (SIGKILL after 5 s), not its own children. */
export function start(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString('utf8');
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, ms = 15000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out after ${ms} ms waiting for ${pattern}; output:\n${out.slice(-4000)}`)), ms);
        const check = () => {
          const m = pattern.exec(out);
          if (m) finish(null, m);
          else if (done) finish(new Error(`process exited while waiting for ${pattern}; output:\n${out.slice(-4000)}`));
        };
        const finish = (err: Error | null, m?: RegExpExecArray) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve(m as RegExpExecArray);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (!done) {
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(t);
        return code;
      }
      return exited;
    },
  };
}

/**
 * Starts `mcx` with `args` on this process's Node binary.
 * @param opts spawn options, and `nodeArgs` for Node itself (e.g. `--cpu-prof`), placed before the script.
 */
export function startMcx(args: string[], opts: SpawnOptions & { nodeArgs?: readonly string[] } = {}): Proc {
  const { nodeArgs = [], ...spawnOpts } = opts;
  return start(NODE, [...nodeArgs, 'bin/mcx.mjs', ...args], spawnOpts);
}
