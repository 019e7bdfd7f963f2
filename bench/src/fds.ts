/** Open-file descriptors of this process, read from /proc (Linux): Node has no getrlimit. */
import { readdirSync, readFileSync } from 'node:fs';

/** Descriptors this process has open (the directory listing's own descriptor not counted). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/** This process's RLIMIT_NOFILE, soft and hard (Infinity when unlimited). */
export function fdLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [, soft, hard] = line?.split(/\s{2,}/) ?? [];
  const num = (v: string | undefined) => (v === undefined || v === 'unlimited' ? Infinity : Number(v));
  return { soft: num(soft), hard: num(hard) };
}

/** The soft limit: the most descriptors this process may have open. */
export function fdLimit(): number {
  return fdLimits().soft;
}

/** Whether this process has CAP_SYS_RESOURCE (bit 24 of CapEff), which raising a hard limit takes. */
export function hasSysResource(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  return line !== undefined && (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << 24n)) !== 0n;
}
