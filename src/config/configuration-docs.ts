// docs/configuration.md, generated from the options agentwatch reads (describeOptions), so that the
// reference cannot drift from the code: `npm run docs:config` writes it, a unit test compares.

import { describeOptions } from './config.js';

const cell = (text: string): string => text.replaceAll('|', '\\|');

/** A default as the table shows it: (unset), (empty), or the value as code. */
const shown = (value: string): string =>
  value === '(unset)' ? value : value === '' ? '(empty)' : `\`${cell(value)}\``;

export function configurationMarkdown(): string {
  const rows = describeOptions().map(
    (o) => `| \`${o.name}\` | ${cell(o.type)} | ${shown(o.default)} | ${cell(o.description)} |`,
  );
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/config.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Options come from the environment, or from a JSON file named by `AGENTWATCH_CONFIG` holding the',
    'same names (`{"KAFKA_BROKERS": "kafka-1:9092,kafka-2:9092"}`); the environment wins. Invalid',
    'configuration stops agentwatch at start with every problem listed at once (exit code 2, error',
    '`AW_CONFIG_INVALID`, naming each variable and what it accepts). Secrets are never logged.',
    '`agentwatch --help` lists the same options.',
    '',
    '| option | type | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
