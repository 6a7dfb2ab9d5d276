/**
 * The Diameter metrics every role with a Cx node has (HSS, relay, both MMSs, registrar), fed by the node's observer
 * hook and peer events (lib/diameter/node.ts):
 *
 * - `mcx_<role>_diameter_requests_sent_total{peer,command,result}`: requests this node sent, by the peer that had
 *   them (Origin-Host) and the outcome — the answer's Result-Code or Experimental-Result-Code, or `timeout`,
 *   `no_peer`, `closed`, `error`;
 * - `mcx_<role>_diameter_requests_received_total{command,result}`: requests this node answered (served or relayed),
 *   by the result code of its answer;
 * - `mcx_<role>_diameter_round_trip_seconds{peer,command}`: request sent → answer received;
 * - `mcx_<role>_diameter_peer_up{peer}`: 1 while the connection to that peer is open, 0 once it closed.
 *
 * `command` is the request's name (MAR, SAR, UAR, LIR, RTR, PPR; another code as its number). Label values are
 * bounded: peers are the admitted ones, results the code spaces of RFC 6733 and TS 29.229. Children are kept per
 * label set, so a request costs map look-ups and prom-client's own increments, no label objects.
 */
import type { DiameterMessage } from '../diameter/codec.ts';
import { readCxResult } from '../diameter/cx/index.ts';
import type { DiameterNode } from '../diameter/node.ts';
import type { RoleMetrics } from './role-metrics.ts';

/** Upper bounds (s) of a Cx round trip: sub-millisecond on loopback up to the 1.5 s the registrar waits. */
export const ROUND_TRIP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

const COMMANDS: Readonly<Record<number, string>> = { 300: 'UAR', 301: 'SAR', 302: 'LIR', 303: 'MAR', 304: 'RTR', 305: 'PPR' };

/** The label value of a command code. */
export function commandLabel(code: number): string {
  return COMMANDS[code] ?? String(code);
}

const resultLabels = new Map<number, string>();

/** The label value of an answer's outcome: its Result-Code or Experimental-Result-Code, or `unreadable`. */
export function resultLabel(answer: DiameterMessage): string {
  let code: number;
  try {
    const r = readCxResult(answer);
    code = r.resultCode ?? r.experimentalResult?.code ?? 0;
  } catch {
    return 'unreadable';
  }
  let label = resultLabels.get(code);
  if (label === undefined) {
    label = String(code);
    // Codes are 32-bit numbers from the wire: only a bounded set gets a cached string.
    if (resultLabels.size < 256) resultLabels.set(code, label);
  }
  return label;
}

/** Children of a labelled metric, found by nested label values (no key strings built per request). */
class Children<C> {
  private readonly root = new Map<string, unknown>();

  constructor(private readonly make: (values: string[]) => C) {}

  get(...values: string[]): C {
    let m = this.root;
    for (let i = 0; i < values.length - 1; i++) {
      const v = values[i] as string;
      let next = m.get(v) as Map<string, unknown> | undefined;
      if (!next) {
        next = new Map();
        m.set(v, next);
      }
      m = next;
    }
    const last = values[values.length - 1] as string;
    let child = m.get(last) as C | undefined;
    if (child === undefined) {
      child = this.make(values);
      m.set(last, child);
    }
    return child;
  }
}

/** Counts and times what `node` sends and answers into `metrics`, and follows its peers. */
export function observeDiameter(node: DiameterNode, metrics: RoleMetrics): void {
  const sent = metrics.counter('diameter_requests_sent_total',
    'Diameter requests this node sent, by peer (Origin-Host), command and result (Result-Code or Experimental-Result-Code of the answer, or timeout, no_peer, closed, error)',
    ['peer', 'command', 'result']);
  const received = metrics.counter('diameter_requests_received_total',
    'Diameter requests this node answered (served or relayed), by command and the result code of its answer', ['command', 'result']);
  const roundTrip = metrics.histogram('diameter_round_trip_seconds', 'Diameter request sent to answer received, by peer (Origin-Host) and command',
    ['peer', 'command'], ROUND_TRIP_BUCKETS);
  const up = metrics.gauge('diameter_peer_up', '1 while the Diameter connection to the peer (Origin-Host) is open, 0 once it closed', ['peer']);
  const sentOf = new Children((v) => sent.labels(...v));
  const receivedOf = new Children((v) => received.labels(...v));
  const roundTripOf = new Children((v) => roundTrip.labels(...v));

  node.events.on('peerUp', (p) => up.set({ peer: p.originHost.toLowerCase() }, 1));
  node.events.on('peerDown', (p) => {
    if (p.originHost !== '?') up.set({ peer: p.originHost.toLowerCase() }, 0);
  });
  node.observe({
    answered(peer, request, answer, seconds) {
      const p = peer.toLowerCase();
      const command = commandLabel(request.commandCode);
      sentOf.get(p, command, resultLabel(answer)).inc();
      roundTripOf.get(p, command).observe(seconds);
    },
    failed(peer, request, reason) {
      sentOf.get(peer?.toLowerCase() ?? 'none', commandLabel(request.commandCode), reason).inc();
    },
    served(request, answer) {
      receivedOf.get(commandLabel(request.commandCode), resultLabel(answer)).inc();
    },
  });
}
