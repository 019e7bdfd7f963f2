/**
 * The start-up lines a person reads: where the server listens, and commands to paste. They never hold
 * a secret: the publish command reads the token from `$SSEHUB_TOKEN` in the shell it is pasted into.
 */
import type { AddressInfo } from 'node:net';
import type { ServerConfig } from './config';
import { VERSION } from './version';

/** A URL a client on this machine can open for a listening address (a wildcard address becomes loopback). */
export function serverUrl(address: AddressInfo): string {
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** The banner: the URL, then subscribe, publish and inspect commands (the seed's, on this server). */
export function startBanner(config: ServerConfig, address: AddressInfo): string {
  const url = serverUrl(address);
  const auth = config.public ? '' : `-H "Authorization: Bearer $SSEHUB_TOKEN" `;
  const body = JSON.stringify({ event: 'my-event', data: 'Hello World!' });
  const subscribe = config.jwt ? `curl -N '${url}/updates?authorization=<a token granting "updates">'` : `curl -N ${url}/updates`;
  const lines = [
    `ssehub ${VERSION} listening on ${url}${address.address === '0.0.0.0' || address.address === '::' ? ' (every interface)' : ''}`,
    `  subscribe: ${subscribe}    (or ${url}/events?channel=updates)`,
    `  publish:   curl ${auth}-H 'Content-Type: application/json' -d '${body}' ${url}/updates`,
    `  channels:  curl -I ${auth}${url}/all`,
  ];
  if (!config.public) lines.push('  (the publish and channels commands read your token from $SSEHUB_TOKEN in the shell they run in)');
  return lines.join('\n');
}
