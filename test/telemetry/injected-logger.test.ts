/** Background telemetry work reports to the logger it was given (no module-level logger writes around it). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { WebhookSender } from '../../src/telemetry/alerts/webhook.js';
import { freePort } from '../helpers/redis-server.js';

test('a failed webhook delivery is logged on the injected logger', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const url = `http://127.0.0.1:${await freePort()}/hook`;
  const sender = new WebhookSender([url], { logger, attempts: 1 });
  sender.send({ alert: 'test' });
  await sender.drain();
  assert.equal(lines.length, 1, 'one warning for the one failed delivery');
  const entry = JSON.parse(lines[0] as string) as { msg: string; url: string; level: number };
  assert.equal(entry.msg, 'alert webhook delivery failed');
  assert.equal(entry.url, url);
});
