// Writes one benchmark's section of bench/RESULTS.md, leaving the others as
// they are. A section sits between `<!-- name:start -->` and `<!-- name:end -->`
// and always says when, where and with which command its numbers were taken.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RESULTS = fileURLToPath(new URL('../RESULTS.md', import.meta.url));

export function machine() {
  const cpu = cpus();
  let rustc = 'rustc ?';
  try { rustc = execSync('rustc --version', { encoding: 'utf8' }).trim(); } catch { /* not installed */ }
  return `${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Node ${process.version}, ${rustc}`;
}

export function writeSection(name, title, command, body) {
  const header = '# Benchmark results\n\nEach section is rewritten by the command it names; see README.md, "Benchmarks".\n';
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : header;
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n## ${title}\n\n` +
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}.\n` +
    `Command: \`${command}\`\n\n${body.trim()}\n${end}`;
  const at = text.indexOf(start);
  const until = text.indexOf(end);
  text = at >= 0 && until > at
    ? text.slice(0, at) + section + text.slice(until + end.length)
    : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(RESULTS, text);
}

export function table(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}
