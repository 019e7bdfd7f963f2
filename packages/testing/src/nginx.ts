import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The nginx binary (Debian's `nginx` package); NGINX_PATH overrides it. */
export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

/** What goes inside the proxying `location /` block besides `proxy_pass`. */
export interface NginxOptions {
  /** Extra directives for the `location` block, one per line (`proxy_read_timeout 1s;`). */
  location?: string[];
  /** Extra directives for the `http` block (`gzip on;`). */
  http?: string[];
  /**
   * Serve clients over TLS and HTTP/2 with this certificate and key (PEM files), as nginx terminating
   * HTTP/2 in front of an HTTP/1.1 upstream. Default: plain HTTP/1.1.
   */
  tls?: { cert: string; key: string };
}

/** A real nginx in front of a local server: one process, its own prefix, config and logs. */
export class Nginx {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    private readonly tls: boolean,
  ) {}

  /** `http://127.0.0.1:<port>`, or `https://` with the `tls` option. */
  get origin(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /**
   * Starts nginx proxying every path to `upstreamPort` on 127.0.0.1. Fails (never skips) when nginx
   * is missing: `.ci/run` installs it.
   */
  static async start(upstreamPort: number, options: NginxOptions = {}): Promise<Nginx> {
    const check = spawnSync(NGINX, ['-v']);
    if (check.error || check.status !== 0) {
      throw new Error(`The proxy suite needs nginx at ${NGINX} (apt-get install -y nginx, or set NGINX_PATH): ${check.error?.message ?? check.stderr}`);
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssehub-nginx-'));
    const port = await freePort();
    const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${(options.http ?? []).join('\n  ')}
  server {
    listen 127.0.0.1:${port}${options.tls ? ' ssl http2' : ''};
    ${options.tls ? `ssl_certificate ${options.tls.cert};\n    ssl_certificate_key ${options.tls.key};` : ''}
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      ${(options.location ?? []).join('\n      ')}
    }
  }
}
`;
    writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const proc = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    let exited = false;
    proc.on('exit', () => (exited = true));
    // Poll the port until nginx accepts, or give up with what it printed.
    for (let i = 0; i < 100 && !exited; i++) {
      if (await canConnect(port)) return new Nginx(proc, dir, port, options.tls !== undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`nginx did not start: ${stderr}`);
  }

  /** What nginx wrote to its error log. */
  errorLog(): string {
    try {
      return readFileSync(path.join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      this.proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
