/**
 * A deploy-time check that an image tag exists in its ECR repository: a custom resource that calls
 * ECR DescribeImages when it is created and whenever the tag changes, and fails the deployment with
 * a message naming the tag, the repository and the fix when the image is not there. Whatever depends
 * on it (the store's chart) is applied only once it passed, so a missing image is a failed, rolled
 * back deployment, not pods in ImagePullBackOff behind a stack that reports success.
 */
import { CustomResource, Duration } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export interface ImageTagCheckProps {
  /** The repository the tag must be in. */
  readonly repository: ecr.IRepository;
  /** The tag the deployment runs. */
  readonly tag: string;
}

/** The custom resource's type, as CloudFormation shows it in the stack's events. */
export const IMAGE_TAG_CHECK_RESOURCE_TYPE = 'Custom::KvImageTagCheck';

/**
 * The handler, inline (no asset to bundle). CommonJS for the Lambda Node.js runtime, whose AWS SDK v3
 * provides @aws-sdk/client-ecr. The Provider framework turns a thrown error into a FAILED response
 * whose reason is the error's message. Its only input is the resource's properties.
 */
export const IMAGE_TAG_CHECK_HANDLER = `
const { ECRClient, DescribeImagesCommand } = require('@aws-sdk/client-ecr');
const ecr = new ECRClient({});
exports.handler = async (event) => {
  const repository = event.ResourceProperties.RepositoryName;
  const tag = event.ResourceProperties.ImageTag;
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  let found;
  try {
    found = await ecr.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }] }));
  } catch (error) {
    if (error.name !== 'ImageNotFoundException') throw error;
  }
  const digest = found && found.imageDetails && found.imageDetails[0] && found.imageDetails[0].imageDigest;
  if (!digest) {
    throw new Error('imageTag is ' + JSON.stringify(tag) + ', which is not in the ECR repository ' + repository +
      ': push that image first (the deploy workflow pushes the commit it deploys, tagged with its SHA), or deploy with' +
      ' -c imageTag=<a tag the repository has>; aws ecr describe-images --repository-name ' + repository + ' lists them.');
  }
  return { PhysicalResourceId: repository + ':' + tag, Data: { ImageDigest: digest } };
};
`;

export class ImageTagCheck extends Construct {
  /** Make the resources that run the image depend on this. */
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: ImageTagCheckProps) {
    super(scope, id);
    if (!/^[\w][\w.-]{0,127}$/.test(props.tag)) {
      throw new Error(`ImageTagCheck: tag is ${JSON.stringify(props.tag)}; use a Docker tag ([A-Za-z0-9_.-], at most 128), such as the git SHA the image was built from.`);
    }

    const handler = new lambda.Function(this, 'Handler', {
      description: 'Fails the deployment when the node image tag is not in its ECR repository',
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(IMAGE_TAG_CHECK_HANDLER),
      timeout: Duration.seconds(30),
    });
    props.repository.grant(handler, 'ecr:DescribeImages');
    const provider = new cr.Provider(this, 'Provider', { onEventHandler: handler });
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: IMAGE_TAG_CHECK_RESOURCE_TYPE,
      properties: { RepositoryName: props.repository.repositoryName, ImageTag: props.tag },
    });
  }
}
