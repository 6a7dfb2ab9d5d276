/**
 * The status page of a running testbed: its registrations (registrations.ts, listening to the testbed's log
 * collector from now on), its state (state.ts) and the server (server.ts) on 127.0.0.1.
 */
import type { Logger } from '../../lib/log.ts';
import type { LogCollector } from '../ladder.ts';
import type { TwoSystemTestbed } from '../testbed-builder.ts';
import { RegistrationLog } from './registrations.ts';
import { startStatusServer, type StatusServer } from './server.ts';
import { TestbedState } from './state.ts';

/**
 * Starts the status page of `tb`.
 * @param port on 127.0.0.1; 0 for an ephemeral one.
 * @throws listen errors (EADDRINUSE) as they come.
 */
export async function startStatusPage(tb: TwoSystemTestbed, logs: LogCollector, port: number, logger: Logger): Promise<StatusServer> {
  const state = new TestbedState(tb);
  const registrations = new RegistrationLog({ migrationOf: state.migrationOf });
  const detach = registrations.attach(logs);
  try {
    const server = await startStatusServer({ port, state: () => state.read(), registrations, logger });
    return {
      url: server.url,
      get clients() {
        return server.clients;
      },
      close: async () => {
        detach();
        await server.close();
      },
    };
  } catch (e) {
    detach();
    throw e;
  }
}
