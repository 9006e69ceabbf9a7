/** Registry and delivery: the node image repository and the role GitHub Actions deploys with. */
import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { GitHubDeployRole } from '../constructs/aws/github-deploy-role';

export interface RegistryStackProps extends StackProps {
  /** GitHub "owner/repo" whose workflows may assume the deploy role. */
  readonly githubRepository: string;
  /** GitHub environment the deploy job runs in (its name appears in the OIDC subject). */
  readonly githubEnvironment: string;
  /**
   * Whether this stack creates the account's GitHub OIDC provider (only one may exist per account).
   * @default true - create it; pass false when the account already has one
   */
  readonly createGithubOidcProvider?: boolean;
}

/** How many tagged images the repository keeps (each deploy pushes one, tagged with the git SHA). */
export const IMAGES_KEPT = 50;
/** Days an untagged image (a superseded layer push) is kept. */
export const UNTAGGED_IMAGE_DAYS = 7;

export class RegistryStack extends Stack {
  public readonly repository: ecr.Repository;
  public readonly deployRole: iam.Role;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);

    this.repository = new ecr.Repository(this, 'NodeImages', {
      imageScanOnPush: true,
      // Immutable tags: a SHA tag always names the same image, so pods can use IfNotPresent.
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      // Images are cheap and are what running pods pull; deleting the stack must not break a cluster.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { rulePriority: 1, description: 'drop untagged layers', tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(UNTAGGED_IMAGE_DAYS) },
        { rulePriority: 2, description: `keep the last ${IMAGES_KEPT} images`, tagStatus: ecr.TagStatus.ANY, maxImageCount: IMAGES_KEPT },
      ],
    });

    const github = new GitHubDeployRole(this, 'GitHubDeploy', {
      repository: props.githubRepository,
      environment: props.githubEnvironment,
      createProvider: props.createGithubOidcProvider,
    });
    this.deployRole = github.role;

    // `cdk deploy` works by assuming the bootstrap roles (deploy, file and image publishing, lookup);
    // the deploy role needs nothing else for CloudFormation.
    this.deployRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeCdkBootstrapRoles',
        actions: ['sts:AssumeRole', 'sts:TagSession'],
        resources: [`arn:${this.partition}:iam::${this.account}:role/cdk-hnb659fds-*-${this.account}-${this.region}`],
      }),
    );
    // Push the node image.
    this.repository.grantPullPush(this.deployRole);

    new CfnOutput(this, 'RepositoryUri', { value: this.repository.repositoryUri });
    new CfnOutput(this, 'DeployRoleArn', { value: this.deployRole.roleArn });
  }
}
