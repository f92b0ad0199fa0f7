import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { acceleratedSettings, LATENESS_WALL_MS, TTL_WALL_MS } from '../../../src/sim/index.js';

test('an accelerated fleet: the declared clock, and event-time waits that cover a pause of the fleet at its speed', () => {
  const settings = acceleratedSettings(30, 1_000, 2_000.4);
  assert.equal(settings.EVENT_TIME_SPEED, '30');
  assert.equal(settings.EVENT_TIME_ANCHOR, '1000@2000');
  // At 30×, a 5 s pause of the fleet is 150 s of event time: answers that late are not timeouts.
  assert.equal(Number(settings.CORRELATE_TASK_TTL_MS), 30 * TTL_WALL_MS);
  assert.equal(Number(settings.DETECT_LATENESS_MS), 30 * LATENESS_WALL_MS);
  // And the settings are ones agentwatch accepts.
  const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', ...settings });
  assert.equal(config.correlate.taskTtlMs, 150_000);
  assert.equal(config.detect.latenessMs, 60_000);
});

test('a slow fleet keeps the default waits: the speed only ever lengthens them', () => {
  const settings = acceleratedSettings(2, 0, 0);
  assert.equal(settings.CORRELATE_TASK_TTL_MS, '60000');
  assert.equal(settings.DETECT_LATENESS_MS, '5000');
  assert.equal(acceleratedSettings(0.5, 0, 0).DETECT_LATENESS_MS, '5000');
});
