/**
 * The state the status page shows beside the ladders, read from the roles the testbed runs in this process (what their
 * starts returned, role-handle.ts `inProcess`): every role of the primary and partner systems with its addresses and
 * Diameter connections (peer state and watchdog health), the HSS's subscribers (the admin API's view: no key
 * material), each partner MMS's static mappings and live dynamic migrations (with expiry), each registrar's current
 * bindings. Only reads; a role run as a child process is listed with its addresses only. Long tables are cut at
 * {@link MAX_ROWS} rows with their full count.
 */
import type { PeerStatus } from '../../lib/diameter/node-types.ts';
import type { UnconnectedPeer } from '../../lib/diameter/peer-table.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import type { SubscriberView } from '../../lib/admin/hss-api.ts';
import type { RunningHss } from '../../hss/run.ts';
import { mappingView, type MappingView } from '../../mms/admin-api.ts';
import { listConfigurations } from '../../mms/bindings.ts';
import { listMappings } from '../../mms/mappings.ts';
import type { RunningMms } from '../../mms/run.ts';
import { bindingView, type BindingView } from '../../registrar/admin-api.ts';
import { BindingStore } from '../../registrar/bindings.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import { partnerRoles, roleNamesOf, type RoleName } from '../roles.ts';
import type { TwoSystemTestbed } from '../testbed-builder.ts';
import type { MigrationLookup } from './step-one.ts';

/** Rows of one table at most (the count says how many there are). */
export const MAX_ROWS = 500;

/** One role as the page lists it. */
export interface RoleState {
  name: string;
  /** `primary` or the partner system's name. */
  system: string;
  /** In this process, or an `mcx` child process (state not readable). */
  where: 'in-process' | 'process';
  addresses: Record<string, string>;
  /** Its Diameter connections (none for the IdMSs). */
  peers?: PeerStatus[];
  /** Its configured Diameter peers without an open connection (a peer that is down, being reconnected). */
  down?: UnconnectedPeer[];
}

/** A table cut at {@link MAX_ROWS}. */
export interface Rows<T> {
  total: number;
  rows: T[];
}

/** A live migration configuration of TS 23.280 §10.6.2.3 at one partner MMS. */
export interface MigrationState {
  system: string;
  id: string;
  mcpttId: string;
  partnerImpi: string;
  partnerImpus: string[];
  primaryImpi: string;
  primaryImpus: string[];
  createdAt: number;
  expiresAt: number;
}

/** Everything but the ladders. */
export interface StatusState {
  /** Epoch ms when read: expiries count down from it. */
  at: number;
  realms: { primary: string; partners: Array<{ name: string; realm: string }> };
  roles: RoleState[];
  subscribers: Rows<SubscriberView>;
  mappings: Rows<MappingView & { system: string }>;
  migrations: Rows<MigrationState>;
  bindings: Rows<BindingView & { system: string }>;
}

function cut<T>(all: T[]): Rows<T> {
  return { total: all.length, rows: all.slice(0, MAX_ROWS) };
}

/** The system a role belongs to. */
function systemOf(tb: TwoSystemTestbed, name: RoleName): string {
  return tb.partners.find((p) => Object.values(partnerRoles(p.name)).includes(name))?.name ?? 'primary';
}

/** The role's start result in this process, if any. */
function running<T>(tb: TwoSystemTestbed, name: RoleName): T | undefined {
  return tb.has(name) ? (tb.role(name).inProcess as T | undefined) : undefined;
}

/** Reads what the page shows from the testbed's roles. */
export class TestbedState {
  constructor(private readonly tb: TwoSystemTestbed) {}

  /** The roles, subscribers, mappings, migrations and bindings now. */
  async read(): Promise<StatusState> {
    const { tb } = this;
    const now = Date.now();
    const names = roleNamesOf(tb.partners).filter((n) => tb.has(n));
    const roles = names.map((name): RoleState => {
      const h = tb.role(name);
      const addresses = Object.fromEntries(Object.entries(h.addresses).filter(([k, v]) => typeof v === 'string' && k !== 'adminTokenPath')) as Record<string, string>;
      for (const s of h.addresses.sip ?? []) addresses[`sip ${s.transport}`] = `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
      const node = (h.inProcess as { node?: DiameterNode } | undefined)?.node;
      return { name, system: systemOf(tb, name), where: h.proc ? 'process' : 'in-process', addresses, ...(node ? { peers: node.peers(), down: node.unconnectedPeers() } : {}) };
    });
    const hss = running<RunningHss>(tb, 'hss');
    const records = hss ? await hss.ctx.subscribers.list() : [];
    const subscribers = hss ? await Promise.all(records.slice(0, MAX_ROWS).map((r) => hss.ctx.subscribers.view(r))) : [];
    const mappings: Array<MappingView & { system: string }> = [];
    const migrations: MigrationState[] = [];
    const bindings: Array<BindingView & { system: string }> = [];
    for (const p of tb.partners) {
      const r = partnerRoles(p.name);
      const mms = running<RunningMms>(tb, r.mms);
      if (mms?.store) {
        for (const m of await listMappings(mms.store)) mappings.push({ system: p.name, ...mappingView(m) });
        for (const c of await listConfigurations(mms.store)) {
          migrations.push({
            system: p.name, id: c.id, mcpttId: c.mcpttId, partnerImpi: c.partnerImpi, partnerImpus: c.partnerImpus, primaryImpi: c.primaryImpi,
            primaryImpus: c.primaryImpus, createdAt: c.createdAt, expiresAt: c.expiresAt,
          });
        }
      }
      const registrar = running<RunningRegistrar>(tb, r.registrar);
      if (registrar) for (const b of await new BindingStore(registrar.store).list(now)) bindings.push({ system: p.name, ...bindingView(b, now) });
    }
    return {
      at: now, realms: { primary: tb.realms.primary, partners: tb.partners.map((p) => ({ name: p.name, realm: p.realm })) }, roles,
      subscribers: { total: records.length, rows: subscribers }, mappings: cut(mappings), migrations: cut(migrations), bindings: cut(bindings),
    };
  }

  /** The live migration configuration of a partner IMPI at the partner system of a registrar role (step 1 of its ladders). */
  readonly migrationOf: MigrationLookup = async (registrar, partnerImpi) => {
    const p = this.tb.partners.find((x) => partnerRoles(x.name).registrar === registrar);
    const store = p ? running<RunningMms>(this.tb, partnerRoles(p.name).mms)?.store : undefined;
    const c = store ? (await listConfigurations(store)).find((x) => x.partnerImpi === partnerImpi) : undefined;
    return c ? { mcpttId: c.mcpttId, createdAt: c.createdAt } : undefined;
  };
}
