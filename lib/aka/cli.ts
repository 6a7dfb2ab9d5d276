/**
 * `mcx milenage`: one Milenage computation from the command line, for checking an HSS or a SIM against known values.
 */
import { hexOption, UsageError, type CommandModule } from '../cli.ts';
import { buildAutn } from './autn.ts';
import { computeOpc, Milenage } from './milenage.ts';
import { bufToSqn } from './sqn.ts';

/** Raw option values as commander hands them over (all optional: validation is ours, so failures exit 2). */
export interface MilenageCliOptions {
  k?: unknown;
  op?: unknown;
  opc?: unknown;
  rand?: unknown;
  sqn?: unknown;
  amf?: unknown;
}

/** The JSON printed by `mcx milenage`, lowercase hex throughout. */
export interface MilenageCliOutput {
  opc: string;
  mac_a: string;
  mac_s: string;
  res: string;
  ck: string;
  ik: string;
  ak: string;
  ak_star: string;
  autn: string;
}

/**
 * Validates the options and computes every Milenage output plus AUTN.
 * @throws UsageError naming the first missing or malformed option, or when both or neither of --op/--opc are given.
 */
export function runMilenage(opts: MilenageCliOptions): MilenageCliOutput {
  const given = (v: unknown): boolean => v !== undefined && v !== null && v !== '';
  const k = hexOption('k', opts.k, 16);
  if (given(opts.op) === given(opts.opc)) throw new UsageError('exactly one of --op and --opc is required');
  const opc = given(opts.op) ? computeOpc(k, hexOption('op', opts.op, 16)) : hexOption('opc', opts.opc, 16);
  const rand = hexOption('rand', opts.rand, 16);
  const sqn = hexOption('sqn', opts.sqn, 6);
  const amf = hexOption('amf', opts.amf, 2);

  const m = new Milenage(k, opc);
  const { macA, macS } = m.f1(rand, sqn, amf);
  const { res, ck, ik, ak } = m.f2345(rand);
  const hex = (b: Buffer): string => b.toString('hex');
  return {
    opc: hex(opc), mac_a: hex(macA), mac_s: hex(macS), res: hex(res), ck: hex(ck), ik: hex(ik), ak: hex(ak),
    ak_star: hex(m.f5star(rand)), autn: hex(buildAutn(bufToSqn(sqn), ak, amf, macA)),
  };
}

/** Adds `mcx milenage` to the root program. */
export const milenageCommand: CommandModule = (program) => {
  program
    .command('milenage')
    .description('compute Milenage f1–f5* (TS 35.206) and AUTN for one K/OP(c)/RAND/SQN/AMF; prints one JSON object')
    .option('--k <hex>', 'subscriber key K, 16 octets')
    .option('--op <hex>', 'operator variant OP, 16 octets (or --opc)')
    .option('--opc <hex>', 'derived operator variant OPc, 16 octets (or --op)')
    .option('--rand <hex>', 'RAND, 16 octets')
    .option('--sqn <hex>', 'SQN, 6 octets')
    .option('--amf <hex>', 'AMF, 2 octets')
    .action((opts: MilenageCliOptions) => {
      process.stdout.write(`${JSON.stringify(runMilenage(opts))}\n`);
    });
};
