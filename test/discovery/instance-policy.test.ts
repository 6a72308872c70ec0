/** Which instance URLs a gateway admits: never its own listeners, only `discovery.allowedNetworks` when set. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InstancePolicy } from '../../src/discovery/instance-policy.js';

const OWN_PORTS = [8080, 9901, 80];
const LOCAL = ['10.0.0.5', 'fe80::1'];

describe('an instance pointing at the gateway itself is refused', () => {
  const policy = new InstancePolicy({ ownPorts: OWN_PORTS, localAddresses: LOCAL });
  const cases: Array<[string, boolean]> = [
    ['http://127.0.0.1:9901', false],
    ['http://127.0.0.1:9901/admin', false],
    ['http://127.9.9.9:8080', false],
    ['http://localhost:9901', false],
    ['http://LOCALHOST.:9901', false],
    ['http://admin.localhost:9901', false],
    ['http://[::1]:9901', false],
    ['http://[::ffff:127.0.0.1]:9901', false],
    ['http://2130706433:9901', false],
    ['http://0x7f.1:9901', false],
    ['http://0.0.0.0:8080', false],
    ['http://[::]:8080', false],
    ['http://10.0.0.5:9901', false],
    ['http://127.0.0.1', false],
    ['https://127.0.0.1:80', false],
    ['http://127.0.0.1:9001', true],
    ['https://127.0.0.1', true],
    ['http://10.0.0.6:9901', true],
    ['http://orders.internal:9901', true],
  ];
  for (const [url, admitted] of cases) {
    test(`${url} is ${admitted ? 'admitted' : 'refused'}`, () => {
      const reason = policy.refusal(url);
      assert.equal(reason === undefined, admitted, reason);
      if (!admitted) assert.match(reason ?? '', /own listener on port \d+/);
    });
  }
});

describe('discovery.allowedNetworks', () => {
  const policy = new InstancePolicy({
    allowedNetworks: ['10.0.0.0/8', 'fd00::/8', '127.0.0.0/8'],
    ownPorts: OWN_PORTS,
    localAddresses: [],
  });
  const cases: Array<[string, RegExp | undefined]> = [
    ['http://10.1.2.3:8080', undefined],
    ['http://[fd12::7]:9000', undefined],
    ['http://127.0.0.1:9001', undefined],
    ['http://localhost:9001', undefined],
    ['http://192.168.1.1:9000', /outside discovery\.allowedNetworks/],
    ['http://[2001:db8::1]:9000', /outside discovery\.allowedNetworks/],
    ['http://169.254.169.254/', /outside discovery\.allowedNetworks/],
    ['http://orders.internal:9000', /admits addresses only/],
    ['http://127.0.0.1:9901', /own listener/],
  ];
  for (const [url, refused] of cases) {
    test(`${url} is ${refused === undefined ? 'admitted' : 'refused'}`, () => {
      const reason = policy.refusal(url);
      if (refused === undefined) assert.equal(reason, undefined);
      else assert.match(reason ?? '', refused);
    });
  }
});
