import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import AjvModule from 'ajv';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { load as loadYaml } from 'js-yaml';
import { editRegistry, setTeamSettingsText } from '../../src/registry/index.js';
import { FsTeamStore } from '../../src/team/index.js';
import { runOis, tempDir } from './cli.js';
import { ROOT } from './spec-blocks.js';

/**
 * Fakes of the ZeroTier local service (with its controller) and of ZeroTier Central: tiny real HTTP servers
 * on 127.0.0.1:0. Every body they answer is validated against the official specs in
 * tests/fixtures/zerotier, copied from shared/reference/zerotier (OpenAPI for both, plus the JSON Schema of the local service); a violation is
 * recorded in `violations`, which each test asserts empty. Where the README documents that the real API
 * differs from its spec (the 200 `{}` for an unknown peer, Central's error bodies), the fake answers as the
 * real API does and is checked against that documented shape instead.
 */

export const ZT_SPEC_DIR = join(ROOT, 'tests', 'fixtures', 'zerotier');

// ajv and ajv-formats are CommonJS with `exports.default`; reach the constructor the same way under tsc and vitest.
type AjvClass = typeof AjvModule.default;
const Ajv = ((AjvModule as unknown as { default?: AjvClass }).default ?? AjvModule) as AjvClass;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as AjvClass;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: InstanceType<AjvClass>,
) => void;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** OpenAPI 3.0 `nullable: true` → JSON Schema: `anyOf` the schema or null. */
function fromOpenApi(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(fromOpenApi);
  if (typeof node !== 'object' || node === null) return node;
  const src = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) if (k !== 'nullable') out[k] = fromOpenApi(v);
  if (src.nullable !== true) return out;
  // OpenAPI 3.0 ignores siblings of $ref; keep only the reference then.
  return { anyOf: [typeof out.$ref === 'string' ? { $ref: out.$ref } : out, { type: 'null' }] };
}

const NUMERIC_FORMATS = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'];

function newAjv(cls: AjvClass): InstanceType<AjvClass> {
  const ajv = new cls({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const f of NUMERIC_FORMATS) ajv.addFormat(f, true);
  return ajv;
}

const pointer = (segments: string[]) =>
  segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/** Validates response bodies of one OpenAPI document by method, path template and status. */
export class OpenApiValidator {
  private readonly ajv = newAjv(Ajv);
  private readonly doc: { paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> };
  private readonly cache = new Map<string, ReturnType<InstanceType<AjvClass>['compile']>>();

  constructor(
    readonly id: string,
    raw: unknown,
  ) {
    this.doc = fromOpenApi(raw) as typeof this.doc;
    this.ajv.addSchema(this.doc as object, id);
  }

  /** The response schema the spec documents, or undefined when it documents no body for that status. */
  hasSchema(method: string, template: string, status: number): boolean {
    const r = this.doc.paths[template]?.[method.toLowerCase()]?.responses?.[String(status)] as
      | { content?: Record<string, { schema?: unknown }> }
      | undefined;
    return r?.content?.['application/json']?.schema !== undefined;
  }

  /** Errors (empty when valid). Throws when the spec has no such operation: the fake must stay in the spec. */
  validate(method: string, template: string, status: number, body: unknown): string[] {
    const op = this.doc.paths[template]?.[method.toLowerCase()];
    if (!op) throw new Error(`${this.id}: the spec has no ${method} ${template}`);
    if (!this.hasSchema(method, template, status)) return [];
    const ref = `${this.id}#/${pointer(['paths', template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema'])}`;
    let validate = this.cache.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.cache.set(ref, validate);
    }
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }
}

/** Validates against one `$defs` entry of zerotier-one-api-spec's JSON Schema (draft 2020-12). */
export class JsonSchemaValidator {
  private readonly ajv = newAjv(Ajv2020);
  constructor(raw: Record<string, unknown>) {
    this.ajv.addSchema(raw, 'json-schema.json');
  }
  validate(def: string, body: unknown): string[] {
    const validate = this.ajv.getSchema(`json-schema.json#/$defs/${def}`);
    if (!validate) throw new Error(`json-schema.json has no $defs/${def}`);
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }
}

let specs:
  | { central: OpenApiValidator; local: OpenApiValidator; localSchema: JsonSchemaValidator }
  | undefined;

export function zerotierSpecs() {
  specs ??= {
    central: new OpenApiValidator(
      'central-v1.json',
      JSON.parse(readFileSync(join(ZT_SPEC_DIR, 'central-v1.json'), 'utf8')),
    ),
    local: new OpenApiValidator(
      'zerotier-one.yaml',
      loadYaml(readFileSync(join(ZT_SPEC_DIR, 'zerotier-one-api-spec-v1.2.0.openapi.yaml'), 'utf8')),
    ),
    localSchema: new JsonSchemaValidator(
      JSON.parse(readFileSync(join(ZT_SPEC_DIR, 'zerotier-one-api-spec-v1.2.0.json-schema.json'), 'utf8')),
    ),
  };
  return specs;
}

/** The README's documented deviations: what the real APIs answer where the spec says otherwise. */
const CENTRAL_ERROR_BODY = {
  type: 'object',
  required: ['type', 'message'],
  properties: { type: { type: 'string' }, message: { type: 'string' } },
};
const EMPTY_OBJECT = { type: 'object', maxProperties: 0 };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface Scripted {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
  /** Drop the connection without answering. */
  destroy?: boolean;
}

interface Route {
  method: string;
  template: string;
  params: Record<string, string>;
}

function matchRoute(method: string, path: string, templates: string[]): Route | null {
  const parts = path.split('/');
  for (const template of templates) {
    const t = template.split('/');
    if (t.length !== parts.length) continue;
    const params: Record<string, string> = {};
    if (
      t.every((seg, i) => {
        const m = /^\{(.+)\}$/.exec(seg);
        if (m) {
          params[m[1]!] = decodeURIComponent(parts[i]!);
          return true;
        }
        return seg === parts[i];
      })
    ) {
      return { method, template, params };
    }
  }
  return null;
}

abstract class FakeServer {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  /** Answers given instead of the normal one, first in first out (for 429, 500, …). */
  readonly script: Scripted[] = [];
  protected server: Server | null = null;
  port = 0;

  async listen(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.violations.push(`fake crashed: ${err.stack ?? err.message}`);
        res.statusCode = 599;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  protected abstract route(req: RecordedRequest): Promise<{
    status: number;
    body: Json;
    headers?: Record<string, string>;
    template: string;
    deviation?: object;
  }>;
  protected abstract check(
    method: string,
    template: string,
    status: number,
    body: unknown,
    deviation: object | undefined,
  ): string[];

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
    this.requests.push(recorded);
    const scripted = this.script.shift();
    if (scripted?.destroy) {
      req.socket.destroy();
      return;
    }
    let answer: Awaited<ReturnType<FakeServer['route']>>;
    if (scripted) {
      const routed = await this.route(recorded);
      answer = {
        ...routed,
        status: scripted.status,
        body: scripted.body ?? {},
        headers: scripted.headers ?? {},
      };
    } else {
      answer = await this.route(recorded);
    }
    for (const v of this.check(
      recorded.method,
      answer.template,
      answer.status,
      answer.body,
      answer.deviation,
    )) {
      this.violations.push(`${recorded.method} ${recorded.path} → ${answer.status}: ${v}`);
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  }
}

export interface FakeJoinedNetwork {
  status: string;
  assignedAddresses?: string[];
  name?: string;
  authenticationURL?: string;
}

export interface FakePeer {
  latency?: number;
  paths?: { address: string; active: boolean; preferred?: boolean }[];
}

export interface FakeControllerMember {
  authorized: boolean;
  name?: string;
  ipAssignments?: string[];
  revision?: number;
}

export interface FakeLocalOptions {
  token: string;
  nodeId: string;
  online?: boolean;
  networks?: Record<string, FakeJoinedNetwork>;
  peers?: Record<string, FakePeer>;
  /** Networks hosted by this node's controller: nwid → nodeId → member. */
  controller?: Record<string, Record<string, FakeControllerMember>>;
}

const LOCAL_ROUTES = [
  '/status',
  '/network',
  '/network/{network_id}',
  '/peer',
  '/peer/{network_id}',
  '/controller/network',
  '/controller/network/{network_id}/member',
  '/controller/network/{network_id}/member/{node_id}',
];

/** Which JSON Schema $def a 200 answer of each route must match (the spec's own names). */
const LOCAL_DEFS: Record<string, string> = {
  'GET /status': 'NodeStatus',
  'GET /network': 'JoinedNetworks',
  'GET /network/{network_id}': 'JoinedNetwork',
  'GET /peer': 'Peers',
  'GET /peer/{network_id}': 'Peer',
  'GET /controller/network': 'ControllerNetworkIDList',
  'GET /controller/network/{network_id}/member': 'ControllerNetworkMemberList',
  'GET /controller/network/{network_id}/member/{node_id}': 'ControllerNetworkMember',
  'POST /controller/network/{network_id}/member/{node_id}': 'ControllerNetworkMember',
};

/** A fake ZeroTier One service (1.14) with its network controller. */
export class FakeLocalService extends FakeServer {
  constructor(readonly state: Required<FakeLocalOptions>) {
    super();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected async route(req: RecordedRequest) {
    const r = matchRoute(req.method, req.path, LOCAL_ROUTES);
    if (!r) return { status: 404, body: {}, template: '/status' };
    if (req.headers['x-zt1-auth'] !== this.state.token)
      return { status: 401, body: {}, template: r.template };
    const s = this.state;
    const nwid = r.params.network_id ?? '';
    switch (`${req.method} ${r.template}`) {
      case 'GET /status':
        return { status: 200, body: nodeStatus(s.nodeId, s.online), template: r.template };
      case 'GET /network':
        return {
          status: 200,
          body: Object.entries(s.networks).map(([id, n]) => joinedNetwork(id, n)),
          template: r.template,
        };
      case 'GET /network/{network_id}': {
        const n = s.networks[nwid];
        return n
          ? { status: 200, body: joinedNetwork(nwid, n), template: r.template }
          : { status: 404, body: {}, template: r.template };
      }
      case 'GET /peer':
        return {
          status: 200,
          body: Object.entries(s.peers).map(([id, p]) => peer(id, p)),
          template: r.template,
        };
      case 'GET /peer/{network_id}': {
        const p = s.peers[nwid];
        // The real service answers 200 {} for a node it does not know (README); the spec says Peer.
        return p
          ? { status: 200, body: peer(nwid, p), template: r.template }
          : { status: 200, body: {}, template: r.template, deviation: EMPTY_OBJECT };
      }
      case 'GET /controller/network':
        return { status: 200, body: Object.keys(s.controller), template: r.template };
      case 'GET /controller/network/{network_id}/member': {
        const net = s.controller[nwid];
        if (!net) return { status: 404, body: {}, template: r.template };
        const body: Record<string, number> = {};
        for (const [id, m] of Object.entries(net)) body[id] = m.revision ?? 1;
        return { status: 200, body, template: r.template };
      }
      case 'GET /controller/network/{network_id}/member/{node_id}': {
        const m = s.controller[nwid]?.[r.params.node_id!];
        return m
          ? { status: 200, body: controllerMember(nwid, r.params.node_id!, m), template: r.template }
          : { status: 404, body: {}, template: r.template };
      }
      case 'POST /controller/network/{network_id}/member/{node_id}': {
        const net = s.controller[nwid];
        if (!net) return { status: 404, body: {}, template: r.template };
        const patch = (req.body ?? {}) as Partial<FakeControllerMember>;
        const id = r.params.node_id!;
        const prev = net[id] ?? { authorized: false };
        const next: FakeControllerMember = { ...prev, ...patch, revision: (prev.revision ?? 0) + 1 };
        net[id] = next;
        return { status: 200, body: controllerMember(nwid, id, next), template: r.template };
      }
      default:
        return { status: 404, body: {}, template: r.template };
    }
  }

  protected check(
    method: string,
    template: string,
    status: number,
    body: unknown,
    deviation?: object,
  ): string[] {
    const { local, localSchema } = zerotierSpecs();
    if (deviation) return checkAgainst(deviation, body);
    const errors = local.validate(method, template, status, body);
    const def = status === 200 ? LOCAL_DEFS[`${method} ${template}`] : undefined;
    if (def) errors.push(...localSchema.validate(def, body).map((e) => `(json-schema ${def}) ${e}`));
    return errors;
  }
}

let deviationAjv: InstanceType<AjvClass> | undefined;
function checkAgainst(schema: object, body: unknown): string[] {
  deviationAjv ??= newAjv(Ajv);
  const validate = deviationAjv.compile(schema);
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

function nodeStatus(nodeId: string, online: boolean): Json {
  return {
    address: nodeId,
    clock: Date.now(),
    config: {
      settings: {
        allowTcpFallbackRelay: true,
        forceTcpRelay: false,
        listeningOn: ['192.168.1.20/9993'],
        portMappingEnabled: true,
        primaryPort: 9993,
        secondaryPort: 29847,
        softwareUpdate: 'disable',
        softwareUpdateChannel: 'release',
        surfaceAddresses: ['203.0.113.7/9993'],
        tertiaryPort: 41823,
      },
    },
    online,
    planetWorldId: 149604618,
    planetWorldTimestamp: 1644592324813,
    publicIdentity: `${nodeId}:0:${'ab'.repeat(32)}`,
    tcpFallbackActive: false,
    version: '1.14.2',
    versionBuild: 0,
    versionMajor: 1,
    versionMinor: 14,
    versionRev: 2,
  };
}

function joinedNetwork(id: string, n: FakeJoinedNetwork): Json {
  return {
    allowDNS: false,
    allowDefault: false,
    allowManaged: true,
    allowGlobal: false,
    assignedAddresses: n.assignedAddresses ?? [],
    bridge: false,
    broadcastEnabled: true,
    dns: [],
    id,
    mac: '7e:a1:b2:c3:d4:e5',
    mtu: 2800,
    multicastSubscriptions: [{ adi: 4294967295, mac: 'ff:ff:ff:ff:ff:ff' }],
    name: n.name ?? 'ois-team',
    netconfRevision: 12,
    portDeviceName: `zt${id.slice(0, 8)}`,
    portError: 0,
    routes: [{ flags: 0, metric: 0, target: '10.147.17.0/24', via: null }],
    status: n.status,
    type: 'PRIVATE',
    ...(n.authenticationURL ? { authenticationURL: n.authenticationURL, authenticationExpiryTime: 0 } : {}),
  };
}

function peer(id: string, p: FakePeer): Json {
  const now = Date.now();
  return {
    address: id,
    isBonded: false,
    latency: p.latency ?? -1,
    paths: (p.paths ?? []).map((x) => ({
      active: x.active,
      address: x.address,
      expired: false,
      lastReceive: now - 1000,
      lastSend: now - 500,
      localSocket: 1,
      preferred: x.preferred ?? x.active,
      trustedPathId: 0,
    })),
    role: 'LEAF',
    version: '1.14.2',
    versionMajor: 1,
    versionMinor: 14,
    versionRev: 2,
    tunneled: false,
  };
}

function controllerMember(nwid: string, id: string, m: FakeControllerMember): Json {
  return {
    id,
    address: id,
    authorized: m.authorized,
    activeBridge: false,
    ipAssignments: m.ipAssignments ?? [],
    name: m.name ?? '',
    noAutoAssignIps: false,
    ssoExempt: false,
    authenticationExpiryTime: 0,
    capabilities: [],
    creationTime: 1700000000000,
    identity: `${id}:0:${'cd'.repeat(32)}`,
    lastAuthorizedCredential: null,
    lastAuthorizedCredentialType: m.authorized ? 'api' : null,
    lastAuthorizedTime: m.authorized ? 1700000001000 : 0,
    lastDeauthorizedTime: 0,
    nwid,
    objtype: 'member',
    remoteTraceLevel: 0,
    remoteTraceTarget: null,
    revision: m.revision ?? 1,
    tags: [],
    vMajor: 1,
    vMinor: 14,
    vProto: 13,
    vRev: 2,
  };
}

export async function startFakeLocal(options: FakeLocalOptions): Promise<FakeLocalService> {
  return new FakeLocalService({
    online: true,
    networks: {},
    peers: {},
    controller: {},
    ...options,
  }).listen();
}

/**
 * A ZeroTier home for the client: `authtoken.secret` (with the trailing newline and spaces real files may
 * have) and `zerotier-one.port` naming the fake's port.
 */
export async function zerotierHomeFor(
  fake: { port: number } | null,
  token: string | null,
  tokenText = `${token}\n  `,
): Promise<string> {
  const dir = await tempDir('ois-zt-home-');
  await mkdir(dir, { recursive: true });
  if (token !== null) await writeFile(join(dir, 'authtoken.secret'), tokenText, { mode: 0o600 });
  if (fake) await writeFile(join(dir, 'zerotier-one.port'), `${fake.port}\n`);
  return dir;
}

/** A Central member record as the API returns it; `overrides` may null any field. */
export function centralMember(
  nwid: string,
  nodeId: string,
  overrides: Record<string, Json> = {},
): Record<string, Json> {
  const { config, ...rest } = overrides;
  return {
    id: `${nwid}-${nodeId}`,
    clock: Date.now(),
    networkId: nwid,
    nodeId,
    controllerId: nwid.slice(0, 10),
    hidden: false,
    name: '',
    description: '',
    config: {
      activeBridge: false,
      authorized: false,
      capabilities: [],
      creationTime: 1700000000000,
      id: nodeId,
      identity: `${nodeId}:0:${'ef'.repeat(32)}`,
      ipAssignments: [],
      lastAuthorizedTime: 0,
      lastDeauthorizedTime: 0,
      noAutoAssignIps: false,
      revision: 1,
      ssoExempt: false,
      tags: [],
      vMajor: 1,
      vMinor: 14,
      vRev: 2,
      vProto: 13,
      ...((config ?? {}) as Record<string, Json>),
    },
    lastOnline: 0,
    lastSeen: Date.now() - 30_000,
    physicalAddress: '203.0.113.9',
    clientVersion: '1.14.2',
    protocolVersion: 13,
    supportsRulesEngine: true,
    ...rest,
  };
}

export interface FakeCentralOptions {
  token: string;
  /** nwid → members (raw Central records, see {@link centralMember}). */
  networks: Record<string, { name?: string; members: Record<string, Record<string, Json>> }>;
}

const CENTRAL_ROUTES = [
  '/network',
  '/network/{networkID}',
  '/network/{networkID}/member',
  '/network/{networkID}/member/{memberID}',
];

/** A fake ZeroTier Central API v1, served under `/api/v1`. */
export class FakeCentral extends FakeServer {
  constructor(readonly state: FakeCentralOptions) {
    super();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/api/v1`;
  }

  protected async route(req: RecordedRequest) {
    const path = req.path.replace(/^\/api\/v1/, '');
    const r = matchRoute(req.method, path, CENTRAL_ROUTES);
    const err = (status: number, type: string, message: string, template: string) => ({
      status,
      body: { type, message },
      template,
      ...(zerotierSpecs().central.hasSchema(req.method, template, status)
        ? {}
        : { deviation: CENTRAL_ERROR_BODY }),
    });
    if (!r) return err(404, 'not_found', 'not found', '/network');
    const auth = req.headers.authorization;
    if (auth !== `token ${this.state.token}` && auth !== `bearer ${this.state.token}`) {
      return err(401, 'unauthorized', 'unauthorized', r.template);
    }
    const nwid = r.params.networkID ?? '';
    const net = this.state.networks[nwid];
    switch (`${req.method} ${r.template}`) {
      case 'GET /network':
        return {
          status: 200,
          body: Object.entries(this.state.networks).map(([id, n]) => centralNetwork(id, n)),
          template: r.template,
        };
      case 'GET /network/{networkID}':
        return net
          ? { status: 200, body: centralNetwork(nwid, net), template: r.template }
          : err(404, 'not_found', 'network not found', r.template);
      case 'GET /network/{networkID}/member':
        return net
          ? { status: 200, body: Object.values(net.members), template: r.template }
          : err(404, 'not_found', 'network not found', r.template);
      case 'GET /network/{networkID}/member/{memberID}': {
        const m = net?.members[r.params.memberID!];
        return m
          ? { status: 200, body: m, template: r.template }
          : err(404, 'not_found', 'member not found', r.template);
      }
      case 'POST /network/{networkID}/member/{memberID}': {
        if (!net) return err(404, 'not_found', 'network not found', r.template);
        const id = r.params.memberID!;
        const patch = (req.body ?? {}) as Record<string, Json>;
        const prev =
          net.members[id] ??
          centralMember(nwid, id, { lastSeen: 0, clientVersion: null, physicalAddress: null });
        const { config, ...rest } = patch;
        const next = {
          ...prev,
          ...rest,
          config: { ...(prev.config as Record<string, Json>), ...((config ?? {}) as Record<string, Json>) },
        };
        net.members[id] = next;
        return { status: 200, body: next, template: r.template };
      }
      default:
        return err(404, 'not_found', 'not found', r.template);
    }
  }

  protected check(
    method: string,
    template: string,
    status: number,
    body: unknown,
    deviation?: object,
  ): string[] {
    const { central } = zerotierSpecs();
    if (deviation || !central.hasSchema(method, template, status)) {
      // Statuses the spec gives no body for (401, 404, 429, 5xx): Central's documented error shape.
      return status >= 400 ? checkAgainst(deviation ?? CENTRAL_ERROR_BODY, body) : [];
    }
    return central.validate(method, template, status, body);
  }
}

function centralNetwork(id: string, n: { name?: string; members: Record<string, unknown> }): Json {
  return {
    id,
    clock: Date.now(),
    config: { id, name: n.name ?? 'ois-team', private: true },
    description: 'OIS team network',
    rulesSource: 'accept;',
    ownerId: '00000000-0000-0000-0000-000000000000',
    onlineMemberCount: 0,
    authorizedMemberCount: 0,
    totalMemberCount: Object.keys(n.members).length,
  };
}

export async function startFakeCentral(options: FakeCentralOptions): Promise<FakeCentral> {
  return new FakeCentral(options).listen();
}

/** Central's answer when over the rate limit, with its headers. */
export function rateLimited(resetInSeconds: number): Scripted {
  return {
    status: 429,
    body: { type: 'rate_limited', message: 'rate limit exceeded' },
    headers: {
      'x-ratelimit-limit': '20',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000 + resetInSeconds)),
    },
  };
}

export const NET = '8056c2e21c000001';
export const ALPHA_NODE = 'a1b2c3d4e5';
export const BETA_NODE = '89e92ceee5';

export interface NetTeam {
  dir: string;
  homes: Record<string, string>;
  agentsFile: string;
}

/**
 * A team of alpha (admin) and beta (member), made with the real `ois init` and `ois join`, with
 * `zerotier: {nodeId, ip}` added to both entries by hand and, unless told otherwise, the team network set.
 */
export async function makeNetTeam(withNetwork = true): Promise<NetTeam> {
  const dir = await tempDir('ois-net-team-');
  const homes: Record<string, string> = {};
  for (const [name, role] of [
    ['alpha', 'admin'],
    ['beta', 'member'],
  ] as const) {
    const home = await tempDir(`ois-net-${name}-`);
    homes[name] = home;
    const init = await runOis(['--home', home, 'init', '--name', name, '--team', dir]);
    if (init.code !== 0) throw new Error(init.stderr);
    const j = await runOis(['--home', home, 'join', '--description', `${name} agent`]);
    if (j.code !== 0) throw new Error(j.stderr);
    if (role === 'member') {
      const a = await runOis(['--home', homes.alpha!, 'members', 'approve', name]);
      if (a.code !== 0) throw new Error(a.stderr);
    }
  }
  const agentsFile = join(dir, 'AGENTS.md');
  const text = (await readFile(agentsFile, 'utf8'))
    .replace('name: alpha\n', `name: alpha\nzerotier: {nodeId: ${ALPHA_NODE}, ip: 10.147.17.5}\n`)
    .replace('name: beta\n', `name: beta\nzerotier: {nodeId: ${BETA_NODE}, ip: 10.147.17.6}\n`);
  await writeFile(agentsFile, text);
  if (withNetwork) {
    await editRegistry(new FsTeamStore(dir), (t, reg) =>
      setTeamSettingsText(t, reg, { ...(reg.team ?? {}), zerotier: { network: NET } }),
    );
  }
  return { dir, homes, agentsFile };
}

export interface TeamNetworkFakes {
  local: FakeLocalService;
  central: FakeCentral;
  /** The environment that points `ois` at both fakes. */
  env: Record<string, string>;
}

/**
 * A fake local service for alpha's node (joined to {@link NET} with `status`, or not joined with null) and a
 * fake Central whose network holds alpha (authorised, 10.147.17.5) and beta at `betaIp`.
 */
export async function startTeamNetwork(options: {
  localToken: string;
  centralToken: string;
  status?: string | null;
  betaIp?: string;
  betaAuthorized?: boolean;
}): Promise<TeamNetworkFakes> {
  const status = options.status === undefined ? 'OK' : options.status;
  const local = await startFakeLocal({
    token: options.localToken,
    nodeId: ALPHA_NODE,
    networks: status === null ? {} : { [NET]: { status, assignedAddresses: ['10.147.17.5/24'] } },
  });
  const central = await startFakeCentral({
    token: options.centralToken,
    networks: {
      [NET]: {
        members: {
          [ALPHA_NODE]: centralMember(NET, ALPHA_NODE, {
            config: { authorized: true, ipAssignments: ['10.147.17.5'] },
          }),
          [BETA_NODE]: centralMember(NET, BETA_NODE, {
            config: {
              authorized: options.betaAuthorized ?? false,
              ipAssignments: [options.betaIp ?? '10.147.17.60'],
            },
          }),
        },
      },
    },
  });
  return {
    local,
    central,
    env: {
      ZEROTIER_HOME: await zerotierHomeFor(local, options.localToken),
      ZEROTIER_CENTRAL_URL: central.url,
      ZEROTIER_API_TOKEN: options.centralToken,
    },
  };
}
