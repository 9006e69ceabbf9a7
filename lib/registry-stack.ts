/**
 * Registry and delivery: the node image repository, the role GitHub Actions deploys with, and the
 * read-only role its `cdk diff` and rollout-check jobs use (docs/deploy.md, "How CI deploys").
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { GitHubDeployRole, GitHubReadRole } from '../constructs/aws/github-deploy-role';

export interface RegistryStackProps extends StackProps {
  /** GitHub "owner/repo" whose workflows may assume the deploy role. */
  readonly githubRepository: string;
  /** GitHub environment the deploy job runs in (its name appears in the OIDC subject). */
  readonly githubEnvironment: string;
  /**
   * GitHub environment of the jobs that only read (`cdk diff`, the rollout check); it must differ
   * from githubEnvironment, so that those jobs run without the deploy environment's approval and
   * the deploy role stays out of their reach.
   */
  readonly githubReadEnvironment: string;
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
  /** Assumed by the diff and rollout-check jobs: the CDK lookup role (read-only), and what other stacks grant. */
  public readonly readRole: iam.Role;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    super(scope, id, props);
    if (props.githubReadEnvironment === props.githubEnvironment) {
      throw new Error(
        `RegistryStack: githubReadEnvironment is ${JSON.stringify(props.githubReadEnvironment)}, the deploy environment; use an environment of its own (e.g. "${props.githubEnvironment}-read") so that the read-only jobs need no deploy approval.`,
      );
    }

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
    // Push the node image; DescribeImages tells the deploy job whether the tag is there already
    // (the repository's tags are immutable: a second push of a tag fails).
    this.repository.grantPullPush(this.deployRole);
    this.repository.grant(this.deployRole, 'ecr:DescribeImages');

    const read = new GitHubReadRole(this, 'GitHubRead', {
      repository: props.githubRepository,
      environment: props.githubReadEnvironment,
      providerArn: github.providerArn,
    });
    this.readRole = read.role;
    // `cdk diff --method template` reads the deployed templates through the CDK lookup role, which the
    // bootstrap stack gives ReadOnlyAccess; not the deploy, file-publishing or image-publishing roles.
    this.readRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeCdkLookupRole',
        actions: ['sts:AssumeRole', 'sts:TagSession'],
        resources: [`arn:${this.partition}:iam::${this.account}:role/cdk-hnb659fds-lookup-role-${this.account}-${this.region}`],
      }),
    );

    new CfnOutput(this, 'RepositoryUri', { value: this.repository.repositoryUri });
    new CfnOutput(this, 'DeployRoleArn', { value: this.deployRole.roleArn });
    new CfnOutput(this, 'ReadRoleArn', { value: this.readRole.roleArn });
  }
}
