/**
 * The part of `oidc-provider` v9 this code base uses, typed by hand: the package ships no declarations and
 * `@types/oidc-provider` stops at v8. Every member here was checked against `node_modules/oidc-provider/lib`
 * (provider.js, helpers/defaults.js, helpers/errors.js); anything not listed is deliberately out of reach.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  /** A request parameter after oidc-provider's parsing: repeated parameters are arrays only where allowed. */
  export type ParamValue = string | string[] | undefined;

  /** A registered client as the provider resolved it. */
  export interface OidcClient {
    readonly clientId: string;
    readonly clientAuthMethod: string;
    readonly applicationType: string;
    grantTypeAllowed(grantType: string): boolean;
  }

  /** `ctx.oidc`: the provider's per-request state. */
  export interface OidcRequestContext {
    readonly params: Record<string, ParamValue>;
    readonly client: OidcClient | undefined;
    readonly route: string;
    readonly issuer: string;
  }

  /** The Koa context of a request handled by the provider. */
  export interface OidcKoaContext {
    readonly oidc: OidcRequestContext;
    readonly method: string;
    readonly path: string;
    body: unknown;
    status: number;
    type: string;
  }

  /** A token model handed to `extraTokenClaims`. */
  export interface OidcTokenModel {
    readonly kind: string;
    readonly accountId?: string;
    readonly clientId?: string;
    readonly scope?: string;
  }

  /** What `findAccount` resolves. */
  export interface OidcAccount {
    accountId: string;
    claims(use: string, scope: string, claims: unknown, rejected: string[]): Promise<Record<string, unknown> & { sub: string }>;
  }

  /** A resource server as `getResourceServerInfo` describes it. */
  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg: string; kid?: string } };
  }

  /** The persistence interface of every model (`adapter` configuration). */
  export interface AdapterPayload {
    [key: string]: unknown;
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: number;
  }

  /** One model's storage. */
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  /** A static client registration. */
  export interface ClientMetadata {
    client_id: string;
    redirect_uris: string[];
    grant_types: string[];
    response_types: string[];
    token_endpoint_auth_method: 'none';
    application_type: 'native' | 'web';
    id_token_signed_response_alg?: string;
    scope?: string;
  }

  /** A private JWK as the `jwks` configuration takes it. */
  export interface SigningJwk {
    kty: string;
    kid: string;
    alg: string;
    use: 'sig';
    x5c?: string[];
    [parameter: string]: unknown;
  }

  /** The configuration members this code base sets. */
  export interface Configuration {
    adapter: (model: string) => Adapter;
    clients: ClientMetadata[];
    jwks: { keys: SigningJwk[] };
    cookies: { keys: string[]; long?: Record<string, unknown>; short?: Record<string, unknown> };
    claims: Record<string, string[] | null>;
    scopes: string[];
    acrValues: string[];
    responseTypes: string[];
    clockTolerance: number;
    conformIdTokenClaims: boolean;
    pkce: { required: (ctx: OidcKoaContext, client: OidcClient) => boolean };
    features: {
      devInteractions: { enabled: boolean };
      resourceIndicators: {
        enabled: boolean;
        defaultResource: (ctx: OidcKoaContext, client: OidcClient, oneOf?: string[]) => Promise<string | string[] | undefined>;
        useGrantedResource: (ctx: OidcKoaContext, model: unknown) => Promise<boolean>;
        getResourceServerInfo: (ctx: OidcKoaContext, resource: string, client: OidcClient) => Promise<ResourceServerInfo>;
      };
      rpInitiatedLogout: { enabled: boolean };
      userinfo: { enabled: boolean };
      revocation: { enabled: boolean };
      introspection: { enabled: boolean };
    };
    findAccount: (ctx: OidcKoaContext, sub: string, token?: unknown) => Promise<OidcAccount | undefined>;
    extraTokenClaims: (ctx: OidcKoaContext, token: OidcTokenModel) => Promise<Record<string, unknown> | undefined>;
    issueRefreshToken: (ctx: OidcKoaContext, client: OidcClient, code: unknown) => Promise<boolean>;
    clientBasedCORS: (ctx: OidcKoaContext, origin: string, client: OidcClient) => boolean;
    renderError: (ctx: OidcKoaContext, out: Record<string, string>, error: Error) => Promise<void>;
    interactions: { url: (ctx: OidcKoaContext, interaction: { uid: string }) => Promise<string> };
    ttl: Record<string, number>;
    routes: Record<string, string>;
  }

  /** What `interactionDetails` resolves. */
  export interface InteractionDetails {
    readonly uid: string;
    readonly prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    readonly params: Record<string, unknown>;
    readonly session?: { accountId: string };
    readonly grantId?: string;
    readonly returnTo: string;
    readonly exp: number;
  }

  /** The result an interaction ends with. */
  export type InteractionResult =
    | { login: { accountId: string; acr?: string; amr?: string[]; remember?: boolean }; consent?: { grantId: string } }
    | { consent: { grantId: string } }
    | { error: string; error_description?: string };

  /** A grant: what an account authorised a client to receive. */
  export interface Grant {
    readonly accountId?: string;
    readonly clientId?: string;
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  /** The grant model class. */
  export interface GrantClass {
    new (init: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  /** The provider: a Koa application. */
  export class Provider {
    constructor(issuer: string, configuration: Partial<Configuration>);
    readonly issuer: string;
    readonly Grant: GrantClass;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    registerGrantType(
      name: string,
      handler: (ctx: OidcKoaContext) => Promise<void>,
      params?: string | string[] | Set<string>,
      allowedDuplicateParameters?: string | string[] | Set<string>,
    ): void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: InteractionResult, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  /** An OAuth error with exactly the `error` and `error_description` given (HTTP 400 unless changed). */
  export interface CustomOIDCProviderError extends Error {
    readonly error: string;
    readonly error_description: string;
    status: number;
    statusCode: number;
  }

  /** The provider's error classes; only the one used here is declared. */
  export const errors: { CustomOIDCProviderError: new (error: string, description: string) => CustomOIDCProviderError };

  export default Provider;
}
