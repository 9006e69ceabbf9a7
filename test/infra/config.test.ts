import { intDefault, intSetting } from '../../app/node/config';
import { checkStoreQuorum, ConfigError, KUBERNETES_VERSION, loadConfig, PLACEHOLDER_ACCOUNT, PLACEHOLDER_IMAGE_TAG, PROFILES } from '../../lib/config';
import { OBSERVABILITY_SIZING } from '../../observability/sizing';
import { configFrom, TEST_ACCOUNT } from './helpers';

describe('deployment config', () => {
  test('dev profile: one NAT gateway, three explicit zones of the region, pinned Kubernetes version', () => {
    const config = configFrom({ profile: 'dev' });
    expect(config.profile).toBe('dev');
    expect(config.natGateways).toBe(1);
    expect(config.availabilityZones).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
    expect(config.kubernetesVersion).toBe(KUBERNETES_VERSION);
    expect(config.stackPrefix).toBe('KvDev');
  });

  test('the read-only jobs have a GitHub environment of their own, <githubEnvironment>-read unless given', () => {
    expect(configFrom({ profile: 'dev' })).toMatchObject({ githubEnvironment: 'dev', githubReadEnvironment: 'dev-read' });
    expect(configFrom({ profile: 'prod' })).toMatchObject({ githubEnvironment: 'prod', githubReadEnvironment: 'prod-read' });
    expect(configFrom({ profile: 'prod', githubEnvironment: 'production' }).githubReadEnvironment).toBe('production-read');
    expect(configFrom({ profile: 'prod', githubReadEnvironment: 'prod-diff' }).githubReadEnvironment).toBe('prod-diff');
  });

  test('prod profile: one NAT gateway per zone and more nodes than dev', () => {
    const dev = configFrom({ profile: 'dev' });
    const prod = configFrom({ profile: 'prod' });
    expect(prod.natGateways).toBe(3);
    expect(prod.nodeGroups.desiredSizePerZone).toBeGreaterThan(dev.nodeGroups.desiredSizePerZone);
    expect(prod.store.replicas).toBeGreaterThanOrEqual(prod.store.n);
  });

  test('defaults to dev and to the placeholder account, so synth needs no credentials', () => {
    const config = loadConfig({ context: () => undefined, env: {} });
    expect(config.profile).toBe('dev');
    expect(config.account).toBe(PLACEHOLDER_ACCOUNT);
  });

  test('context overrides the environment, and the environment overrides the placeholder', () => {
    const tagged = (k: string) => (k === 'imageTag' ? 'abc123' : undefined);
    const fromEnv = loadConfig({ context: tagged, env: { CDK_DEFAULT_ACCOUNT: '999988887777', CDK_DEFAULT_REGION: 'us-west-2' } });
    expect([fromEnv.account, fromEnv.region]).toEqual(['999988887777', 'us-west-2']);
    const ctx: Record<string, string> = { account: '123456789012', imageTag: 'abc123' };
    const fromContext = loadConfig({ context: (k) => ctx[k], env: { CDK_DEFAULT_ACCOUNT: '999988887777' } });
    expect(fromContext.account).toBe('123456789012');
  });

  test('parses shell-style context strings into numbers, lists and booleans', () => {
    const config = configFrom({
      nodesPerZone: '2',
      nodesPerZoneMax: '5',
      endpointPublicCidrs: '203.0.113.0/24, 198.51.100.7/32',
      createGithubOidcProvider: 'false',
      githubRepository: 'acme/kv',
    });
    expect(config.nodeGroups.desiredSizePerZone).toBe(2);
    expect(config.nodeGroups.maxSizePerZone).toBe(5);
    expect(config.endpointPublicCidrs).toEqual(['203.0.113.0/24', '198.51.100.7/32']);
    expect(config.createGithubOidcProvider).toBe(false);
    expect(config.githubRepository).toBe('acme/kv');
  });

  test('the monitoring stack: dev traces a tenth of operations on one Elasticsearch node, prod a hundredth on three', () => {
    const dev = configFrom({ profile: 'dev' }).observability;
    const prod = configFrom({ profile: 'prod' }).observability;
    expect(dev).toEqual({
      traceSampleRatio: 0.1,
      prometheusRetentionDays: OBSERVABILITY_SIZING.dev.prometheus.retentionDays,
      prometheusStorageGiB: OBSERVABILITY_SIZING.dev.prometheus.storageGiB,
      elasticsearchNodes: 1,
      elasticsearchStorageGiB: OBSERVABILITY_SIZING.dev.elasticsearch.storageGiB,
      traceRetentionDays: OBSERVABILITY_SIZING.dev.traceRetentionDays,
      nodeLogRetentionDays: OBSERVABILITY_SIZING.dev.nodeLogRetentionDays,
    });
    expect(prod).toMatchObject({ traceSampleRatio: 0.01, elasticsearchNodes: 3 });
    expect(prod.prometheusRetentionDays).toBeGreaterThan(dev.prometheusRetentionDays);
    expect(prod.elasticsearchStorageGiB).toBeGreaterThan(dev.elasticsearchStorageGiB);
  });

  test('every monitoring knob can be overridden from the command line', () => {
    const config = configFrom({
      traceSampleRatio: '0.05',
      prometheusRetentionDays: '30',
      prometheusStorageGiB: '200',
      elasticsearchNodes: '5',
      elasticsearchStorageGiB: '500',
      traceRetentionDays: '7',
      nodeLogRetentionDays: '21',
    });
    expect(config.observability).toEqual({
      traceSampleRatio: 0.05,
      prometheusRetentionDays: 30,
      prometheusStorageGiB: 200,
      elasticsearchNodes: 5,
      elasticsearchStorageGiB: 500,
      traceRetentionDays: 7,
      nodeLogRetentionDays: 21,
    });
    // 0 turns tracing off; a number from cdk.json is taken as it is.
    expect(configFrom({ traceSampleRatio: '0' }).observability.traceSampleRatio).toBe(0);
    expect(configFrom({ traceSampleRatio: 1 }).observability.traceSampleRatio).toBe(1);
  });

  test('Chaos Mesh: on in dev, off in prod, either way from the command line', () => {
    expect(configFrom({ profile: 'dev' }).chaosMesh).toBe(true);
    expect(configFrom({ profile: 'prod' }).chaosMesh).toBe(false);
    expect(configFrom({ profile: 'dev', chaosMesh: 'false' }).chaosMesh).toBe(false);
    expect(configFrom({ profile: 'prod', chaosMesh: 'true' }).chaosMesh).toBe(true);
    // A boolean from cdk.json is taken as it is.
    expect(configFrom({ profile: 'prod', chaosMesh: true }).chaosMesh).toBe(true);
  });

  test('TLS for the store: off in dev, on in prod, either way from the command line', () => {
    expect(configFrom({ profile: 'dev' }).store.tls).toBe(false);
    expect(configFrom({ profile: 'prod' }).store.tls).toBe(true);
    expect(configFrom({ profile: 'dev', tls: 'true' }).store.tls).toBe(true);
    expect(configFrom({ profile: 'prod', tls: 'false' }).store.tls).toBe(false);
    expect(() => configFrom({ tls: 'yes please' })).toThrow(/"tls"/);
  });

  test('imageTag has no default with a real account; the placeholder account gets the placeholder tag', () => {
    expect(configFrom({ imageTag: 'abc123' }).store.imageTag).toBe('abc123');
    expect(() => configFrom({ imageTag: undefined })).toThrow(
      new ConfigError('imageTag', undefined, `required with account ${TEST_ACCOUNT}: pass -c imageTag=<the git SHA of an image pushed to the registry> (the deploy workflow passes the commit's SHA)`),
    );
    // Synth in CI and on a laptop without credentials: the placeholder account and tag.
    expect(loadConfig({ context: () => undefined, env: {} }).store.imageTag).toBe(PLACEHOLDER_IMAGE_TAG);
    // Credentials in the environment make the account real, and the tag required.
    expect(() => loadConfig({ context: () => undefined, env: { CDK_DEFAULT_ACCOUNT: '999988887777' } })).toThrow(/"imageTag" is undefined; required with account 999988887777/);
  });

  test('the volume claim template keeps each profile\'s creation size while storageGiB grows the volumes', () => {
    expect(configFrom({ profile: 'dev' }).store).toMatchObject({ storageGiB: 20, volumeClaimGiB: 20 });
    expect(configFrom({ profile: 'prod' }).store).toMatchObject({ storageGiB: 200, volumeClaimGiB: 200 });
    expect(configFrom({ profile: 'prod', storageGiB: '500' }).store).toMatchObject({ storageGiB: 500, volumeClaimGiB: 200 });
    // A new cluster with smaller volumes sets both.
    expect(configFrom({ storageGiB: '10', volumeClaimGiB: '10' }).store).toMatchObject({ storageGiB: 10, volumeClaimGiB: 10 });
  });

  test('the result is frozen', () => {
    const config = configFrom();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.store)).toBe(true);
  });

  test.each([
    [{ profile: 'staging' }, /"profile" is "staging"; allowed: dev, prod/],
    [{ natGateways: '2' }, /"natGateways" is 2; allowed: 1 \(one shared NAT gateway\) or 3 \(one per zone\)/],
    [{ account: '1234' }, /"account" is "1234"; expected a 12-digit AWS account id/],
    [{ region: 'Europe' }, /"region" is "Europe"/],
    [{ availabilityZones: 'eu-west-1a,eu-west-1b' }, /"availabilityZones" is "eu-west-1a,eu-west-1b"; expected exactly three distinct zones/],
    [{ availabilityZones: 'eu-west-1a,eu-west-1b,us-east-1a' }, /"availabilityZones" is "us-east-1a"; expected zones of eu-west-1/],
    [{ vpcCidr: '10.0.0.0/8' }, /"vpcCidr" is "10.0.0.0\/8"/],
    [{ endpointPublicCidrs: '0.0.0.0/0' }, /"endpointPublicCidrs" is "0.0.0.0\/0"; expected specific IPv4 CIDRs \(never \/0\)/],
    [{ adminRoleArn: 'admin' }, /"adminRoleArn" is "admin"; expected an IAM role ARN/],
    [{ nodesPerZone: 'two' }, /"nodesPerZone" is "two"; expected an integer/],
    [{ nodesPerZone: '3', nodesPerZoneMax: '2' }, /"nodesPerZoneMax" is 2; expected 3 \(nodesPerZone\) to 50/],
    [{ replicas: '2' }, /"replicas" is 2; expected 3 \(the replication factor N\) to 64/],
    [{ replicas: '4' }, /"replicas" is 4; expected at most 3, the worker hosts \(3 zones × nodesPerZone 1\): the store runs one pod a host; raise nodesPerZone/],
    [{ profile: 'prod', replicas: '7' }, /"replicas" is 7; expected at most 6, the worker hosts/],
    [{ logRetentionDays: '10' }, /"logRetentionDays" is 10; allowed: 1, 3, 5/],
    [{ githubRepository: 'acme/*' }, /"githubRepository" is "acme\/\*"; expected "owner\/repo" with no wildcards/],
    [{ backupPrefix: 'a/b' }, /"backupPrefix" is "a\/b"/],
    [{ createGithubOidcProvider: 'yes' }, /"createGithubOidcProvider" is "yes"; expected true or false/],
    [{ traceSampleRatio: '1.5' }, /"traceSampleRatio" is 1.5; expected 0 \(tracing off\) to 1 \(every operation\)/],
    [{ traceSampleRatio: '10%' }, /"traceSampleRatio" is "10%"; expected a number such as 0.05/],
    [{ prometheusRetentionDays: '0' }, /"prometheusRetentionDays" is 0; expected 1 to 365 days/],
    [{ prometheusStorageGiB: '1' }, /"prometheusStorageGiB" is 1; expected 2 to 16384 GiB/],
    [{ elasticsearchNodes: '2' }, /"elasticsearchNodes" is 2; expected 1 \(no redundancy\) or 3 to 15/],
    [{ elasticsearchStorageGiB: 'lots' }, /"elasticsearchStorageGiB" is "lots"; expected an integer/],
    [{ traceRetentionDays: '366' }, /"traceRetentionDays" is 366; expected 1 to 365 days/],
    [{ nodeLogRetentionDays: '-1' }, /"nodeLogRetentionDays" is -1; expected 1 to 365 days/],
    [{ chaosMesh: 'yes' }, /"chaosMesh" is "yes"; expected true or false/],
    [{ storageGiB: '10' }, /"storageGiB" is 10; expected at least 20 \(volumeClaimGiB, the size the volumes were created with\): a volume grows but never shrinks; for a new cluster with smaller volumes set volumeClaimGiB to the same size/],
    [{ volumeClaimGiB: '0' }, /"volumeClaimGiB" is 0; expected 1 to 16384 GiB: the size the store's StatefulSet was created with/],
    [{ imageTag: 'latest' }, /"imageTag" is "latest"; expected the tag of one build, such as its git SHA: the repository's tags are immutable/],
    [{ imageTag: 'feature/x' }, /"imageTag" is "feature\/x"; expected a Docker tag/],
    [{ profile: 'prod', githubReadEnvironment: 'prod' }, /"githubReadEnvironment" is "prod"; expected a GitHub environment name \(\[A-Za-z0-9_-\]\) other than githubEnvironment \(prod\), such as prod-read/],
    [{ githubReadEnvironment: 'dev read' }, /"githubReadEnvironment" is "dev read"; expected a GitHub environment name/],
  ])('rejects %j with a message naming the key, the value and what is allowed', (context, message) => {
    expect(() => configFrom(context)).toThrow(ConfigError);
    expect(() => configFrom(context)).toThrow(message);
  });

  test('N, R, W and partitions default to the node\'s own defaults', () => {
    for (const profile of Object.keys(PROFILES) as (keyof typeof PROFILES)[]) {
      const { store } = configFrom({ profile });
      expect(store).toMatchObject({ n: intDefault('n'), r: intDefault('r'), w: intDefault('w'), partitions: intDefault('partitions') });
    }
  });

  test.each([
    [{ n: intSetting('n').max + 1, r: 2, w: 2, partitions: 64 }, new RegExp(`"store.n" is ${intSetting('n').max + 1}; expected 1 to ${intSetting('n').max}, the bounds of the node's KV_N`)],
    [{ n: 3, r: 4, w: 2, partitions: 64 }, /"store.r" is 4; expected 1 to N \(3\), the bounds of the node's KV_R/],
    [{ n: 3, r: 2, w: 0, partitions: 64 }, /"store.w" is 0; expected 1 to N \(3\)/],
    [{ n: 3, r: 2, w: 2, partitions: 48 }, /"store.partitions" is 48; expected a power of two, such as 64/],
  ])('rejects a profile store of %j with the node\'s bound in the message', (store, message) => {
    expect(() => checkStoreQuorum(store)).toThrow(ConfigError);
    expect(() => checkStoreQuorum(store)).toThrow(message);
  });
});
