/**
 * The browser the console's test drives: Debian's chromium, installed like the stack installs ClickHouse
 * (apt-get, when missing and running as root). playwright-core drives it by its path; it never downloads one.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = '/usr/bin/chromium';

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The chromium to launch, or null on a system without apt (the one case the test is skipped). */
export function ensureChromium(): string | null {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (!commandExists('apt-get')) return null;
  if (process.getuid?.() !== 0) throw new Error('chromium: not installed; run `sudo apt-get install -y chromium`');
  console.log('chromium: installing the Debian package …');
  execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 600_000,
  });
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`chromium: apt-get finished but ${CHROMIUM_PATH} is not there`);
  return CHROMIUM_PATH;
}
