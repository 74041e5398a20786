/** `coleta stack up|down|status`: the local stack, as a person reads it. */
import path from 'node:path';
import type { StackConfig } from '../config';
import { down, status, stackPaths, up, type ServiceState } from '../stack/supervisor';
import { table } from './format';

/** Brings the stack up and prints where everything is. */
export async function stackUp(config: StackConfig, out = console.log): Promise<number> {
  const result = await up(config, (line) => out(`  ${line}`));
  if (result.kind === 'already-running') {
    out(`the local stack is already running (since ${result.state.startedAt}); nothing changed`);
  } else {
    out('the local stack is up');
  }
  out('');
  out(describeServices(result.state.services));
  out('');
  out(`Web UI:  http://127.0.0.1:${config.ports.temporalUi}`);
  out(`logs:    ${path.relative(process.cwd(), stackPaths(config).logs) || '.'}/`);
  out('stop it with `npm run stack:down`');
  return 0;
}

/** Stops the stack. */
export async function stackDown(config: StackConfig, out = console.log): Promise<number> {
  const result = await down(config);
  if (result.stopped.length === 0) {
    out('the local stack is not running');
    return 0;
  }
  for (const service of result.stopped) {
    out(`  ${service.name}: ${service.how === 'gone' ? 'was not running' : service.how}`);
  }
  out('the local stack is down');
  return 0;
}

/**
 * Prints what runs, where and since when. Exit code 0 when every service answers, 1 when some do not,
 * 3 when the stack is not running (as service managers do).
 */
export async function stackStatus(config: StackConfig, out = console.log): Promise<number> {
  const services = await status(config);
  if (!services) {
    out('the local stack is not running (start it with `npm run stack:up`)');
    return 3;
  }
  const now = Date.now();
  const rows = [
    ['service', 'state', 'pid', 'since', 'addresses'],
    ...services.map((service) => [
      service.name,
      service.answering ? 'running' : service.running ? 'not answering' : 'stopped',
      String(service.pid),
      `${service.startedAt} (${formatDuration(now - Date.parse(service.startedAt))})`,
      Object.entries(service.addresses)
        .map(([label, address]) => `${label} ${address}`)
        .join(', '),
    ]),
  ];
  out(table(rows));
  return services.every((service) => service.answering) ? 0 : 1;
}

function describeServices(services: readonly ServiceState[]): string {
  return table(
    services.map((service) => [
      service.name,
      Object.entries(service.addresses)
        .map(([label, address]) => `${label} ${address}`)
        .join('   '),
    ]),
  );
}

function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
