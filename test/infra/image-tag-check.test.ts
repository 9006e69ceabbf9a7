/**
 * The deploy-time image-tag check: its inline handler run here against a stub ECR client (what
 * Lambda would run, word for word), and the construct's resources.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { IMAGE_TAG_CHECK_HANDLER, IMAGE_TAG_CHECK_RESOURCE_TYPE, ImageTagCheck } from '../../constructs/aws/image-tag-check';
import { newApp } from './helpers';

interface DescribeImagesInput {
  readonly repositoryName: string;
  readonly imageIds: readonly { readonly imageTag: string }[];
}
type Handler = (event: Record<string, unknown>) => Promise<{ PhysicalResourceId: string; Data?: Record<string, string> }>;

/** The handler, loaded with a stub of @aws-sdk/client-ecr that answers from `images` (tag -> digest). */
function loadHandler(images: Record<string, string>, failure?: Error): { handler: Handler; calls: DescribeImagesInput[] } {
  const calls: DescribeImagesInput[] = [];
  class DescribeImagesCommand {
    constructor(readonly input: DescribeImagesInput) {}
  }
  class ECRClient {
    async send(command: DescribeImagesCommand): Promise<unknown> {
      calls.push(command.input);
      if (failure) throw failure;
      const tag = command.input.imageIds[0]!.imageTag;
      const digest = images[tag];
      if (digest === undefined) throw Object.assign(new Error(`The image with imageId {imageTag:'${tag}'} does not exist`), { name: 'ImageNotFoundException' });
      return { imageDetails: [{ imageDigest: digest, imageTags: [tag] }] };
    }
  }
  const stubRequire = (name: string): unknown => {
    if (name !== '@aws-sdk/client-ecr') throw new Error(`the handler required ${name}; Lambda's runtime provides only the AWS SDK`);
    return { ECRClient, DescribeImagesCommand };
  };
  const module = { exports: {} as { handler?: Handler } };
  new Function('require', 'module', 'exports', IMAGE_TAG_CHECK_HANDLER)(stubRequire, module, module.exports);
  return { handler: module.exports.handler!, calls };
}

const event = (requestType: string, tag: string) => ({
  RequestType: requestType,
  PhysicalResourceId: 'kv-node:old',
  ResourceProperties: { ServiceToken: 'arn', RepositoryName: 'kv-node', ImageTag: tag },
});

describe('image-tag check handler', () => {
  const DIGEST = 'sha256:0f1e2d';

  test.each(['Create', 'Update'])('%s: passes when the repository has the tag, and returns its digest', async (type) => {
    const { handler, calls } = loadHandler({ abc123: DIGEST });
    await expect(handler(event(type, 'abc123'))).resolves.toEqual({ PhysicalResourceId: 'kv-node:abc123', Data: { ImageDigest: DIGEST } });
    expect(calls).toEqual([{ repositoryName: 'kv-node', imageIds: [{ imageTag: 'abc123' }] }]);
  });

  test.each(['Create', 'Update'])('%s: fails when the tag is not in the repository, naming the tag, the repository and the fix', async (type) => {
    const { handler } = loadHandler({ abc123: DIGEST });
    const result = handler(event(type, 'deadbeef'));
    await expect(result).rejects.toThrow('imageTag is "deadbeef", which is not in the ECR repository kv-node: push that image first');
    await expect(result).rejects.toThrow('-c imageTag=<a tag the repository has>; aws ecr describe-images --repository-name kv-node lists them.');
  });

  test('fails with ECR\'s own error when the call itself fails (no repository, no permission)', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: ecr:DescribeImages'), { name: 'AccessDeniedException' });
    const { handler } = loadHandler({}, denied);
    await expect(handler(event('Create', 'abc123'))).rejects.toThrow('not authorized to perform: ecr:DescribeImages');
  });

  test('Delete checks nothing: removing the check must never fail a stack', async () => {
    const { handler, calls } = loadHandler({});
    await expect(handler(event('Delete', 'gone'))).resolves.toEqual({ PhysicalResourceId: 'kv-node:old' });
    expect(calls).toEqual([]);
  });
});

describe('ImageTagCheck construct', () => {
  const stack = new Stack(newApp(), 'Check', { env: { account: '111122223333', region: 'eu-west-1' } });
  const repository = new ecr.Repository(stack, 'Repo');
  new ImageTagCheck(stack, 'Image', { repository, tag: 'abc123' });
  const template = Template.fromStack(stack);

  test('a custom resource of the repository and the tag, whose handler may only DescribeImages on that repository', () => {
    template.hasResourceProperties(IMAGE_TAG_CHECK_RESOURCE_TYPE, { RepositoryName: { Ref: stack.getLogicalId(repository.node.defaultChild as ecr.CfnRepository) }, ImageTag: 'abc123' });
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Code.ZipFile !== undefined);
    expect(fns).toHaveLength(1);
    expect(fns[0].Properties.Code.ZipFile).toBe(IMAGE_TAG_CHECK_HANDLER);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const ecrStatements = statements.filter((s) => JSON.stringify(s.Action).includes('ecr:'));
    expect(ecrStatements).toEqual([expect.objectContaining({ Action: 'ecr:DescribeImages', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Repo/), 'Arn'] } })]);
  });

  test('rejects a tag that is no Docker tag', () => {
    const other = new Stack(newApp(), 'Bad');
    expect(() => new ImageTagCheck(other, 'Image', { repository: new ecr.Repository(other, 'Repo'), tag: 'a b' })).toThrow('ImageTagCheck: tag is "a b"; use a Docker tag');
  });
});
