import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildStacks } from './helpers';

// cdk-nag v3 runs as a policy-validation plugin: app.synth() throws when any finding is unacknowledged.
describe('cdk-nag AwsSolutions checks', () => {
  test.each(['dev', 'prod'])('the %s profile synthesizes with every finding acknowledged', (profile) => {
    const { app } = buildStacks({ profile, adminRoleArn: 'arn:aws:iam::111122223333:role/Admin' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  test('fails synth when a new finding appears that nobody acknowledged', () => {
    const { app, stacks } = buildStacks({ profile: 'dev' });
    // A wildcard grant no acknowledgement covers, the kind of change the checks exist to catch.
    const role = new iam.Role(stacks.backup, 'Careless', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
  });

  test('every acknowledgement carries a reason of at least a sentence', () => {
    const { stacks } = buildStacks({ profile: 'dev' });
    const acks: { id: string; reason: string }[] = [];
    for (const stack of Object.values(stacks) as Stack[]) {
      for (const c of stack.node.findAll()) {
        for (const m of c.node.metadata) {
          if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
          for (const [id, reason] of Object.entries(m.data as Record<string, unknown>)) acks.push({ id, reason: String(reason) });
        }
      }
    }
    expect(acks.length).toBeGreaterThan(5);
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(40);
  });
});
