/** Where client commands connect by default, and how a failed connection is put into words. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CliError } from '../../app/cli/cli-error';
import { defaultEndpoints, removeClusterFile, resolveEndpoints, writeClusterFile } from '../../app/cli/endpoints';
import { explainConnectionFailure } from '../../app/rpc/delivery';

describe('resolveEndpoints', () => {
  let cwd: string;
  beforeEach(() => (cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-endpoints-'))));
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  test('--endpoint wins over KV_ENDPOINTS, which wins over the cluster file, which wins over the defaults', () => {
    writeClusterFile(path.join(cwd, 'data'), { endpoints: ['127.0.0.1:8001'], pid: process.pid });
    expect(resolveEndpoints('h:1,h:2', { KV_ENDPOINTS: 'e:1' }, cwd)).toEqual({ endpoints: ['h:1', 'h:2'], source: '--endpoint' });
    expect(resolveEndpoints(undefined, { KV_ENDPOINTS: 'e:1, e:2' }, cwd)).toEqual({ endpoints: ['e:1', 'e:2'], source: 'KV_ENDPOINTS' });
    expect(resolveEndpoints(undefined, {}, cwd)).toEqual({ endpoints: ['127.0.0.1:8001'], source: "the local cluster's data/cluster.json" });
    fs.rmSync(path.join(cwd, 'data', 'cluster.json'));
    expect(resolveEndpoints(undefined, {}, cwd)).toEqual({ endpoints: defaultEndpoints(), source: "the default local cluster's addresses" });
    expect(defaultEndpoints()).toEqual(['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7004', '127.0.0.1:7005']);
  });

  test('rejects a malformed list naming where it came from and the bad entry', () => {
    expect(() => resolveEndpoints('h:1,h', {}, cwd)).toThrow(new CliError('--endpoint: "h" is not host:port (port 1..65535)'));
    expect(() => resolveEndpoints(undefined, { KV_ENDPOINTS: 'h:70000' }, cwd)).toThrow('KV_ENDPOINTS: "h:70000" is not host:port (port 1..65535)');
    expect(() => resolveEndpoints(' , ', {}, cwd)).toThrow('names no endpoint');
    fs.mkdirSync(path.join(cwd, 'data'));
    fs.writeFileSync(path.join(cwd, 'data', 'cluster.json'), '{not json');
    expect(() => resolveEndpoints(undefined, {}, cwd)).toThrow(/cluster.json is not a cluster file written by kv cluster/);
  });

  test('removes only its own cluster file', () => {
    const dir = path.join(cwd, 'data');
    writeClusterFile(dir, { endpoints: ['127.0.0.1:8001'], pid: process.pid + 1 });
    removeClusterFile(dir);
    expect(fs.existsSync(path.join(dir, 'cluster.json'))).toBe(true);
    writeClusterFile(dir, { endpoints: ['127.0.0.1:8001'], pid: process.pid });
    removeClusterFile(dir);
    expect(fs.existsSync(path.join(dir, 'cluster.json'))).toBe(false);
  });
});

describe('explainConnectionFailure', () => {
  test.each([
    ['No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7001. Resolution note: ', 'nothing listens there (connection refused)'],
    ['No connection established. Last error: Protocol error (2026-11-30T02:57:01.724Z). Resolution note: ', 'something answered that does not speak gRPC (an HTTP/1 server such as the metrics port?)'],
    ['No connection established. Last error: Error: getaddrinfo ENOTFOUND nohost. Resolution note: ', 'the host name does not resolve (getaddrinfo ENOTFOUND nohost)'],
    ['Connection dropped', 'Connection dropped'],
  ])('%s', (details, expected) => {
    expect(explainConnectionFailure(details)).toBe(expected);
  });
});
