/**
 * The primary MMS of TS 23.280 §10.6.2.3: a Cx agent from partner MMSs (mutual TLS, the partner CA trusted) to the
 * primary relay ("via SIP core / IMS", step 6), gated by the migration bindings it confirmed through its binding API
 * (binding-api.ts; DESIGN §2.4 [design]). A MAR or SAR passes only when a live binding names its User-Name (the
 * primary IMPI) toward the realm of the peer that sent it (its certificate-checked Origin-Host, which the request's
 * Origin-Realm must match) and its Public-Identity is one of the bound IMPUs;
 * otherwise it is answered here with Experimental-Result 5001 USER_UNKNOWN (nothing about the subscriber leaks)
 * or 5002 IDENTITIES_DONT_MATCH. It logs the seed steps it takes part in (5 in, 6 out, 7 back, 8 to the partner).
 */
import { ConfigFileError, readConfigFile } from '../lib/config/files.ts';
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { CxExperimentalResultCode, cxErrorAnswer, experimental } from '../lib/diameter/cx/index.ts';
import { getValue, getValues } from '../lib/diameter/message.ts';
import type { HandlerContext } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
import { Teardown } from '../lib/lifecycle.ts';
import { openStore, type Store } from '../lib/store/store.ts';
import { createBindingApi } from './binding-api.ts';
import { startForwardingAgent } from './forwarder.ts';
import { primaryMmsMetrics } from './metrics.ts';
import { listenMigration } from './migration-http.ts';
import { bindingFor } from './primary-bindings.ts';
import type { PrimaryMmsConfig, RunningMms } from './run.ts';
import { hssDirectory } from './subscriber-directory.ts';

/** Whether a Diameter identity (certificate-checked Origin-Host) is a host of `realm`. */
function hostOfRealm(host: string, realm: string): boolean {
  const h = host.toLowerCase();
  const r = realm.toLowerCase();
  return h === r || h.endsWith(`.${r}`);
}

/**
 * The binding gate of the Cx path: undefined to forward, or the refusal to answer with. The partner realm is the
 * authenticated peer's — lib/diameter admitted it at CER as an MMS whose certificate names that realm, and refuses
 * any request whose Origin-Host/Origin-Realm are not the peer's own (lib/diameter/admission.ts) — never just what
 * the request says, so one partner cannot ask for the users bound to another. Refusals name no identity: the text
 * travels back to the partner SIP core.
 * @param store where the binding API recorded the bindings.
 */
export function bindingGate(store: Store, self: { originHost: string; originRealm: string }): (req: DiameterMessage, ctx: HandlerContext) => Promise<DiameterMessage | undefined> {
  const refuse = (req: DiameterMessage, code: number, why: string): DiameterMessage => cxErrorAnswer(req, experimental(code), { ...self, errorMessage: why });
  return async (req, ctx) => {
    let impi: string | undefined;
    let realm: string | undefined;
    let impus: string[];
    try {
      impi = getValue(req, 'User-Name');
      realm = getValue(req, 'Origin-Realm');
      impus = getValues(req, 'Public-Identity');
    } catch {
      // Fails closed; the node validated the AVPs before this handler, so this is not reached in practice.
      return refuse(req, CxExperimentalResultCode.ERROR_USER_UNKNOWN, 'no migration binding');
    }
    const peer = ctx.peer;
    if (realm === undefined || realm.toLowerCase() !== peer.originRealm.toLowerCase() || !hostOfRealm(peer.originHost, realm)) {
      return refuse(req, CxExperimentalResultCode.ERROR_USER_UNKNOWN, 'no migration binding for this peer');
    }
    const binding = impi === undefined ? undefined : await bindingFor(store, realm, impi);
    if (!binding) return refuse(req, CxExperimentalResultCode.ERROR_USER_UNKNOWN, 'no migration binding');
    if (impus.some((u) => !binding.primaryImpus.includes(u))) return refuse(req, CxExperimentalResultCode.ERROR_IDENTITIES_DONT_MATCH, 'public identity not bound');
    return undefined;
  };
}

async function hssToken(file: string): Promise<string> {
  const token = (await readConfigFile('hss-admin-token-file', file)).trim();
  if (token === '') throw new Error(`--hss-admin-token-file ${file} is empty`);
  return token;
}

/**
 * Starts the primary MMS: store, Cx agent with the binding gate, binding API.
 * @throws ConfigFileError for unreadable TLS or token files; StoreError when the store cannot be opened; listen
 *   errors (EADDRINUSE) as they come.
 */
export async function startPrimaryMms(config: PrimaryMmsConfig): Promise<RunningMms> {
  const log: Logger = config.logger;
  const teardown = new Teardown({ logger: log, name: 'primary MMS' });
  return teardown.guard(async () => {
    const store = await openStore(config.store, { stateDir: config.stateDir, logger: log.child({ component: 'store' }) });
    teardown.add('store', () => store.close());
    const token = await hssToken(config.hssAdminTokenFile);
    const agent = await startForwardingAgent(config, 'primary-mms', bindingGate(store, { originHost: config.originHost, originRealm: config.realm }));
    teardown.addDiameter(agent.node);
    primaryMmsMetrics(agent.telemetry.metrics, { store });
    const pem = agent.tls;
    if (!pem) throw new Error('the primary MMS needs --tls-cert, --tls-key and --tls-ca');
    // Partner CAs only: --tls-ca lists the own system's CA first, and a primary-system certificate is no partner.
    const partnerCas = config.bindingCaFiles ? await Promise.all(config.bindingCaFiles.map((f) => readConfigFile('binding-ca', f))) : pem.ca.slice(1);
    if (partnerCas.length === 0) throw new ConfigFileError('--binding-ca: no partner CA for the binding API (give --binding-ca, or the partner CAs after the own one in --tls-ca)');
    const api = createBindingApi({
      store, realm: config.realm, maxTtlS: config.maxBindingTtlS, logger: log,
      subscribers: hssDirectory({ url: config.hssAdminUrl, token, ca: pem.ca }),
      tls: { cert: pem.cert, key: pem.key, clientCa: partnerCas },
    });
    teardown.add('listeners', () => api.close());
    const migrationUrl = await listenMigration(api, config.bindingApi);
    const metricsUrl = await agent.telemetry.serve(config.metrics?.listen, teardown, log);
    log.info({ bindingApi: migrationUrl, store: store.kind, hssAdmin: config.hssAdminUrl, metrics: metricsUrl }, 'primary MMS binding API ready');
    return {
      role: 'primary', diameterUrl: agent.diameterUrl, node: agent.node, store, migrationUrl, telemetry: agent.telemetry, ...(metricsUrl ? { metricsUrl } : {}),
      close: () => teardown.run(),
    };
  });
}
