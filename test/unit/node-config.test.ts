import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, enumSetting, intDefault, intSetting, parseNodeConfig, parsePeers, settingDefault, settingEnv, SETTINGS } from '../../app/node/config';

const PEERS = 'kv-0=10.0.0.1:7001,kv-1=10.0.0.2:7001,kv-2=10.0.0.3:7001';
/** The smallest valid command line: a node in a three-member cluster (N=3 needs three members). */
const base = ['--node-id', 'kv-0', '--peers', PEERS];

function rejection(argv: string[], env: Record<string, string | undefined> = {}): ConfigError {
  try {
    parseNodeConfig(argv, env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`expected ${argv.join(' ')} to be rejected`);
}

describe('parseNodeConfig', () => {
  test('fills every setting with its documented default', () => {
    const config = parseNodeConfig(base, {});
    for (const s of SETTINGS.filter((x) => x.default !== undefined)) {
      expect(String(config[s.key])).toBe(s.default);
    }
    expect(config.n).toBe(3);
    expect(config.r).toBe(2);
    expect(config.w).toBe(2);
    expect(config.partitions).toBe(64);
  });

  test('a gateway takes its store nodes from --upstream (or KV_UPSTREAM); a storage node takes none', () => {
    const gateway = parseNodeConfig(['--node-id', 'gw-1', '--role', 'gateway', '--upstream', 'kv.kv.svc:7001, 10.0.0.2:7001'], {});
    expect(gateway.role).toBe('gateway');
    expect(gateway.upstream).toEqual(['kv.kv.svc:7001', '10.0.0.2:7001']);
    expect(parseNodeConfig(['--node-id', 'gw-1'], { KV_ROLE: 'gateway', KV_UPSTREAM: 'a:1' }).upstream).toEqual(['a:1']);
    expect(parseNodeConfig(base, {}).upstream).toEqual([]);
  });

  test.each([
    [['--node-id', 'gw-1', '--role', 'gateway'], /^--role: a gateway needs --upstream \(KV_UPSTREAM\)/],
    [['--node-id', 'gw-1', '--role', 'gateway', '--upstream', 'kv:70000'], /^--upstream: "kv:70000" is not host:port/],
    [[...base, '--upstream', 'a:1'], /^--upstream: --upstream is for --role gateway/],
    [[...base, '--role', 'proxy'], /^--role: "proxy" is not one of storage, gateway/],
  ])('rejects %j', (argv, message) => {
    expect(rejection(argv).message).toMatch(message);
  });

  test('derives advertise from the peer list, the data dir from the node id', () => {
    const config = parseNodeConfig(base, {});
    expect(config.advertise).toBe('10.0.0.1:7001');
    expect(config.dataDir).toBe(path.resolve('data', 'kv-0'));
    expect([...config.peers.keys()]).toEqual(['kv-0', 'kv-1', 'kv-2']);
  });

  test('join=auto: a node in --peers is a founding member that joins through the others when it is out; any other starts outside and joins through all of them', () => {
    const founding = parseNodeConfig([...base, '--join', 'auto'], {});
    expect(founding.startsOutside).toBe(false);
    expect([...founding.peers.keys()]).toEqual(['kv-0', 'kv-1', 'kv-2']);
    expect(founding.seeds).toEqual(['10.0.0.2:7001', '10.0.0.3:7001']);
    const joiner = parseNodeConfig(['--node-id', 'kv-5', '--peers', PEERS, '--advertise', '10.0.0.9:7001'], { KV_JOIN: 'auto' });
    expect(joiner.startsOutside).toBe(true);
    expect([...joiner.peers]).toEqual([['kv-5', '10.0.0.9:7001']]);
    expect(joiner.seeds).toEqual(['10.0.0.1:7001', '10.0.0.2:7001', '10.0.0.3:7001']);
    expect(parseNodeConfig(base, {}).seeds).toEqual([]);
  });

  test('rejects join=auto on a node not in --peers when no peers name the cluster to join', () => {
    expect(rejection(['--node-id', 'kv-5'], { KV_JOIN: 'auto' }).message).toMatch(/KV_JOIN.*join=auto on a node not in --peers needs --peers \(KV_PEERS\)/);
  });

  test('adds this node to the peer list at host:port when the list leaves it out', () => {
    const config = parseNodeConfig(['--node-id', 'solo', '--n', '1', '--r', '1', '--w', '1', '--host', '0.0.0.0', '--port', '7100'], {});
    expect([...config.peers]).toEqual([['solo', '0.0.0.0:7100']]);
    expect(config.advertise).toBe('0.0.0.0:7100');
  });

  test('reads KV_* environment variables, and flags beat them', () => {
    const env = { KV_NODE_ID: 'kv-1', KV_PEERS: PEERS, KV_R: '1', KV_W: '3', KV_LOG_LEVEL: 'debug' };
    const fromEnv = parseNodeConfig([], env);
    expect([fromEnv.nodeId, fromEnv.r, fromEnv.w, fromEnv.logLevel]).toEqual(['kv-1', 1, 3, 'debug']);
    const both = parseNodeConfig(['--r', '3', '--log-level=warn', '--node-id=kv-2'], env);
    expect([both.nodeId, both.r, both.w, both.logLevel]).toEqual(['kv-2', 3, 3, 'warn']);
  });

  test('treats an empty environment variable as unset', () => {
    expect(parseNodeConfig(base, { KV_R: '' }).r).toBe(2);
  });

  test('accepts both --name value and --name=value', () => {
    expect(parseNodeConfig([...base, '--partitions=128', '--durability', 'relaxed'], {})).toMatchObject({ partitions: 128, durability: 'relaxed' });
  });

  test('rejects a missing node id, saying how to set it', () => {
    expect(rejection([]).message).toMatch(/node id is required: pass --node-id or set KV_NODE_ID/);
  });

  test.each(['Kv-0', '-kv', 'kv_0', 'a'.repeat(64)])('rejects node id %p, showing it and the rule', (id) => {
    const message = rejection(['--node-id', id, '--n', '1', '--r', '1', '--w', '1']).message;
    expect(message).toContain(JSON.stringify(id));
    expect(message).toMatch(/--node-id: .* is not 1-63 of \[a-z0-9-\]/);
  });

  test('rejects a client auth file without TLS: the open peer service would bypass it', () => {
    const message = rejection(['--node-id', 'kv-1', '--n', '1', '--r', '1', '--w', '1', '--client-auth-file', '/etc/kv/clients.jsonl']).message;
    expect(message).toMatch(/^--client-auth-file: a client auth file needs TLS \(--tls-cert-file, --tls-key-file, --tls-ca-file\)/);
  });

  test('rejects an unknown flag, naming it', () => {
    expect(rejection([...base, '--replicas', '3']).message).toMatch(/unknown flag --replicas; see kv node --help/);
  });

  test('rejects a positional argument and a flag without a value', () => {
    expect(rejection(['kv-0']).message).toMatch(/unexpected argument "kv-0"/);
    expect(rejection([...base, '--port']).message).toMatch(/--port needs a value/);
  });

  test.each([
    ['--port', 'http', '0..65535'],
    ['--port', '65536', '0..65535'],
    ['--port', '-1', '0..65535'],
    ['--n', '2.5', '1..16'],
    ['--n', '0', '1..16'],
    ['--partitions', '1e3', `1..65536`],
    ['--request-timeout-ms', '', '1..600000'],
  ])('rejects %s %p as not an integer in range, naming the setting, the value and the limits', (flag, value, range) => {
    const message = rejection([...base, flag, value]).message;
    expect(message).toContain(`${flag}: ${JSON.stringify(value)} is not an integer within ${range}`);
  });

  test('names the environment variable when the bad value came from it', () => {
    expect(rejection(base, { KV_PORT: '99999' }).message).toContain('KV_PORT: "99999" is not an integer within 0..65535');
  });

  test('reads the trace sample ratio as a fraction: 0 (off) by default', () => {
    expect(parseNodeConfig(['--node-id', 'kv-1'], {}).traceSampleRatio).toBe(0);
    expect(parseNodeConfig(['--node-id', 'kv-1', '--trace-sample-ratio', '0.1'], {}).traceSampleRatio).toBe(0.1);
    expect(parseNodeConfig(['--node-id', 'kv-1'], { KV_TRACE_SAMPLE_RATIO: '1' }).traceSampleRatio).toBe(1);
  });

  test.each(['1.5', '-0.1', 'half', '.5', '1e-1'])('rejects trace sample ratio %p, naming the range', (text) => {
    expect(() => parseNodeConfig(['--node-id', 'kv-1', '--trace-sample-ratio', text], {})).toThrow(`--trace-sample-ratio: ${JSON.stringify(text)} is not a number within 0..1`);
  });

  test('rejects an enum value outside its choices, listing them', () => {
    expect(rejection([...base, '--durability', 'fast']).message).toBe('--durability: "fast" is not one of durable, relaxed');
  });

  test('rejects N above the number of members, naming both', () => {
    expect(rejection([...base, '--n', '4', '--r', '1', '--w', '1']).message).toMatch(/--n: N=4 exceeds the 3 members in the peer list/);
  });

  test('rejects R or W above N, naming the values', () => {
    expect(rejection([...base, '--n', '2', '--w', '1', '--r', '3']).message).toMatch(/--r: R=3 exceeds N=2; R must be within 1..N/);
    expect(rejection([...base, '--n', '2', '--r', '1', '--w', '3']).message).toMatch(/--w: W=3 exceeds N=2; W must be within 1..N/);
  });

  test('caps the default R and W at an explicit N=1', () => {
    const c = parseNodeConfig(['--node-id', 'solo', '--n', '1'], {});
    expect([c.n, c.r, c.w]).toEqual([1, 1, 1]);
  });

  test('a lone node with no peer list runs with N=R=W=1 by default', () => {
    const c = parseNodeConfig(['--node-id', 'solo'], {});
    expect([c.n, c.r, c.w]).toEqual([1, 1, 1]);
  });

  test('rejects an explicit R above N even when N is the capped default', () => {
    expect(rejection(['--node-id', 'solo', '--r', '2']).message).toMatch(/^--r: R=2 exceeds N=1/);
  });

  test.each(['3', '48', '100'])('rejects %p partitions as not a power of two', (q) => {
    expect(rejection([...base, '--partitions', q]).message).toMatch(new RegExp(`--partitions: ${q} is not a power of two \\(1, 2, 4 \\.\\.\\. 65536\\)`));
  });

  test('rejects fewer partitions than members', () => {
    const message = rejection([...base, '--partitions', '2']).message;
    expect(message).toMatch(/--partitions: 2 partitions for 3 members leaves members without partitions; use at least 3/);
  });

  test('rejects warning levels above their limits and a value limit that does not fit in an object', () => {
    expect(rejection([...base, '--siblings-warn', '101']).message).toMatch(/siblings-warn 101 exceeds siblings-max 100/);
    expect(rejection([...base, '--clock-entries-warn', '65']).message).toMatch(/clock-entries-warn 65 exceeds clock-entries-max 64/);
    expect(rejection([...base, '--object-bytes-max', '1048576']).message).toMatch(/object-bytes-max 1048576 must exceed value-bytes-max 1048576 plus key-bytes-max 1024/);
  });

  test('rejects a bad peer list from the flag or the environment, naming its source', () => {
    expect(rejection(['--node-id', 'kv-0', '--peers', 'kv-0=10.0.0.1']).message).toMatch(/^--peers: entry "kv-0=10.0.0.1" is not id=host:port/);
    expect(rejection(['--node-id', 'kv-0'], { KV_PEERS: 'kv-0=a:1,kv-0=b:2' }).message).toMatch(/^KV_PEERS: node id kv-0 appears twice/);
  });

  test('rejects an advertise address that is not host:port', () => {
    expect(rejection([...base, '--advertise', 'somewhere']).message).toMatch(/--advertise: "somewhere" is not host:port/);
  });
});

describe('the zone file', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-zone-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('reads the zone from the file when no zone is given, dropping the newline', () => {
    const file = path.join(dir, 'zone');
    fs.writeFileSync(file, 'eu-west-1b\n');
    expect(parseNodeConfig([...base, '--zone-file', file], {})).toMatchObject({ zone: 'eu-west-1b', zoneFile: file });
    expect(parseNodeConfig(base, { KV_ZONE_FILE: file }).zone).toBe('eu-west-1b');
  });

  test('a zone given by flag or variable wins over the file', () => {
    const file = path.join(dir, 'zone');
    fs.writeFileSync(file, 'eu-west-1b');
    expect(parseNodeConfig([...base, '--zone', 'a', '--zone-file', file], {}).zone).toBe('a');
    expect(parseNodeConfig(base, { KV_ZONE: 'b', KV_ZONE_FILE: file }).zone).toBe('b');
  });

  test('rejects a missing file, naming the variable, the path and what writes it', () => {
    const file = path.join(dir, 'missing');
    expect(rejection(base, { KV_ZONE_FILE: file }).message).toMatch(new RegExp(`^KV_ZONE_FILE \\(${file}\\): cannot read the zone \\(ENOENT.*the init container \\(kv k8s zone\\) writes it`));
  });

  test('rejects a file that holds no zone name, naming the file', () => {
    const file = path.join(dir, 'zone');
    fs.writeFileSync(file, 'eu west 1');
    expect(rejection([...base, '--zone-file', file]).message).toMatch(/^--zone-file \(.*\): "eu west 1" is not a zone name/);
    fs.writeFileSync(file, 'z'.repeat(5000));
    expect(rejection([...base, '--zone-file', file]).message).toMatch(/cannot read the zone \(larger than 4096 bytes\)/);
    fs.writeFileSync(file, '  \n');
    expect(rejection([...base, '--zone-file', file]).message).toMatch(/^--zone-file \(.*\): the file is empty; in Kubernetes the init container/);
  });
});

describe('parsePeers', () => {
  test('parses id=host:port entries, ignoring blanks and spaces', () => {
    expect([...parsePeers(' a=h1:1 , ,b-2=[::1]:7001,', 'src')]).toEqual([
      ['a', 'h1:1'],
      ['b-2', '[::1]:7001'],
    ]);
    expect(parsePeers('', 'src').size).toBe(0);
  });

  test.each(['=h:1', 'a', 'a=', 'A=h:1', 'a=h', 'a=h:123456', 'a=h h:1'])('rejects entry %p, showing it', (entry) => {
    expect(() => parsePeers(entry, 'KV_PEERS')).toThrow(new RegExp(`^KV_PEERS: entry ${JSON.stringify(entry).replace(/[[\]().*+?^$]/g, '\\$&')} is not id=host:port`));
  });

  test('rejects a node id listed twice', () => {
    expect(() => parsePeers('a=h:1,a=h:2', 'src')).toThrow(new ConfigError('src: node id a appears twice'));
  });
});

describe('the settings table', () => {
  test('names each setting once, its variable after its flag', () => {
    expect(new Set(SETTINGS.map((s) => s.key)).size).toBe(SETTINGS.length);
    for (const s of SETTINGS) expect(s.env).toBe(`KV_${s.flag.toUpperCase().replace(/-/g, '_')}`);
  });

  test('answers lookups by key for the chart, the deployment config and the CLI', () => {
    expect(settingEnv('nodeId')).toBe('KV_NODE_ID');
    expect(settingDefault('n')).toBe('3');
    expect(settingDefault('nodeId')).toBeUndefined();
    expect([intDefault('n'), intDefault('r'), intDefault('w'), intDefault('partitions'), intDefault('port'), intDefault('metricsPort')]).toEqual([3, 2, 2, 64, 7001, 9464]);
    expect(intSetting('n')).toMatchObject({ env: 'KV_N', min: 1, max: 16 });
    expect(enumSetting('durability')).toMatchObject({ default: 'durable', values: ['durable', 'relaxed'] });
  });
});
