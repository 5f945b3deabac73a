// Test helper: a loopback token server for the registry's `auth: token` mode. It checks Basic credentials and issues
// an RS256 JWT carrying the requested repository scope, signed with a key whose certificate (in the `x5c` header)
// the registry trusts through `rootcertbundle`.
import { X509Certificate, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** Scopes asked for, in order, for assertions. */
  requestedScopes: string[];
  close(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function jwt(claims: object, keyPem: string, certificatePem: string): string {
  const header = { typ: 'JWT', alg: 'RS256', x5c: [new X509Certificate(certificatePem).raw.toString('base64')] };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(signingInput), createPrivateKey(keyPem));
  return `${signingInput}.${base64url(signature)}`;
}

/** `repository:<name>:<a,b>` → the JWT `access` claim. */
function accessFor(scope: string | null): object[] {
  const match = scope === null ? null : /^repository:(.+):([a-z,*]+)$/.exec(scope);
  return match === null ? [] : [{ type: 'repository', name: match[1], actions: (match[2] ?? '').split(',') }];
}

export async function startTokenServer(options: { certificate: string; key: string; username: string; password: string }): Promise<TokenServer> {
  const certificatePem = readFileSync(options.certificate, 'utf8');
  const keyPem = readFileSync(options.key, 'utf8');
  const service = 'tollgate-test-registry';
  const issuer = 'tollgate-test-issuer';
  const requestedScopes: string[] = [];
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scope = url.searchParams.get('scope');
    requestedScopes.push(scope ?? '');
    if (url.pathname !== '/token' || url.searchParams.get('service') !== service) {
      res.writeHead(400).end();
      return;
    }
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const token = jwt({ iss: issuer, sub: options.username, aud: service, iat: now, nbf: now - 10, exp: now + 300, jti: randomUUID(), access: accessFor(scope) }, keyPem, certificatePem);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    requestedScopes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
