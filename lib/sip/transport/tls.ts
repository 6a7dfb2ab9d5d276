/**
 * TLS material for the SIP transports: a server certificate and key (optionally requiring and verifying client
 * certificates against a CA), and client options that verify the server's certificate and name (RFC 5922 §7.2:
 * the name asked for must be in the certificate). Reads the PEM files `certs/` writes (`certPaths(...)`).
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions, TlsOptions } from 'node:tls';

/** PEM file paths, as `certPaths(dir, system, role)` returns them. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** CA certificate(s) used to verify the peer. */
  ca?: string | readonly string[];
}

/** PEM contents. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string[];
}

/**
 * Reads certificate, key and CA files.
 * @param files paths.
 */
export async function loadTlsFiles(files: TlsFiles): Promise<TlsMaterial> {
  const caPaths = files.ca === undefined ? [] : typeof files.ca === 'string' ? [files.ca] : [...files.ca];
  const [cert, key, ...ca] = await Promise.all([files.cert, files.key, ...caPaths].map((p) => readFile(p, 'utf8')));
  return { cert: cert as string, key: key as string, ca };
}

/**
 * Options of a TLS server.
 * @param m certificate, key, and the CA(s) client certificates must chain to.
 * @param requireClientCert ask for a client certificate and refuse connections without a valid one.
 */
export function tlsServerOptions(m: TlsMaterial, requireClientCert = false): TlsOptions {
  return {
    cert: m.cert,
    key: m.key,
    ca: m.ca.length > 0 ? m.ca : undefined,
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
    minVersion: 'TLSv1.2',
  };
}

/**
 * Options of a TLS client that verifies the server certificate (chain to `ca`, name checked at connect time).
 * @param ca the CA(s) the server certificate must chain to.
 * @param client optional client certificate and key (mutual TLS).
 */
export function tlsClientOptions(ca: string | readonly string[], client?: { cert: string; key: string }): ConnectionOptions {
  return {
    ca: typeof ca === 'string' ? [ca] : [...ca],
    cert: client?.cert,
    key: client?.key,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}
